"""Command-line flags that name a network and how it runs, shared by tiled_infer.py, evaluate.py,
export_onnx.py and speed_infer.py.

A network comes from ``--opt`` (a BasicSR option file's ``network_g``), else from the checkpoint's record of
how it was trained (``realestate_sr.inference.trained_with``), else from architecture flags; the weights from
``--model`` (BasicSR ``params``/``params_ema``, an official NAFNet release file or a bare state_dict; an experiment
folder stands for its net_g_best.pth, else net_g_latest.pth: ``resolve_model_args``). ``--opt`` is read once
(``option_file_of``).
How it runs is an ``InferenceSettings`` built by ``settings_from_args``: flags given > ``--opt`` > the
checkpoint's record > defaults; an ``--opt`` that contradicts the record is refused.
Every flag that can override the option file therefore defaults to None ("not given"). The flags themselves
are defined in ``realestate_sr.utils.cli_flags`` (no torch there, so the tools' --help is instant) and
imported here with the rest.
"""
from realestate_sr.archs.network_loading import read_trained_with, resolve_checkpoint
from realestate_sr.inference.settings import InferenceSettings
from realestate_sr.inference.trained_with import (
    RECORDED_SETTINGS,
    check_architecture_flags,
    check_option_file,
    settings_from_record,
)
from realestate_sr.options import read_option_file
from realestate_sr.utils.cli_flags import SETTINGS_HELP, add_network_args, add_running_args  # noqa: F401


def resolve_model_args(args, say=print):
    """Replace each ``--model`` that names an experiment folder by its checkpoint (net_g_best.pth, else
    net_g_latest.pth), calling ``say`` with one line for each. ``args.model`` is one path, a list or None.
    Raises FileNotFoundError for a folder holding neither."""
    paths = args.model if isinstance(args.model, list) else [args.model] if args.model else []
    resolved = []
    for path in paths:
        checkpoint, note = resolve_checkpoint(path)
        if note:
            say(f'--model {note}')
        resolved.append(str(checkpoint))
    if isinstance(args.model, list):
        args.model = resolved
    elif args.model:
        args.model = resolved[0]


def option_file_of(args):
    """``--opt`` as an OptionFile (None without one), read on first use and kept as ``args.option_file``, so that
    a tool reads its option file once however often it asks, and when it first needs it (its usage errors come
    first). OptionFileError, naming the file, when it cannot be read as options."""
    if getattr(args, 'option_file', None) is None:
        args.option_file = read_option_file(args.opt) if args.opt else None
    return args.option_file


def network_opt_from_flags(arch='NAFNet', width=32, middle_blk_num=12, enc_blk_nums=(2, 2, 4, 8),
                           dec_blk_nums=(2, 2, 2, 2), img_channel=3):
    """A ``network_g`` dict from command-line architecture flags (defaults: NAFNet width 32, SIDD layout)."""
    return dict(type=arch, img_channel=img_channel, width=width, middle_blk_num=middle_blk_num,
                enc_blk_nums=list(enc_blk_nums), dec_blk_nums=list(dec_blk_nums))


# argparse name -> (flag, the network_g key it sets)
ARCHITECTURE_FLAGS = {'arch': ('--arch', 'type'), 'width': ('--width', 'width'),
                      'middle_blk_num': ('--middle-blk-num', 'middle_blk_num'),
                      'enc_blks': ('--enc-blks', 'enc_blk_nums'), 'dec_blks': ('--dec-blks', 'dec_blk_nums')}


def given_architecture_flags(args):
    """{flag: (network_g key, value)} of the architecture flags given (their defaults are None)."""
    return {flag: (key, getattr(args, name)) for name, (flag, key) in ARCHITECTURE_FLAGS.items()
            if getattr(args, name, None) is not None}


def network_opt_from_args(args, checkpoint=None):
    """The ``network_g`` block from ``--opt``, else the one ``checkpoint`` was trained with (when it records
    it; an architecture flag given that contradicts it raises OptionContradictionError), else the architecture
    flags given over the defaults (NAFNet width 32, SIDD layout)."""
    option_file = option_file_of(args)
    if option_file:
        return option_file.network_opt()
    given = given_architecture_flags(args)
    record = read_trained_with(checkpoint) if checkpoint else None
    if record is not None:
        check_architecture_flags(given, record)
        return record['network_g']
    return {**network_opt_from_flags(), **dict(given.values())}


def settings_from_args(args, checkpoint=None):
    """The InferenceSettings of these flags: each flag given wins over ``--opt``, which wins over the settings
    ``checkpoint`` records it was trained with, which win over the defaults.

    Raises OptionFileError for an unreadable ``--opt``, SettingsError for values that cannot run and
    OptionContradictionError for an ``--opt`` whose network_g or settings are not those ``checkpoint`` records.
    """
    record = read_trained_with(checkpoint) if checkpoint else None
    given = {name: getattr(args, name, None) for name in RECORDED_SETTINGS if name != 'train_size'}
    if getattr(args, 'train_size', None):
        channels = network_opt_from_args(args, checkpoint).get('img_channel', 3)
        given['train_size'] = (1, channels, args.train_size, args.train_size)
    option_file = option_file_of(args)
    if option_file:
        base = InferenceSettings.from_options(option_file.options, source=str(args.opt))
        if record is not None:
            check_option_file(args.opt, option_file.network_opt(), base, record,
                              given=[name for name, value in given.items() if value is not None])
    elif record is not None:
        base = settings_from_record(record, f'settings saved in {checkpoint}')
    else:
        base = InferenceSettings(source='script defaults')
    return base.overridden(**given, device=getattr(args, 'device', None), strength=getattr(args, 'strength', None))
