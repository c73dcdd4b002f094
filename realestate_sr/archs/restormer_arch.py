"""Restormer (Zamir et al., "Restormer: Efficient Transformer for High-Resolution Image Restoration", CVPR 2022).

Written for this project from the paper. The constructor arguments, their defaults and every state_dict key
follow the authors' release (github.com/swz30/Restormer, ``basicsr/models/archs/restormer_arch.py``), so its
checkpoints load with ``strict=True``. That code and its weights are under the authors' non-commercial
academic licence: training from them, or shipping them, is for research and non-commercial work only.

YAML (``network_g``)::

    type: Restormer
    inp_channels: 3
    out_channels: 3
    dim: 48                       # channels at full resolution; level k has dim * 2**k
    num_blocks: [4, 6, 6, 8]      # transformer blocks per level (levels 1-3 on both sides, 4 = the latent)
    num_refinement_blocks: 4      # blocks after the decoder, at full resolution
    heads: [1, 2, 4, 8]           # attention heads per level
    ffn_expansion_factor: 2.66    # hidden channels of the feed-forward = int(channels * factor)
    bias: false                   # biases of the convolutions inside the blocks
    LayerNorm_type: WithBias      # or BiasFree
    dual_pixel_task: false        # true only for the dual-pixel defocus task (inp_channels 6, no input residual)

Structure: a 3x3 conv embeds the photo; a 4-level encoder-decoder of transformer blocks (MDTA attention + GDFN
feed-forward, each behind a channel LayerNorm) halves the resolution with conv + pixel-unshuffle and
restores it with conv + pixel-shuffle, concatenating the encoder features; refinement blocks, then a 3x3
conv predicts the residual added to the input. MDTA attends across channels (a C/heads x C/heads map per
head), so its cost grows linearly with the pixel count and whole photos fit where window attention would not.

Inputs of any size are padded at the bottom/right to a multiple of 8 (reflection, as the authors' test
scripts do) and the output is cropped back. Under BF16 autocast the LayerNorm statistics and the attention
logits and softmax run in float32; everything else follows the caller's autocast.
"""
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from realestate_sr.archs.nafnet_blocks import at_least_float32

from basicsr.utils.registry import ARCH_REGISTRY

LAYERNORM_EPS = 1e-5
PAD_MULTIPLE = 8  # three pixel-unshuffle steps


def without_autocast(tensor):
    """A context that switches autocast off on ``tensor``'s device, where it is on (statistics stay float32)."""
    device_type = tensor.device.type
    try:
        enabled = torch.is_autocast_enabled(device_type)
    except RuntimeError:  # a device autocast does not know (meta, used to count MACs) has no autocast to leave
        enabled = False
    return torch.autocast(device_type, enabled=False) if enabled else nullcontext()


class _WithBiasNorm(nn.Module):
    """Normalise over channels, then scale and shift (``weight``, ``bias`` of size C)."""

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        stat = at_least_float32(x)
        mean = stat.mean(1, keepdim=True)
        var = stat.var(1, keepdim=True, unbiased=False)
        out = (stat - mean) / torch.sqrt(var + LAYERNORM_EPS)
        return (out * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)).to(x.dtype)


