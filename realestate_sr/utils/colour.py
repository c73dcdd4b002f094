"""Colour conventions stated once: the sRGB transfer curve, luma weights, float -> uint8.

Images are float RGB in [0, 1]; BGR only at OpenCV's edge.

- ``srgb_to_linear`` / ``linear_to_srgb``: the IEC 61966-2-1 curve (a linear toe, then a 2.4 power). Both clip
  to [0, 1] first and keep the array's float precision (float32 stays float32); they take NumPy arrays or
  torch tensors (with finite gradients everywhere), so networks and data preparation share one curve.
- ``luma``: ``Y = 0.2126 R + 0.7152 G + 0.0722 B`` of the values given (BT.709, the sRGB primaries).
  The pair checks keep BT.601 (``LUMA_601``), the weights of OpenCV's grey conversion that their thresholds
  were calibrated with (docs/data.md).
- ``to_uint8``: ``round(clip(x, 0, 1) * 255)``, as BasicSR's ``tensor2img`` rounds.
"""
import numpy as np
import torch

LUMA_709 = (0.2126, 0.7152, 0.0722)
LUMA_601 = (0.299, 0.587, 0.114)


def _clip_unit(values):
    """``values`` clipped to [0, 1]: a torch tensor stays one, anything else becomes a NumPy array."""
    return values.clamp(0.0, 1.0) if isinstance(values, torch.Tensor) else np.clip(values, 0.0, 1.0)


def _where(condition, low, high):
    return (torch.where if isinstance(condition, torch.Tensor) else np.where)(condition, low, high)


# Each power branch sees only inputs inside its own range: a tensor's gradient flows through both branches of a
# where, and the power's would be infinite (then NaN) at 0.
def srgb_to_linear(srgb):
    srgb = _clip_unit(srgb)
    return _where(srgb <= 0.04045, srgb / 12.92, ((srgb.clip(min=0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear):
    linear = _clip_unit(linear)
    return _where(linear <= 0.0031308, linear * 12.92, 1.055 * linear.clip(min=0.0031308) ** (1 / 2.4) - 0.055)


def luma(rgb, weights=LUMA_709):
    """Weighted sum over the last axis (R, G, B) of ``rgb``, in its float precision."""
    rgb = np.asarray(rgb)
    return rgb @ np.asarray(weights, dtype=rgb.dtype if rgb.dtype.kind == 'f' else np.float64)


def to_uint8(rgb):
    """Float image in [0, 1] (values outside are clipped) -> uint8 in [0, 255], rounded to nearest."""
    return (np.clip(rgb, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def to_bgr_uint8(rgb):
    """``to_uint8`` of an RGB image, channels reversed for OpenCV, contiguous."""
    return np.ascontiguousarray(to_uint8(rgb)[..., ::-1])
