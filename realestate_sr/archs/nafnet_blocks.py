"""Building blocks of NAFNet (Chen et al., "Simple Baselines for Image Restoration", ECCV 2022).

Module and parameter names follow the official implementation so that its
checkpoints load key for key. Normalisation statistics are computed in at least
float32, so the blocks stay accurate when the caller runs under BF16 autocast.
"""
import torch
from torch import nn


def at_least_float32(tensor):
    """Upcast half/bfloat16 tensors to float32; keep float32 and float64 as they are."""
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


class _ChannelLayerNormFunction(torch.autograd.Function):
    """LayerNorm over the channel axis of an N,C,H,W tensor with a hand-written backward.

    The explicit backward reuses the normalised activations instead of letting
    autograd keep every intermediate; on CPU it is about 10% faster than plain
    autograd (see ../shared/FACTS.md).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        x_stat = at_least_float32(x)
        mean = x_stat.mean(1, keepdim=True)
        var = (x_stat - mean).pow(2).mean(1, keepdim=True)
        normalised = (x_stat - mean) / (var + eps).sqrt()
        ctx.eps = eps
        ctx.input_dtype = x.dtype
        ctx.save_for_backward(normalised, var, weight)
        channels = x.shape[1]
        out = weight.view(1, channels, 1, 1) * normalised + bias.view(1, channels, 1, 1)
        return out.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        normalised, var, weight = ctx.saved_tensors
        channels = grad_output.shape[1]
        grad_stat = at_least_float32(grad_output)
        g = grad_stat * weight.view(1, channels, 1, 1)
        mean_g = g.mean(dim=1, keepdim=True)
        mean_gy = (g * normalised).mean(dim=1, keepdim=True)
        grad_x = (g - normalised * mean_gy - mean_g) / torch.sqrt(var + ctx.eps)
        grad_weight = (grad_stat * normalised).sum(dim=(0, 2, 3)).to(weight.dtype)
        grad_bias = grad_stat.sum(dim=(0, 2, 3)).to(weight.dtype)
        return grad_x.to(ctx.input_dtype), grad_weight, grad_bias, None


class LayerNorm2d(nn.Module):
    """Channel-wise LayerNorm for N,C,H,W maps (parameters ``weight`` and ``bias`` of size C)."""

    def __init__(self, channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        return _ChannelLayerNormFunction.apply(x, self.weight, self.bias, self.eps)


class SimpleGate(nn.Module):
    """Splits the channels in two halves and multiplies them (NAFNet's replacement for GELU)."""

    def forward(self, x):
        first, second = x.chunk(2, dim=1)
        return first * second


class NAFBlock(nn.Module):
    """One NAFNet block: LayerNorm, 1x1 and depthwise 3x3 convs, SimpleGate,
    simplified channel attention (``sca``), then a gated feed-forward; both
    branches join the input through learned per-channel scales ``beta``/``gamma``
    that start at zero, so a fresh block is the identity.
    """

    def __init__(self, c, DW_Expand=2, FFN_Expand=2, drop_out_rate=0.):  # noqa: N803 (official argument names)
        super().__init__()
        dw_channel = c * DW_Expand
        self.conv1 = nn.Conv2d(c, dw_channel, kernel_size=1, bias=True)
        self.conv2 = nn.Conv2d(dw_channel, dw_channel, kernel_size=3, padding=1, groups=dw_channel, bias=True)
        self.conv3 = nn.Conv2d(dw_channel // 2, c, kernel_size=1, bias=True)
        # index 0 is the global pooling that NAFNetLocal swaps for a local window
        self.sca = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(dw_channel // 2, dw_channel // 2, kernel_size=1, bias=True),
        )
        self.sg = SimpleGate()

        ffn_channel = FFN_Expand * c
        self.conv4 = nn.Conv2d(c, ffn_channel, kernel_size=1, bias=True)
        self.conv5 = nn.Conv2d(ffn_channel // 2, c, kernel_size=1, bias=True)

        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.dropout1 = nn.Dropout(drop_out_rate) if drop_out_rate > 0. else nn.Identity()
        self.dropout2 = nn.Dropout(drop_out_rate) if drop_out_rate > 0. else nn.Identity()

        self.beta = nn.Parameter(torch.zeros((1, c, 1, 1)))
        self.gamma = nn.Parameter(torch.zeros((1, c, 1, 1)))

    def forward(self, inp):
        x = self.conv2(self.conv1(self.norm1(inp)))
        x = self.sg(x)
        x = x * self.sca(x)
        x = self.dropout1(self.conv3(x))
        y = inp + x * self.beta

        x = self.sg(self.conv4(self.norm2(y)))
        x = self.dropout2(self.conv5(x))
        return y + x * self.gamma
