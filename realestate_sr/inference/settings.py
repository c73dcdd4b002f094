"""How a network runs on full-resolution photos: one frozen value, decided in one place.

``InferenceSettings`` holds tiling (or whole photos), TLC, precision, device, memory format and the training
patch size behind the TLC window. Every caller builds it the same way, with one precedence rule:

    a flag given on the command line  >  the option file  >  ``InferenceSettings``' own defaults

The option file contributes what the training validation ran: its ``val`` block (``val.tile``, ``val.tlc``),
``train.bf16``, ``train.channels_last`` and ``datasets.train.gt_size``. An option file without a ``val`` block
leaves tiling and TLC at the defaults. Command-line flags are "given" when argparse left them not None, so
every flag that can override the option file has ``default=None``.

Precision is decided here too (``for_device``): a bf16 that only the option file (``train.bf16``, what a GPU
recipe trains with) or a checkpoint's record asks for runs as fp32 on a CPU, where bfloat16 autocast is about
ten times slower; ``--precision bf16`` keeps it. So is the device (``resolve_device``) and the autocast dtype a
precision runs with there (``autocast_dtype``).
"""
import dataclasses
from dataclasses import dataclass

import torch

from realestate_sr.archs.whole_photo_ops import StrengthError, check_strength
from realestate_sr.options import inference_values, read_option_file
from realestate_sr.utils.cli_flags import PRECISIONS, TILE_DEFAULTS, TLC_DEFAULT

# measured with options/nafnet_gb10.yml's network on a 3300x2200 photo on a 2-core CPU: 37.8 s bf16, 3.0 s fp32
CPU_BF16_COST = 'bf16 autocast on a CPU is ~10x slower than fp32'


class SettingsError(ValueError):
    """Inference settings that cannot run (negative tile size or border pad, unknown precision, fp16 on a CPU)."""


def resolve_device(name='auto'):
    """'auto' -> CUDA when available, else CPU; anything else as torch names it."""
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    device = torch.device(name)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda asked for, but torch sees no CUDA device')
    return device


