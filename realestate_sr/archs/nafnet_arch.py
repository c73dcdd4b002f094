"""NAFNet and NAFNetLocal, key-for-key compatible with the official megvii-research release.

YAML (``network_g``)::

    type: NAFNet            # or NAFNetLocal for full-resolution inference with TLC
    img_channel: 3
    width: 64
    middle_blk_num: 12
    enc_blk_nums: [2, 2, 4, 8]
    dec_blk_nums: [2, 2, 2, 2]
    # NAFNetLocal only:
    train_size: [1, 3, 256, 256]   # N,C,H,W of the training patches
    fast_imp: false
"""
import torch.nn.functional as F
from torch import nn

from realestate_sr.archs.local_pool import local_pool_for_depth, replace_global_pools
from realestate_sr.archs.nafnet_blocks import NAFBlock

from basicsr.utils.registry import ARCH_REGISTRY

TLC_BASE_SCALE = 1.5
DEFAULT_TRAIN_SIZE = (1, 3, 256, 256)  # the training patch (N,C,H,W) when nothing says it


def tlc_geometry(train_size, padder_size):
    """(train_hw, base_hw, padded_train_hw) of NAFNetLocal: the training patch, its TLC window
    (``TLC_BASE_SCALE`` x the patch) and the patch padded to the network's multiple."""
    train_hw = (int(train_size[-2]), int(train_size[-1]))
    base_hw = (int(train_hw[0] * TLC_BASE_SCALE), int(train_hw[1] * TLC_BASE_SCALE))
    padded_train_hw = tuple(-(-side // padder_size) * padder_size for side in train_hw)
    return train_hw, base_hw, padded_train_hw


def tlc_pools_globally(input_hw, train_size, levels):
    """Whether NAFNetLocal(train_size) with ``levels`` encoder levels pools over the whole map at every depth
    for an input of ``input_hw``: its window then covers the input and it computes exactly what NAFNet does.

    Example: trained on 512x512 patches (window 768), every 512x512 tile is such an input, so tiled
    TLC inference with 512 tiles equals plain NAFNet.
    """
    padder_size = 2**levels
    train_hw, base_hw, padded_train_hw = tlc_geometry(train_size, padder_size)
    padded_hw = [-(-side // padder_size) * padder_size for side in input_hw]
    for depth in range(levels + 1):
        kernel = local_pool_for_depth(depth, padded_train_hw, train_hw, base_hw, fast_imp=False).kernel_size
        if kernel[0] < padded_hw[0] >> depth or kernel[1] < padded_hw[1] >> depth:
            return False
    return True


@ARCH_REGISTRY.register()
class NAFNet(nn.Module):
    """U-shaped NAFNet with a global residual: output = input + correction.

    Inputs of any size are zero-padded at the bottom/right to a multiple of
    ``2 ** len(enc_blk_nums)`` and cropped back.

    Args:
        img_channel (int): Image channels (3 for RGB).
        width (int): Channels at full resolution; doubled at each encoder level.
        middle_blk_num (int): Blocks at the lowest resolution.
        enc_blk_nums (list[int]): Blocks per encoder level.
        dec_blk_nums (list[int]): Blocks per decoder level.
    """

    def __init__(self, img_channel=3, width=16, middle_blk_num=1, enc_blk_nums=(), dec_blk_nums=()):
        super().__init__()
        self.intro = nn.Conv2d(img_channel, width, kernel_size=3, padding=1, bias=True)
        self.ending = nn.Conv2d(width, img_channel, kernel_size=3, padding=1, bias=True)

        # attribute order = the official state_dict key order
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        self.middle_blks = nn.Sequential()
        self.ups = nn.ModuleList()
        self.downs = nn.ModuleList()

        chan = width
        for num in enc_blk_nums:
            self.encoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(num)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, kernel_size=2, stride=2))
            chan *= 2
        self.middle_blks.extend(NAFBlock(chan) for _ in range(middle_blk_num))
        for num in dec_blk_nums:
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, kernel_size=1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(num)]))

        self.padder_size = 2**len(self.encoders)

    def forward(self, inp):
        height, width = inp.shape[-2:]
        inp = self.pad_to_multiple(inp)
        x = self.intro(inp)

        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for decoder, up, skip in zip(self.decoders, self.ups, reversed(skips)):
            x = decoder(up(x) + skip)

        x = self.ending(x) + inp
        return x[:, :, :height, :width]

    def pad_to_multiple(self, x):
        """Zero-pad bottom/right so both sides divide by ``padder_size``."""
        h, w = x.shape[-2:]
        pad_h = (self.padder_size - h % self.padder_size) % self.padder_size
        pad_w = (self.padder_size - w % self.padder_size) % self.padder_size
        return F.pad(x, (0, pad_w, 0, pad_h))

    def blocks_by_depth(self):
        """Yield (downsampling depth, NAFBlock) for every block of the U."""
        depth_count = len(self.encoders)
        for depth, stage in enumerate(self.encoders):
            yield from ((depth, block) for block in stage)
        yield from ((depth_count, block) for block in self.middle_blks)
        for index, stage in enumerate(self.decoders):
            yield from ((depth_count - 1 - index, block) for block in stage)


@ARCH_REGISTRY.register()
class NAFNetLocal(NAFNet):
    """NAFNet with TLC: channel attention pools over a local window instead of the whole image.

    Same parameters and checkpoints as NAFNet. The window is ``1.5 x train_size``
    at full resolution (scaled down with each level), so inputs no larger than
    that behave exactly like NAFNet. Like the official class it is put in eval
    mode on construction: it is meant for inference.

    Args:
        train_size (tuple[int]): N,C,H,W of the training patches.
        fast_imp (bool): Subsampled window sums (faster, not equivalent).
        Other args: as NAFNet.
    """

    def __init__(self, *args, train_size=DEFAULT_TRAIN_SIZE, fast_imp=False, **kwargs):
        super().__init__(*args, **kwargs)
        train_hw, base_hw, padded_train_hw = tlc_geometry(train_size, self.padder_size)
        self.train_size = tuple(train_size)
        self.base_size = base_hw
        for depth, block in self.blocks_by_depth():
            replace_global_pools(
                block, lambda depth=depth: local_pool_for_depth(depth, padded_train_hw, train_hw, base_hw, fast_imp))
        self.eval()
