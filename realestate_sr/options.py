"""What an option file means, read once: :func:`read_option_file` reads a BasicSR option file (YAML) into an
:class:`OptionFile`; these functions, given its ``options`` (or any parsed dict), say what the tools need:
``network_g`` (the registered ``type`` plus constructor arguments, :func:`network_opt`), the training patch
(``datasets.train.gt_size``, :func:`training_patch_size`), the validation tile (``val.tile``,
:func:`validation_tile`) and the inference settings those imply with ``val.tlc``, ``train.bf16`` and
``train.channels_last`` (:func:`inference_values`). Keys of options that were removed are named, with what to do,
by :func:`removed_key_message` (:data:`REMOVED_KEYS`).
"""
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from realestate_sr.utils.cli_flags import TILE_DEFAULTS


class OptionFileError(OSError):
    """An option file that cannot serve as options: missing, unreadable, not YAML, or not a mapping."""


class RemovedOptionError(ValueError):
    """An option file (or network_g block) names an option that was removed."""


# options removed after they lost on the benchmark: (block, key) -> what the key set; 'datasets' stands for every
# datasets.<phase>. The start-up checks and the network builder name them instead of calling them unknown.
REMOVED_KEYS = {
    ('network_g', 'colour_space'): 'where BilateralGridNet applies its transforms; it always acts on sRGB values',
    ('network_g', 'white_box'): "BilateralGridNet's white-box editor stage before the grid",
    ('network_g', 'style_codes'): "BilateralGridNet's learned house codes, for fine-tuning from a base model",
    ('train', 'light_opt'): "WholePhotoModel's loss on the light map",
    ('network_g', 'context'): "BilateralGridNet's windowed encoder averages instead of global ones",
    ('datasets', 'src_jitter'): "WholePhotoDataset's source-only exposure and white-balance jitter",
    ('datasets', 'pair_mix'): "WholePhotoDataset's collages of two training pairs",
    ('datasets', 'src_light_field'): 'the random smooth light field multiplied into training sources',
}


def removed_key_message(where, key):
    """One line for ``key`` of the block ``where`` ('datasets.train', 'network_g', 'train') when it names a removed
    option: what it set, that it was removed and what to do; None for any other key."""
    what = REMOVED_KEYS.get(('datasets' if where.startswith('datasets.') else where, key))
    if what is None:
        return None
    return f'{where}.{key} was removed ({what}); delete the {key} line from the option file'


@dataclass(frozen=True)
class OptionFile:
    """An option file as read once: its ``path``, ``options`` (the parsed YAML mapping) and ``text`` (what was
    parsed; what a digest of the file covers). Later changes to the file do not show here."""
    path: Path
    options: dict
    text: str = field(default='', repr=False)

    def network_opt(self):
        return network_opt(self.options, self.path)


def read_option_file(path):
    """The option file at ``path`` as an :class:`OptionFile` (an OptionFile passes through, so that a function can
    take either); OptionFileError, naming the file, when it is missing, unreadable, not YAML or not a mapping."""
    if isinstance(path, OptionFile):
        return path
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except OSError as err:
        raise OptionFileError(f'option file {path}: cannot read it ({err.strerror or err})') from err
    try:
        options = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise OptionFileError(f'option file {path} is not valid YAML: {" ".join(str(err).split())}') from err
    if not isinstance(options, dict):
        raise OptionFileError(f'option file {path} is not a YAML mapping of options')
    return OptionFile(path, options, text)


def network_opt(opt, source='the option file'):
    """The ``network_g`` block of parsed options ``opt`` (``type`` plus constructor arguments), a copy; KeyError
    naming ``source`` when there is none."""
    if 'network_g' not in opt:
        raise KeyError(f'{source} has no network_g block')
    return dict(opt['network_g'])


def training_patch_size(opt):
    """N,C,H,W of the training patches of parsed options (``datasets.train.gt_size``), None without one."""
    gt_size = ((opt.get('datasets') or {}).get('train') or {}).get('gt_size')
    return (1, opt['network_g'].get('img_channel', 3), gt_size, gt_size) if gt_size else None


def validation_tile(val_opt):
    """An option file's ``val.tile`` with :data:`TILE_DEFAULTS` filled in: {size, overlap, batch, border_pad},
    or None for whole images (``tile: ~`` or ``size: 0``). The inference settings of every tool and of
    EnhanceModel's validation (``inference_values``) and scripts/benchmark.py read the block through this one
    function."""
    tile = (val_opt or {}).get('tile')
    if not tile:
        return None
    if 'size' not in tile:
        raise KeyError(f'val.tile needs a size, got {dict(tile)}')
    if int(tile['size'] or 0) <= 0:
        return None
    return {key: int(tile.get(key, default)) for key, default in TILE_DEFAULTS.items()}


def inference_values(opt):
    """The ``InferenceSettings`` values that parsed options ``opt`` imply (what their training validation ran):
    precision and channels_last from ``train``, train_size when there is a ``network_g``, and, only when there is
    a ``val`` block, tlc and the tiling (tile_size None: whole photos)."""
    train = opt.get('train') or {}
    values = {'precision': 'bf16' if train.get('bf16') else 'fp32',
              'channels_last': bool(train.get('channels_last', False))}
    if isinstance(opt.get('network_g'), dict):
        values['train_size'] = training_patch_size(opt)
    val = opt.get('val')
    if isinstance(val, dict):
        tile = validation_tile(val)
        values['tlc'] = bool(val.get('tlc', False))
        values['tile_size'] = None if tile is None else tile['size']
        if tile is not None:
            values.update(overlap=tile['overlap'], tile_batch=tile['batch'], border_pad=tile['border_pad'])
    return values
