"""The command-line flags of the tools that run networks, and the defaults they name, importable without torch.

``scripts/tiled_infer.py``, ``evaluate.py``, ``serve.py``, ``export_onnx.py``, ``check_pairs.py``,
``make_lmdb.py`` and ``benchmark.py`` build their parsers from this
file alone, loaded by path (``runpy.run_path``) before the package is imported, so that ``--help`` and argument
errors answer at once instead of after torch and basicsr have loaded (6-8 s). It imports nothing but the
standard library; the package imports the same names from here (``inference.network_args``,
``inference.postprocess``, ``inference.settings``, ``utils.tiling``, ``inference.sharding``, ``serve.app``,
``prep.pair_checks``, ``data.lmdb_io``, ``benchmark.folds``), so
each default is written once.
"""

# The tiling every caller starts from: validation (val.tile), tiled_infer.py and evaluate.py flags.
TILE_DEFAULTS = {'size': 512, 'overlap': 64, 'batch': 4, 'border_pad': 0}
PRECISIONS = {'fp32': None, 'bf16': 'bfloat16', 'fp16': 'float16'}  # --precision -> the torch autocast dtype
TLC_DEFAULT = True  # InferenceSettings.tlc without an option file
MATCH_LAB = 'match-lab'
OUTPUT_FORMATS = ('jpeg', 'png', 'same')  # tiled_infer.py --format, the service's ?format= (utils.photo_formats)
LAUNCHERS = ('none', 'pytorch', 'slurm')  # how tiled_infer.py shares photos among processes
BASELINE_NAMES = ('input', 'auto_correct')  # evaluate.py's rows that need no network
LMDB_ENCODINGS = ('png', 'jpg', 'raw')  # how make_lmdb.py stores each image
BENCHMARK_SPLITS = ('test', 'val')  # benchmark.py --split: what each fold scores (benchmark.folds)
# scripts/check_pairs.py and make_lmdb.py: CheckThresholds (prep.pair_checks) and one flag per entry
PAIR_CHECK_THRESHOLDS = {
    'work_size': 512,                   # long side, in pixels, the tone measures run at
    'align_size': 1600,                 # long side, in pixels, of the finest alignment measurement
    'max_shift_px': 1.0,                # displacement of the image centre, full-resolution px
    'max_turn_px': 2.0,                 # displacement rotation + scale cause at the corners, full-resolution px
                                        # (on a 3300x2200 photo 2 px = 0.06 deg or a scale change of 0.1 %)
    'confidence_sigmas': 3.0,           # flag only when value - k * uncertainty is above the threshold
    'min_region_confidence': 0.06,      # correlation peak height of a usable region (unrelated regions: ~0.01)
    'min_tone_r2': 0.6,                 # R^2 of tar_Y against the best monotone curve of src_Y
    'brightness_z': 3.5,                # robust z (median / MAD of the other pairs) of tar mean Y ...
    'min_brightness_difference': 0.3,   # ... and at least this far from their median, both to flag
    'min_pairs_for_stats': 5,           # fewer pairs: no brightness-outlier test
    'max_darkening_stops': 0.25,        # tar's mean brightness below src's by more than this many stops: flagged
    'shadow_percentile': 25.0,          # shadows = src pixels at or below this percentile of src Y
    'max_shadow_darkening_stops': 0.4,  # src's shadows darker in tar by more than this many stops: flagged
    'max_crushed_shadows': 0.5,         # fraction of src shadow detail that tar turns black
    'min_sharpness_ratio': 0.35,        # detail per unit contrast, tar / src
    'dup_max_hamming': 6,               # 64-bit difference hashes this close are the same photo
}
# scripts/serve.py flags and ServeConfig fields of the same names
SERVICE_DEFAULTS = {'max_batch': 4, 'max_wait_ms': 10.0, 'queue_size': 32, 'timeout_s': 120.0,
                    'max_bytes': 50 * 1024 * 1024, 'max_megapixels': 40.0, 'quality': 95, 'io_threads': 2}

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
    # the architecture flags default to None, so that a flag given is known: with a checkpoint that records its
    # network_g, a given one must agree with the record (network_args.network_opt_from_args)
    group.add_argument('--arch', default=None,
                       help='network type when no --opt and the checkpoint records none (default: NAFNet); with a '
                       'checkpoint that records its network, these flags must agree with it')
    group.add_argument('--width', type=int, default=None, help='NAFNet width (default: 32)')
    group.add_argument('--middle-blk-num', type=int, default=None, help='blocks at the lowest level (default: 12)')
    group.add_argument('--enc-blks', type=int, nargs='+', default=None,
                       help='encoder blocks per level (default: 2 2 4 8)')
    group.add_argument('--dec-blks', type=int, nargs='+', default=None,
                       help='decoder blocks per level (default: 2 2 2 2)')
    group.add_argument('--param-key', choices=['params', 'params_ema'],
                       help='checkpoint entry to load (default: params_ema, else params, else a bare state_dict)')
    if with_tlc:
        default = TLC_DEFAULT
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
    run.add_argument('--precision', choices=sorted(PRECISIONS), default=None,
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
    run.add_argument('--strength', type=float, default=None, metavar='S',
                     help='0..1: how far to go from the input (0) to the network\'s edit (1). Whole-photo networks '
                     '(bilateral grid, 3D LUT) scale the edit itself (transforms, LUTs toward the identity); others '
                     'blend pixels, (1 - S) input + S output (default: 1)')
    return run



def add_postprocess_args(parser):
    """The post-processing flags, one group, shared by every tool that runs a network."""
    group = parser.add_argument_group('post-processing after the network (off by default; docs/models.md)')
    group.add_argument('--postprocess', choices=['none', MATCH_LAB], default='none',
                       help=f'{MATCH_LAB}: move each CIELAB channel\'s histogram onto --reference\'s (default: none)')
    group.add_argument('--reference', metavar='PHOTO|STATS.json',
                       help=f'with --postprocess {MATCH_LAB}: a target-style photo, or a set\'s mean histogram '
                       'written by scripts/make_lab_reference.py')
    group.add_argument('--match-strength', type=float, default=1.0,
                       help='0..1: how far to move the histograms (default: 1, the full match)')
    group.add_argument('--saturation', type=float, default=0.0,
                       help='chroma gain - 1 for every colour, after any matching: 0.1 = +10%% (default: 0)')
    group.add_argument('--vibrance', type=float, default=0.0,
                       help='extra chroma gain for muted colours, none for vivid ones: 0.2 = up to +20%% '
                       '(default: 0)')
    return group


def add_photo_tool_args(parser):
    """The flags every tool that runs a network on photos offers, in this order: the network, how it runs, the
    post-processing (evaluate.py, serve.py; tiled_infer.py calls the three itself, to add its decode/encode flags
    to the running group before the post-processing ones). Returns the running group."""
    add_network_args(parser)
    running = add_running_args(parser)
    add_postprocess_args(parser)
    return running


def add_threshold_arguments(parser):
    """One ``--option`` per entry of ``PAIR_CHECK_THRESHOLDS`` (``max_shift_px`` -> ``--max-shift-px``), defaults
    shown; ``prep.pair_checks.thresholds_from_args`` reads them back."""
    group = parser.add_argument_group('check thresholds')
    for name, default in PAIR_CHECK_THRESHOLDS.items():
        group.add_argument('--' + name.replace('_', '-'), type=type(default), default=default,
                           help=f'(default {default})')
