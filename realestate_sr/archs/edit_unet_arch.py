"""EditUNet: a U-Net generator that predicts the edit (output = input + network), for adversarial training.

The generator of the pix2pix family (a U-Net; one seed system put 9 residual blocks at its bottleneck, as in
the ResNet generator of CycleGAN), made fit for listing photos:

- residual learning: the last convolution starts at zero, so an untrained generator returns its input and
  the network learns only the edit (exposure, colour, local contrast), which is small next to the photo;
- no batch or instance normalisation: their statistics depend on the crop, so tiles of one photo would be
  normalised differently and the tiled result would show seams;
- inputs of any size: zero-padded at the bottom/right to a multiple of ``2 ** levels``, cropped back.

YAML (``network_g``)::

    type: EditUNet
    in_channels: 3
    width: 32             # channels at full resolution; doubles per level up to max_width
    levels: 4             # stride-2 downsamplings (inputs are padded to a multiple of 2 ** levels)
    max_width: 256
    num_res_blocks: 9     # residual blocks at the lowest resolution (0: a plain U-Net bottleneck)
"""
import torch
import torch.nn.functional as F
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY


def _conv(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1)


class _ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels), nn.LeakyReLU(0.2, inplace=True), _conv(channels, channels))

    def forward(self, x):
        return x + self.body(x)


@ARCH_REGISTRY.register()
class EditUNet(nn.Module):
    """U-Net generator predicting the edit; YAML keys in the module docstring."""

    def __init__(self, in_channels=3, width=32, levels=4, max_width=256, num_res_blocks=9):
        super().__init__()
        if levels < 1 or width < 1:
            raise ValueError(f'EditUNet needs levels >= 1 and width >= 1, got levels {levels}, width {width}')
        widths = [min(width * 2 ** level, max_width) for level in range(levels + 1)]
        self.multiple = 2 ** levels
        self.intro = nn.Sequential(_conv(in_channels, widths[0]), nn.LeakyReLU(0.2, inplace=True))
        self.down = nn.ModuleList(
            nn.Sequential(_conv(widths[i], widths[i + 1], stride=2), nn.LeakyReLU(0.2, inplace=True),
                          _conv(widths[i + 1], widths[i + 1]), nn.LeakyReLU(0.2, inplace=True))
            for i in range(levels))
        self.bottleneck = nn.Sequential(*[_ResidualBlock(widths[-1]) for _ in range(num_res_blocks)])
        self.up = nn.ModuleList(
            nn.Sequential(_conv(widths[i + 1] + widths[i], widths[i]), nn.LeakyReLU(0.2, inplace=True),
                          _conv(widths[i], widths[i]), nn.LeakyReLU(0.2, inplace=True))
            for i in reversed(range(levels)))
        self.ending = _conv(widths[0], in_channels)
        nn.init.zeros_(self.ending.weight)
        nn.init.zeros_(self.ending.bias)

    def forward(self, inp):
        h, w = inp.shape[-2:]
        x = F.pad(inp, (0, (-w) % self.multiple, 0, (-h) % self.multiple))
        skips = [self.intro(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        feat = self.bottleneck(skips.pop())
        for up in self.up:
            skip = skips.pop()
            feat = F.interpolate(feat, size=skip.shape[-2:], mode='bilinear', align_corners=False)
            feat = up(torch.cat([feat, skip], dim=1))
        return (x + self.ending(feat))[..., :h, :w]