@dataclass(frozen=True)
class InferenceSettings:
    """How to run a network on photos.

    Attributes:
        tile_size (int | None): Tile side in pixels; None (or 0, stored as None) runs whole photos.
        overlap (int): Pixels blended between neighbouring tiles.
        tile_batch (int): Tiles per network call.
        border_pad (int): Reflect-pad the photo by this many pixels before tiling.
        tlc (bool): Run NAFNets as NAFNetLocal (TLC); other architectures ignore it.
        precision (str): 'fp32', or 'bf16' / 'fp16' autocast.
        device (str): 'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1'.
        channels_last (bool): Feed the network NHWC tensors.
        train_size (tuple | None): N,C,H,W of the training patches (the TLC window); None: 256x256.
        source (str): Where the values that no flag gave came from (for the settings line; not compared).
        strength (float): How far to go from the input (0) to the network's edit (1): whole-photo networks
            scale their edit (transforms, LUTs), others blend pixels. Only a flag or code sets it.
        precision_given (bool): The precision was asked for (a flag, or code), not taken from an option file or
            a checkpoint's record; only such a bf16 runs on a CPU (``for_device``). Not compared.
    """
    tile_size: int | None = TILE_DEFAULTS['size']
    overlap: int = TILE_DEFAULTS['overlap']
    tile_batch: int = TILE_DEFAULTS['batch']
    border_pad: int = TILE_DEFAULTS['border_pad']
    tlc: bool = TLC_DEFAULT
    precision: str = 'fp32'
    device: str = 'auto'
    channels_last: bool = False
    train_size: tuple | None = None
    strength: float = 1.0
    source: str = dataclasses.field(default='script defaults', compare=False)
    precision_given: bool = dataclasses.field(default=True, compare=False)

    def __post_init__(self):
        if self.tile_size is not None and int(self.tile_size) < 0:
            raise SettingsError(f'tile size must be positive, or 0 for whole photos; got {self.tile_size}')
        object.__setattr__(self, 'tile_size', int(self.tile_size) or None if self.tile_size is not None else None)
        if self.train_size is not None:
            object.__setattr__(self, 'train_size', tuple(int(v) for v in self.train_size))
        if self.precision not in PRECISIONS:
            raise SettingsError(f'precision must be one of {list(PRECISIONS)}, got {self.precision!r}')
        # overlap vs tile size is checked where tiles are cut (tiling._check_args): an option file may pair a
        # small val.tile size with the default overlap and still build its model
        if self.tile_size and int(self.tile_batch) <= 0:
            raise SettingsError(f'tile batch must be positive, got {self.tile_batch}')
        if int(self.border_pad) < 0:
            raise SettingsError(f'border pad must be >= 0, got {self.border_pad}')
        try:
            object.__setattr__(self, 'strength', check_strength(self.strength))
        except StrengthError as err:
            raise SettingsError(str(err)) from None

    @property
    def tiled(self):
        return self.tile_size is not None

    @classmethod
    def from_options(cls, opt, source='the option file'):
        """Settings a parsed BasicSR option file implies: what its training validation ran."""
        opt = opt or {}
        values = inference_values(opt)
        if isinstance(opt.get('val'), dict):
            source = f'val block of {source}'
        else:
            source = f'script defaults ({source} has no val block)'
        return cls(**values, source=source, precision_given=False)

    @classmethod
    def from_option_file(cls, path):
        """``from_options`` of the option file ``path``; OptionFileError (an OSError naming the file) when it is
        missing, not YAML or not a mapping."""
        return cls.from_options(read_option_file(path).options, source=str(path))

    def overridden(self, **given):
        """These settings with every value in ``given`` that is not None in its place (explicit flags win)."""
        changes = {key: value for key, value in given.items() if value is not None}
        if 'tile_size' in changes and not changes['tile_size']:
            changes['tile_size'] = None
        if 'precision' in changes:
            changes['precision_given'] = True
        return dataclasses.replace(self, **changes) if changes else self

    def for_device(self, device_type):
        """(settings, warning or None): these settings as they run on a device of ``device_type`` ('cpu',
        'cuda'). A bf16 that was not asked for (it came from ``train.bf16`` or a checkpoint's record) runs as fp32
        on a CPU, with a warning naming the cost; everything else runs as it is."""
        if device_type != 'cpu' or self.precision != 'bf16' or self.precision_given:
            return self, None
        warning = (f'running fp32, not the bf16 of the {self.source}: this machine has no GPU and {CPU_BF16_COST} '
                   '(--precision bf16 keeps bf16)')
        return dataclasses.replace(self, precision='fp32'), warning

    def autocast_dtype(self, device):
        """The autocast dtype of ``precision`` on ``device`` (None: fp32, no autocast); fp16 needs CUDA."""
        if self.precision == 'fp16' and torch.device(device).type != 'cuda':
            raise SettingsError('fp16 runs on CUDA only; use fp32 (or bf16) on CPU')
        dtype = PRECISIONS[self.precision]
        return getattr(torch, dtype) if dtype else None

    def describe(self):
        """One line: the tiling, TLC, precision and where the values came from."""
        if self.tiled:
            tiling = (f'on {self.tile_size} px tiles, overlap {self.overlap}, {self.tile_batch} per batch, border pad '
                      f'{self.border_pad}')
        else:
            tiling = 'on whole photos'
        memory = ', channels_last' if self.channels_last else ''
        tlc = 'on' if self.tlc else 'off'
        strength = f', strength {self.strength:g}' if self.strength != 1 else ''
        return f'{tiling}, TLC {tlc}, {self.precision}{memory}{strength} (defaults from the {self.source})'

    def tile_dict(self):
        """{size, overlap, batch, border_pad} as reports record it; size 0 for whole photos."""
        return {'size': self.tile_size or 0, 'overlap': self.overlap, 'batch': self.tile_batch,
                'border_pad': self.border_pad}
