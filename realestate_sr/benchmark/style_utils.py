"""Small helpers the house styles share: tone curves on perceptual luminance, hue-keeping luminance and chroma
changes in linear light, a soft shoulder instead of a clip, a smooth mask of the bright regions.

"Perceptual luminance" is the sRGB encoding of linear luminance (BT.709 luma of linear RGB): 0.5 looks mid
grey, and tone curves are drawn on it as in an editor's curves panel.
"""
import numpy as np

from realestate_sr.benchmark.family_utils import gaussian_blur
from realestate_sr.utils.colour import linear_to_srgb, luma, srgb_to_linear


def pixel_saturation(linear):
    """(max - min) / max per pixel, H,W,1: 0 for greys, 1 for pure primaries."""
    top = linear.max(axis=2, keepdims=True)
    return (top - linear.min(axis=2, keepdims=True)) / np.maximum(top, 1e-6)


def soft_shoulder(linear, start, ceiling=1.0):
    """Identity below ``start``, then an exponential approach to ``ceiling``: no hard clip of bright windows."""
    over = np.clip(linear - start, 0.0, None)
    room = ceiling - start
    return np.where(linear > start, start + room * (1.0 - np.exp(-over / room)), linear)


def perceptual_luminance(linear):
    """sRGB-encoded luminance, H,W, of linear RGB."""
    return linear_to_srgb(luma(linear))


def monotone_curve(knots):
    """A smooth, monotone tone curve through ``knots`` ((input, output) pairs on [0, 1], increasing in both):
    piecewise cubic Hermite (PCHIP), so it never overshoots between knots as a spline would."""
    from scipy.interpolate import PchipInterpolator
    xs, ys = np.asarray(knots, dtype=np.float64).T
    if np.any(np.diff(xs) <= 0) or np.any(np.diff(ys) < 0):
        raise ValueError(f'tone curve knots must increase: {knots}')
    curve = PchipInterpolator(xs, ys)
    return lambda values: curve(np.clip(values, xs[0], xs[-1]))


def with_luminance(linear, new_luminance):
    """``linear`` RGB scaled per pixel so that its luminance becomes ``new_luminance`` (linear, H,W); hues and the
    ratios between channels stay."""
    return linear * (new_luminance / np.maximum(luma(linear), 1e-6))[..., None]


def with_perceptual_luminance(linear, new_perceptual):
    return with_luminance(linear, srgb_to_linear(np.clip(new_perceptual, 0.0, 1.0)))


def scale_chroma(linear, factor):
    """Each pixel's distance from its grey (its luminance) times ``factor`` (a number or an H,W,1 map)."""
    luminance = luma(linear)[..., None]
    return luminance + (linear - luminance) * factor


def bright_region_mask(perceptual, low, high, sigma):
    """1 where the smoothed perceptual luminance is above ``high``, 0 below ``low``, a smoothstep between:
    the windows and lamps of a room, as a soft region with no edge of its own (``sigma`` in pixels)."""
    ramp = np.clip((gaussian_blur(perceptual, sigma) - low) / (high - low), 0.0, 1.0)
    return ramp * ramp * (3.0 - 2.0 * ramp)