class _BiasFreeNorm(nn.Module):
    """Divide by the channel standard deviation without removing the mean, then scale (``weight`` only)."""

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x):
        stat = at_least_float32(x)
        var = stat.var(1, keepdim=True, unbiased=False)
        return (stat / torch.sqrt(var + LAYERNORM_EPS) * self.weight.view(1, -1, 1, 1)).to(x.dtype)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of N,C,H,W maps; the released checkpoints keep its parameters under ``body``."""

    def __init__(self, channels, layer_norm_type='WithBias'):
        super().__init__()
        if layer_norm_type not in ('WithBias', 'BiasFree'):
            raise ValueError(f"LayerNorm_type must be 'WithBias' or 'BiasFree', got {layer_norm_type!r}")
        self.body = _BiasFreeNorm(channels) if layer_norm_type == 'BiasFree' else _WithBiasNorm(channels)

    def forward(self, x):
        return self.body(x)


class ChannelAttentionWeights(nn.Module):
    """softmax(temperature * q_hat k_hat^T) over channels, with q and k L2-normalised along the pixels.

    q, k: N,heads,C/heads,HW; temperature: heads,1,1. Returns N,heads,C/heads,C/heads in at least float32.
    A module of its own (it holds no parameters) so tests can watch its precision.
    """

    def forward(self, q, k, temperature):
        with without_autocast(q):
            q = F.normalize(at_least_float32(q), dim=-1)
            k = F.normalize(at_least_float32(k), dim=-1)
            logits = torch.matmul(q, k.transpose(-2, -1)) * temperature.to(q.dtype)
            return logits.softmax(dim=-1)


class MDTA(nn.Module):
    """Multi-Dconv-head Transposed Attention: 1x1 then depthwise 3x3 convs make q, k, v; attention across channels."""

    def __init__(self, dim, num_heads, bias):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'{dim} channels do not split into {num_heads} attention heads')
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, kernel_size=1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, kernel_size=3, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, kernel_size=1, bias=bias)
        self.weights = ChannelAttentionWeights()

    def forward(self, x):
        n, c, h, w = x.shape
        shape = (n, self.num_heads, c // self.num_heads, h * w)
        q, k, v = (part.reshape(shape) for part in self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1))
        attention = self.weights(q, k, self.temperature)
        out = torch.matmul(attention.to(v.dtype), v)
        return self.project_out(out.reshape(n, c, h, w))


class GDFN(nn.Module):
    """Gated-Dconv Feed-forward Network: two depthwise-conv branches, one through GELU gating the other."""

    def __init__(self, dim, ffn_expansion_factor, bias):
        super().__init__()
        hidden = int(dim * ffn_expansion_factor)
        self.project_in = nn.Conv2d(dim, hidden * 2, kernel_size=1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, kernel_size=3, padding=1, groups=hidden * 2, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, kernel_size=1, bias=bias)

    def forward(self, x):
        gate, value = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(gate) * value)


class RestormerBlock(nn.Module):
    """x + MDTA(norm1(x)), then + GDFN(norm2(.)); submodule names as in the release (norm1, attn, norm2, ffn)."""

    def __init__(self, dim, num_heads, ffn_expansion_factor, bias, layer_norm_type):
        super().__init__()
        self.norm1 = ChannelLayerNorm(dim, layer_norm_type)
        self.attn = MDTA(dim, num_heads, bias)
        self.norm2 = ChannelLayerNorm(dim, layer_norm_type)
        self.ffn = GDFN(dim, ffn_expansion_factor, bias)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class _PatchEmbed(nn.Module):
    def __init__(self, in_channels, dim):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=3, padding=1, bias=False)

    def forward(self, x):
        return self.proj(x)


class _Resample(nn.Module):
    """Halve (conv to C/2, pixel-unshuffle: 2C) or double (conv to 2C, pixel-shuffle: C/2) the resolution."""

    def __init__(self, channels, down):
        super().__init__()
        conv = nn.Conv2d(channels, channels // 2 if down else channels * 2, kernel_size=3, padding=1, bias=False)
        self.body = nn.Sequential(conv, nn.PixelUnshuffle(2) if down else nn.PixelShuffle(2))

    def forward(self, x):
        return self.body(x)


@ARCH_REGISTRY.register()
class Restormer(nn.Module):
    """The Restormer network; YAML keys and layout in the module docstring (argument names are the release's)."""

    def __init__(self, inp_channels=3, out_channels=3, dim=48, num_blocks=(4, 6, 6, 8), num_refinement_blocks=4,
                 heads=(1, 2, 4, 8), ffn_expansion_factor=2.66, bias=False, LayerNorm_type='WithBias',  # noqa: N803
                 dual_pixel_task=False):
        super().__init__()
        if len(num_blocks) != 4 or len(heads) != 4:
            raise ValueError(f'num_blocks and heads need 4 entries (one per level), got {list(num_blocks)} and '
                             f'{list(heads)}')
        if not dual_pixel_task and inp_channels != out_channels:
            raise ValueError(f'the output adds the input: inp_channels ({inp_channels}) must equal out_channels '
                             f'({out_channels}) unless dual_pixel_task')

        def stage(channels, level_heads, count):
            return nn.Sequential(*[RestormerBlock(channels, level_heads, ffn_expansion_factor, bias, LayerNorm_type)
                                   for _ in range(count)])

        self.patch_embed = _PatchEmbed(inp_channels, dim)
        self.encoder_level1 = stage(dim, heads[0], num_blocks[0])
        self.down1_2 = _Resample(dim, down=True)
        self.encoder_level2 = stage(dim * 2, heads[1], num_blocks[1])
        self.down2_3 = _Resample(dim * 2, down=True)
        self.encoder_level3 = stage(dim * 4, heads[2], num_blocks[2])
        self.down3_4 = _Resample(dim * 4, down=True)
        self.latent = stage(dim * 8, heads[3], num_blocks[3])

        self.up4_3 = _Resample(dim * 8, down=False)
        self.reduce_chan_level3 = nn.Conv2d(dim * 8, dim * 4, kernel_size=1, bias=bias)
        self.decoder_level3 = stage(dim * 4, heads[2], num_blocks[2])
        self.up3_2 = _Resample(dim * 4, down=False)
        self.reduce_chan_level2 = nn.Conv2d(dim * 4, dim * 2, kernel_size=1, bias=bias)
        self.decoder_level2 = stage(dim * 2, heads[1], num_blocks[1])
        # level 1 keeps the concatenated 2 * dim channels: no reduction conv there
        self.up2_1 = _Resample(dim * 2, down=False)
        self.decoder_level1 = stage(dim * 2, heads[0], num_blocks[0])
        self.refinement = stage(dim * 2, heads[0], num_refinement_blocks)

        self.dual_pixel_task = dual_pixel_task
        if dual_pixel_task:
            self.skip_conv = nn.Conv2d(dim, dim * 2, kernel_size=1, bias=bias)
        self.output = nn.Conv2d(dim * 2, out_channels, kernel_size=3, padding=1, bias=bias)

    @staticmethod
    def pad_to_multiple(x):
        """Reflect-pad bottom/right to a multiple of 8 (replicate where the input is too small to reflect)."""
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % PAD_MULTIPLE, (-w) % PAD_MULTIPLE
        # no branch on the size while tracing: an exported graph pads whatever size it is given (8 px and up)
        tracing = torch.jit.is_tracing()
        mode = 'reflect' if tracing or (pad_h < h and pad_w < w) else 'replicate'
        return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)

    def forward(self, inp):
        h, w = inp.shape[-2:]
        x = self.pad_to_multiple(inp)
        embedded = self.patch_embed(x)
        enc1 = self.encoder_level1(embedded)
        enc2 = self.encoder_level2(self.down1_2(enc1))
        enc3 = self.encoder_level3(self.down2_3(enc2))
        latent = self.latent(self.down3_4(enc3))

        dec3 = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(latent), enc3], 1)))
        dec2 = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(dec3), enc2], 1)))
        dec1 = self.refinement(self.decoder_level1(torch.cat([self.up2_1(dec2), enc1], 1)))
        if self.dual_pixel_task:
            out = self.output(dec1 + self.skip_conv(embedded))
        else:
            out = self.output(dec1) + x
        return out[..., :h, :w]
