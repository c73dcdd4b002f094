"""PatchGANDiscriminator: the 70x70 PatchGAN of pix2pix (Isola et al., CVPR 2017), one logit per patch.

With the defaults (``num_layers: 3``) every output logit sees a 70x70 pixel patch of its input: five 4x4
convolutions, the first three of stride 2. The logits are a map (N,1,H',W'), which BasicSR's ``GANLoss``
averages; it takes any size of 70 px and up, so it judges the output of any registered generator (NAFNet,
Restormer, EditUNet, the whole-photo models) on training crops. The discriminator is unconditional, as in
BasicSR's SRGANModel: it sees an output or a target, not the source photo.

YAML (``network_d``)::

    type: PatchGANDiscriminator
    in_channels: 3
    width: 64             # channels of the first layer; doubles per layer up to 8 x width
    num_layers: 3         # stride-2 layers (3: 70x70 patches; 2: 34x34; 4: 142x142)
    norm: spectral        # spectral (default: stable at small batches and in BF16), instance, or none
"""
from torch import nn
from torch.nn.utils import spectral_norm

from basicsr.utils.registry import ARCH_REGISTRY

NORMS = ('spectral', 'instance', 'none')


def patch_size(num_layers):
    """Side of the input patch one logit sees: ``num_layers`` + 2 convolutions of 4x4, the first ``num_layers``
    of stride 2."""
    strides = [2] * num_layers + [1, 1]
    side = 1
    for stride in reversed(strides):
        side = (side - 1) * stride + 4
    return side


@ARCH_REGISTRY.register()
class PatchGANDiscriminator(nn.Module):
    """70x70 PatchGAN (with the defaults); YAML keys in the module docstring."""

    def __init__(self, in_channels=3, width=64, num_layers=3, norm='spectral'):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f'norm must be one of {list(NORMS)}, got {norm!r}')
        wrap = spectral_norm if norm == 'spectral' else (lambda conv: conv)

        def layer(cin, cout, stride, normalise=True):
            parts = [wrap(nn.Conv2d(cin, cout, kernel_size=4, stride=stride, padding=1))]
            if normalise and norm == 'instance':
                parts.append(nn.InstanceNorm2d(cout, affine=True))
            return parts + [nn.LeakyReLU(0.2, inplace=True)]

        channels = [width * min(2 ** i, 8) for i in range(num_layers + 1)]
        parts = layer(in_channels, channels[0], 2, normalise=False)
        for i in range(1, num_layers):
            parts += layer(channels[i - 1], channels[i], 2)
        parts += layer(channels[num_layers - 1], channels[num_layers], 1)
        parts.append(wrap(nn.Conv2d(channels[num_layers], 1, kernel_size=4, stride=1, padding=1)))
        self.body = nn.Sequential(*parts)
        self.patch_size = patch_size(num_layers)

    def forward(self, x):
        return self.body(x)
