"""Command-line flags that name a network and how it runs, shared by tiled_infer.py, evaluate.py,
export_onnx.py and bench_infer.py.

A network comes from ``--opt`` (a BasicSR option file's ``network_g``) or from
architecture flags; the weights from ``--model`` (BasicSR ``params``/``params_ema``,
an official NAFNet release file or a bare state_dict).
"""
from realestate_sr.inference.engines import AMP_DTYPES, network_opt_from_flags
from realestate_sr.utils.network_loading import build_inference_network, network_opt_from_yaml, \
    tlc_without_effect
from realestate_sr.utils.tiling import TILE_DEFAULTS


def add_network_args(parser, with_tlc=True):
    group = parser.add_argument_group('network (from --opt YAML, else from the architecture flags)')
    group.add_argument('--opt', help='BasicSR option file whose network_g (and datasets.train.gt_size) to use')
    group.add_argument('--arch', default='NAFNet', help='network type when no --opt (default: NAFNet)')
    group.add_argument('--width', type=int, default=32, help='NAFNet width (default: 32)')
    group.add_argument('--middle-blk-num', type=int, default=12, help='blocks at the lowest level (default: 12)')
    group.add_argument('--enc-blks', type=int, nargs='+', default=[2, 2, 4, 8], help='encoder blocks per level')
    group.add_argument('--dec-blks', type=int, nargs='+', default=[2, 2, 2, 2], help='decoder blocks per level')
    group.add_argument('--param-key', choices=['params', 'params_ema'],
                       help='checkpoint entry to load (default: params_ema, else params, else a bare state_dict)')
    if with_tlc:
        group.add_argument('--tlc', action='store_true', default=True,
                           help='NAFNetLocal: channel attention over a training-sized window (default)')
        group.add_argument('--no-tlc', dest='tlc', action='store_false', help='plain NAFNet (global attention)')
    group.add_argument('--train-size', type=int, default=None,
                       help='training patch side that sets the TLC window (default: the YAML gt_size, else 256)')
    return group


def add_running_args(parser):
    """Device, precision and tiling flags; returns the group so a script can add its own."""
    run = parser.add_argument_group('running')
    run.add_argument('--device', default='auto', help='auto (CUDA when available, else CPU), cpu, cuda, cuda:1')
    run.add_argument('--precision', choices=sorted(AMP_DTYPES), default='fp32',
                     help='fp32 (default); bf16 or fp16 autocast on a GPU')
    run.add_argument('--tile-size', type=int, default=TILE_DEFAULTS['size'],
                     help='tile side in pixels (default: %(default)s)')
    run.add_argument('--overlap', type=int, default=TILE_DEFAULTS['overlap'],
                     help='pixels blended between tiles (default: %(default)s)')
    run.add_argument('--tile-batch', type=int, default=TILE_DEFAULTS['batch'],
                     help='tiles per network call (default: %(default)s)')
    run.add_argument('--border-pad', type=int, default=TILE_DEFAULTS['border_pad'],
                     help='reflect-pad the photo by this many pixels before tiling (default %(default)s: the '
                     'network zero-pads at the border, as in training and whole-image inference)')
    return run


def network_opt_and_train_size(args):
    """(network_opt, train_size N,C,H,W or None) from ``--opt`` or the architecture flags."""
    if args.opt:
        network_opt, train_size = network_opt_from_yaml(args.opt)
    else:
        network_opt = network_opt_from_flags(args.arch, args.width, args.middle_blk_num, args.enc_blks, args.dec_blks)
        train_size = None
    if args.train_size:
        train_size = (1, network_opt.get('img_channel', 3), args.train_size, args.train_size)
    return network_opt, train_size


def build_network_from_args(args, checkpoint, device='cpu', tlc=None):
    """The inference network the flags describe, with ``checkpoint`` loaded, in eval mode on ``device``."""
    network_opt, train_size = network_opt_and_train_size(args)
    tlc = getattr(args, 'tlc', False) if tlc is None else tlc
    is_nafnet = network_opt['type'] in ('NAFNet', 'NAFNetLocal')
    return build_inference_network(network_opt, checkpoint, tlc=tlc if is_nafnet else None, train_size=train_size,
                                   param_key=args.param_key, device=device)


def tlc_note_for_args(args, network_opt, train_size):
    """Why TLC, though switched on, computes what plain NAFNet does at these flags' tile size; None when it acts,
    is off, tiles are off (``--tile-size 0``) or the network is not a NAFNet."""
    if not (getattr(args, 'tlc', False) and args.tile_size and network_opt['type'] in ('NAFNet', 'NAFNetLocal')):
        return None
    return tlc_without_effect(args.tile_size, network_opt, train_size)


def tlc_warning(note):
    return (f'warning: TLC has no effect: {note}. For TLC use a --tile-size above the window or 0 (whole photos); '
            'else --no-tlc.')
