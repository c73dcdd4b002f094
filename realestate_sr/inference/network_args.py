"""Command-line flags that name a network and how it runs, shared by tiled_infer.py, evaluate.py,
export_onnx.py and bench_infer.py.

A network comes from ``--opt`` (a BasicSR option file's ``network_g``), else from the checkpoint's record of
how it was trained (``realestate_sr.inference.trained_with``), else from architecture flags; the weights from
``--model`` (BasicSR ``params``/``params_ema``, an official NAFNet release file or a bare state_dict).
How it runs is an ``InferenceSettings`` built by ``settings_from_args``: flags given > ``--opt`` > the
checkpoint's record > defaults; an ``--opt`` that contradicts the record is refused.
Every flag that can override the option file therefore defaults to None ("not given").
"""
from realestate_sr.archs.network_loading import network_opt_from_yaml, read_trained_with
from realestate_sr.inference.engines import AMP_DTYPES, network_opt_from_flags
from realestate_sr.inference.settings import InferenceSettings
from realestate_sr.inference.trained_with import RECORDED_SETTINGS, check_option_file, settings_from_record
from realestate_sr.utils.tiling import TILE_DEFAULTS

SETTINGS_HELP = ('With --opt, tiling and TLC default to its val block (val.tile, val.tlc), the precision to its '
                 'train.bf16 and the memory format to train.channels_last, as the training validation ran; flags '
                 'given here win, and "(default: ...)" below holds without --opt or when the file has no val '
                 'block. Without --opt, a checkpoint our training saved gives these from its record of the run. '
                 '--tile-size 0 runs whole photos (val.tile: ~).')


def add_network_args(parser, with_tlc=True):
    group = parser.add_argument_group('network (from --opt YAML, else from what the checkpoint records of its '
                                      'training, else from the architecture flags)', SETTINGS_HELP)
    group.add_argument('--opt', help='BasicSR option file whose network_g, val block and datasets.train.gt_size to '
                       'use (default: those a checkpoint our training saved records; an --opt that contradicts '
                       'them is refused)')
    group.add_argument('--arch', default='NAFNet',
                       help='network type when no --opt and the checkpoint records none (default: NAFNet)')
    group.add_argument('--width', type=int, default=32, help='NAFNet width (default: 32)')
    group.add_argument('--middle-blk-num', type=int, default=12, help='blocks at the lowest level (default: 12)')
    group.add_argument('--enc-blks', type=int, nargs='+', default=[2, 2, 4, 8], help='encoder blocks per level')
    group.add_argument('--dec-blks', type=int, nargs='+', default=[2, 2, 2, 2], help='decoder blocks per level')
    group.add_argument('--param-key', choices=['params', 'params_ema'],
                       help='checkpoint entry to load (default: params_ema, else params, else a bare state_dict)')
    if with_tlc:
        default = InferenceSettings().tlc
        group.add_argument('--tlc', action='store_true', default=None,
                           help='NAFNetLocal: channel attention over a training-sized window '
                           f'(default: val.tlc, else {"on" if default else "off"})')
        group.add_argument('--no-tlc', dest='tlc', action='store_false', help='plain NAFNet (global attention)')
    group.add_argument('--train-size', type=int, default=None,
                       help='training patch side that sets the TLC window (default: the YAML gt_size, else 256)')
    return group


def add_running_args(parser):
    """Device, precision and tiling flags; returns the group so a script can add its own."""
    run = parser.add_argument_group('running')
    run.add_argument('--device', default=None, help='auto (CUDA when available, else CPU; default), cpu, cuda, cuda:1')
    run.add_argument('--precision', choices=sorted(AMP_DTYPES), default=None,
                     help='fp32 (default, or bf16 when the YAML says train.bf16 and a GPU runs it: on a CPU, '
                     'where bf16 is ~10x slower, only when given here); bf16 or fp16 autocast')
    run.add_argument('--tile-size', type=int, default=None,
                     help=f'tile side in pixels, 0 for whole photos (default: val.tile, else {TILE_DEFAULTS["size"]})')
    run.add_argument('--overlap', type=int, default=None,
                     help=f'pixels blended between tiles (default: {TILE_DEFAULTS["overlap"]})')
    run.add_argument('--tile-batch', type=int, default=None,
                     help=f'tiles per network call (default: {TILE_DEFAULTS["batch"]})')
    run.add_argument('--border-pad', type=int, default=None,
                     help='reflect-pad the photo by this many pixels before tiling (default '
                     f'{TILE_DEFAULTS["border_pad"]}: the network zero-pads at the border, as in training and '
                     'whole-image inference)')
    run.add_argument('--channels-last', action='store_true', default=None,
                     help='NHWC memory format (default: train.channels_last, else off)')
    run.add_argument('--no-channels-last', dest='channels_last', action='store_false', help='NCHW memory format')
    return run


def network_opt_from_args(args, checkpoint=None):
    """The ``network_g`` block from ``--opt``, else the one ``checkpoint`` was trained with (when it records
    it), else the architecture flags."""
    if args.opt:
        return network_opt_from_yaml(args.opt)[0]
    record = read_trained_with(checkpoint) if checkpoint else None
    if record is not None:
        return record['network_g']
    return network_opt_from_flags(args.arch, args.width, args.middle_blk_num, args.enc_blks, args.dec_blks)


def settings_from_args(args, checkpoint=None):
    """The InferenceSettings of these flags: each flag given wins over ``--opt``, which wins over the settings
    ``checkpoint`` records it was trained with, which win over the defaults.

    Raises OSError / yaml.YAMLError for an unreadable ``--opt``, SettingsError for values that cannot run and
    OptionContradictionError for an ``--opt`` whose network_g or settings are not those ``checkpoint`` records.
    """
    record = read_trained_with(checkpoint) if checkpoint else None
    given = {name: getattr(args, name, None) for name in RECORDED_SETTINGS if name != 'train_size'}
    if getattr(args, 'train_size', None):
        channels = network_opt_from_args(args, checkpoint).get('img_channel', 3)
        given['train_size'] = (1, channels, args.train_size, args.train_size)
    if args.opt:
        base = InferenceSettings.from_option_file(args.opt)
        if record is not None:
            check_option_file(args.opt, network_opt_from_yaml(args.opt)[0], base, record,
                              given=[name for name, value in given.items() if value is not None])
    elif record is not None:
        base = settings_from_record(record, f'settings saved in {checkpoint}')
    else:
        base = InferenceSettings(source='script defaults')
    return base.overridden(**given, device=getattr(args, 'device', None))


def one_line(err):
    """An exception's message on one line, for a CLI's single error line: its lines joined by '; ', except after
    a line that introduces the next ones ('... does not fit NAFNet:'), which a space continues."""
    text = ''
    for part in (line.strip() for line in str(err).splitlines()):
        if part:
            text += ('' if not text else ' ' if text.endswith(':') else '; ') + part
    return text or type(err).__name__
