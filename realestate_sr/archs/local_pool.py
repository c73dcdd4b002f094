"""Test-time Local Converter (TLC, Chu et al., ECCV 2022) for channel attention.

A network trained on 256x256 patches computes its channel-attention statistics
over 256x256 windows. Run on a whole 3300x2200 photo, global pooling would
average over the whole image instead, a statistic it never saw in training. TLC
replaces the global average by a sliding-window average whose window matches
the training statistics (1.5x the training patch by default).

The window sums come from 2-D cumulative sums. In bfloat16 those lose almost
all precision on large maps (errors ~0.1 on a 1100x1650 map), so they are
always computed in at least float32 and cast back to the input dtype.
"""
import torch.nn.functional as F
from torch import nn

from realestate_sr.archs.nafnet_blocks import at_least_float32

FAST_IMP_STRIDES = (5, 4, 3, 2, 1)


class LocalAvgPool2d(nn.Module):
    """Sliding-window average with a ``kernel_size`` (h, w) fixed for one depth of the network.

    Returns a map of the input's size (edges padded by replication) or, when the
    window covers the whole input, the global average of shape N,C,1,1, which
    broadcasts the same way. ``fast_imp`` subsamples the map before summing
    (faster, not equivalent), as the official ``fast_imp`` does.
    """

    def __init__(self, kernel_size, fast_imp=False, max_stride=(5, 5)):
        super().__init__()
        self.kernel_size = tuple(kernel_size)
        self.fast_imp = fast_imp
        self.max_stride = tuple(max_stride)

    def extra_repr(self):
        return f'kernel_size={self.kernel_size}, fast_imp={self.fast_imp}'

    def forward(self, x):
        h, w = x.shape[-2:]
        if self.kernel_size[0] >= h and self.kernel_size[1] >= w:
            return F.adaptive_avg_pool2d(x, 1)
        x_stat = at_least_float32(x)
        out = self._fast_window_mean(x_stat) if self.fast_imp else self._window_mean(x_stat)
        out_h, out_w = out.shape[-2:]
        pad = ((w - out_w) // 2, (w - out_w + 1) // 2, (h - out_h) // 2, (h - out_h + 1) // 2)
        return F.pad(out, pad, mode='replicate').to(x.dtype)

    def _window_mean(self, x):
        h, w = x.shape[-2:]
        sums = F.pad(x.cumsum(dim=-1).cumsum(dim=-2), (1, 0, 1, 0))
        k1, k2 = min(h, self.kernel_size[0]), min(w, self.kernel_size[1])
        top_left, top_right = sums[:, :, :-k1, :-k2], sums[:, :, :-k1, k2:]
        bottom_left, bottom_right = sums[:, :, k1:, :-k2], sums[:, :, k1:, k2:]
        return (bottom_right + top_left - top_right - bottom_left) / (k1 * k2)

    def _fast_window_mean(self, x):
        h, w = x.shape[-2:]
        r1 = min(self.max_stride[0], next(r for r in FAST_IMP_STRIDES if h % r == 0))
        r2 = min(self.max_stride[1], next(r for r in FAST_IMP_STRIDES if w % r == 0))
        sums = x[:, :, ::r1, ::r2].cumsum(dim=-1).cumsum(dim=-2)
        sh, sw = sums.shape[-2:]
        k1, k2 = min(sh - 1, self.kernel_size[0] // r1), min(sw - 1, self.kernel_size[1] // r2)
        out = (sums[:, :, :-k1, :-k2] - sums[:, :, :-k1, k2:] - sums[:, :, k1:, :-k2] + sums[:, :, k1:, k2:])
        return F.interpolate(out / (k1 * k2), scale_factor=(r1, r2))


def local_pool_for_depth(depth, padded_train_hw, train_hw, base_hw, fast_imp):
    """The TLC pool for a block at downsampling ``depth``.

    The window is the base size scaled to the feature map at that depth,
    computed exactly as the official code does on its first (training-size) forward.
    """
    level_h, level_w = padded_train_hw[0] >> depth, padded_train_hw[1] >> depth
    kernel = (level_h * base_hw[0] // train_hw[0], level_w * base_hw[1] // train_hw[1])
    max_stride = (max(1, FAST_IMP_STRIDES[0] * level_h // train_hw[0]),
                  max(1, FAST_IMP_STRIDES[0] * level_w // train_hw[1]))
    return LocalAvgPool2d(kernel, fast_imp=fast_imp, max_stride=max_stride)


def replace_global_pools(module, make_pool):
    """Swap every ``nn.AdaptiveAvgPool2d(1)`` inside ``module`` for ``make_pool()``; returns the count."""
    replaced = 0
    for name, child in module.named_children():
        if isinstance(child, nn.AdaptiveAvgPool2d):
            if child.output_size not in (1, (1, 1)):
                raise ValueError(f'TLC can only replace global pooling, got output_size={child.output_size}')
            setattr(module, name, make_pool())
            replaced += 1
        else:
            replaced += replace_global_pools(child, make_pool)
    return replaced
