"""What a checkpoint records about how it was trained, and how the tools use that record.

EnhanceModel saves beside the weights of every ``net_g_*.pth`` (``checkpoint.TRAINED_WITH_KEY``), in plain
Python values so that ``torch.load(weights_only=True)`` reads it::

    trained_with:
      network_g: {type: BilateralGridNet, thumb_size: 128, ...}   # as trained, after --force_yml; whole-photo
                                                                  # networks always with their thumb_size
      inference: {tile_size: 512, overlap: 64, tile_batch: 4, border_pad: 0, tlc: false,
                  train_size: [1, 3, 256, 256], precision: fp32, channels_last: false}
                                                                  # InferenceSettings.from_options of the run

The experiment's copy of the option file keeps the values before --force_yml, so the record, not the file,
says what the weights need. The tools take network_g and the settings from it when no ``--opt`` is given and
refuse an ``--opt`` that contradicts it (``check_option_file``); flags given on the command line win over both.
"""
import inspect

from realestate_sr.archs.network_loading import is_nafnet, without_tlc
from realestate_sr.archs.whole_photo_ops import is_whole_photo
from realestate_sr.inference.settings import InferenceSettings

from basicsr.utils.registry import ARCH_REGISTRY

RECORDED_SETTINGS = ('tile_size', 'overlap', 'tile_batch', 'border_pad', 'tlc', 'train_size', 'precision',
                     'channels_last')
# the option-file key each setting comes from, to name it in messages
SETTING_KEYS = {'tile_size': 'val.tile.size', 'overlap': 'val.tile.overlap', 'tile_batch': 'val.tile.batch',
                'border_pad': 'val.tile.border_pad', 'tlc': 'val.tlc', 'train_size': 'datasets.train.gt_size',
                'precision': 'train.bf16', 'channels_last': 'train.channels_last'}
TILE_SETTINGS = ('overlap', 'tile_batch', 'border_pad')


class OptionContradictionError(ValueError):
    """``--opt`` says another network_g or inference setting than the checkpoint was trained with."""


def plain(value):
    """``value`` as the plain types ``torch.load(weights_only=True)`` accepts: dicts, lists, str, numbers, None."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, 'item'):  # numpy and torch scalars
        return value.item()
    raise TypeError(f'cannot record {type(value).__name__} {value!r} in a checkpoint')


def trained_with_record(network_opt, settings, net):
    """The record saved with the weights of ``net``: ``network_opt`` as trained and the ``settings`` its
    validation ran with; a whole-photo network's thumbnail size is written out even when it was a default."""
    network_g = plain(network_opt)
    if is_whole_photo(net):
        network_g['thumb_size'] = int(net.thumb_size)
    return {'network_g': network_g,
            'inference': {name: plain(getattr(settings, name)) for name in RECORDED_SETTINGS}}


def settings_from_record(record, source):
    """The InferenceSettings a record holds (``source`` names it in the settings line)."""
    saved = record.get('inference') or {}
    return InferenceSettings(**{name: saved[name] for name in RECORDED_SETTINGS if name in saved}, source=source,
                             precision_given=False)  # a recorded bf16 is the training's, not asked for here


def _arch_defaults(arch_type):
    try:
        arch = ARCH_REGISTRY.get(arch_type)
    except KeyError:
        return {}
    return {name: parameter.default for name, parameter in inspect.signature(arch).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


def _comparable_network(network_opt):
    """``network_opt`` with its architecture's defaults filled in, NAFNetLocal as NAFNet, in plain types."""
    network_opt = without_tlc(network_opt) if is_nafnet(network_opt) else dict(network_opt)
    return plain({**_arch_defaults(network_opt.get('type')), **network_opt})


def same_network(network_opt, record):
    """True when ``network_opt`` builds the network a checkpoint's ``record`` says it was trained as (defaults
    filled in on both sides, so a key left at its default matches the value written out)."""
    return _comparable_network(network_opt) == _comparable_network(record['network_g'])


def _option_value(name, value):
    """A setting as its option-file key writes it."""
    if name == 'precision':
        return value == 'bf16'
    if name == 'train_size':
        return None if value is None else value[-1]
    return value


def contradictions(opt_network, opt_settings, record, given=()):
    """[(option key, value in --opt, value in the record)] where they differ, network_g first.

    Settings named in ``given`` (flags on the command line, which win over both) are not compared, nor those
    that cannot change what this network computes: tiling for whole-photo networks, TLC for other than NAFNet.
    """
    ours, theirs = _comparable_network(opt_network), _comparable_network(record['network_g'])
    found = [(f'network_g.{key}', ours.get(key), theirs.get(key))
             for key in [*ours, *(key for key in theirs if key not in ours)] if ours.get(key) != theirs.get(key)]
    saved = settings_from_record(record, 'the checkpoint')
    compared = {'precision', 'channels_last'}
    arch = ARCH_REGISTRY.get(theirs['type']) if theirs.get('type') in ARCH_REGISTRY else None
    if not is_whole_photo(arch):
        compared.add('tile_size')
        if opt_settings.tiled and saved.tiled:
            compared.update(TILE_SETTINGS)
        if is_nafnet(theirs):
            compared.update(('tlc', 'train_size'))
    given = set(given)
    if 'tile_size' in given:  # a tile size given, or whole photos: the file's tile block no longer applies
        given.update(TILE_SETTINGS)
    for name in RECORDED_SETTINGS:
        if name in compared and name not in given and getattr(opt_settings, name) != getattr(saved, name):
            found.append((SETTING_KEYS[name], _option_value(name, getattr(opt_settings, name)),
                          _option_value(name, getattr(saved, name))))
    return found


def check_architecture_flags(flags, record):
    """Raise OptionContradictionError, one line, when an architecture flag given on the command line says another
    value than the ``network_g`` the checkpoint records; ``flags``: {'--width': ('width', 64), ...}."""
    recorded = _comparable_network(record['network_g'])
    for flag, (key, value) in flags.items():
        if plain(value) != recorded.get(key):
            shown = ' '.join(map(str, value)) if isinstance(value, list) else value
            raise OptionContradictionError(f'{flag} {shown} contradicts the checkpoint, trained with '
                                           f'network_g.{key}={recorded.get(key)} (leave out {flag} to run it as '
                                           'trained)')


def check_option_file(option_file, opt_network, opt_settings, record, given=()):
    """Raise OptionContradictionError, one line naming the first key and both values, when ``option_file``
    contradicts what the checkpoint was trained with (``contradictions``)."""
    found = contradictions(opt_network, opt_settings, record, given)
    if not found:
        return
    (key, ours, theirs), *others = found
    more = ''.join(f'; also {other} ({value} vs {saved})' for other, value, saved in others)
    raise OptionContradictionError(f'--opt {option_file} says {key}={ours}, the checkpoint was trained with {theirs}'
                                   f'{more} (leave out --opt to run it as trained)')
