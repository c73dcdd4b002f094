"""House style ``bright_airy``: the bright, airy listing look: light midtones, lifted blacks, cool clean whites,
quiet colours, crisp detail, windows held back.

Calibrated against the statistics of 100 real professional edits (``edit_statistics.PROFESSIONAL_EDITS``:
about +0.9 EV, +27 % contrast, midtone gamma ~0.66, shadows +15 %, highlights +25 % without clipping,
saturation -13 %); tests/test_benchmark/test_styles.py measures it on real photos. In linear light unless said
otherwise, every constant from ``RECIPE``:

1. window pull (the local component): a smooth mask of the bright regions (perceptual luminance blurred by
   ``window_sigma_fraction`` of the long side, a smoothstep from ``window_low`` to ``window_high``) darkens
   them by up to ``window_pull_ev`` stops; the gain is smooth, so the detail inside a window stays, it is only
   brought back from the edge of white;
2. cooler whites: red times ``1 - cool_whites``, blue times ``1 + cool_whites``, in proportion to the pixel's
   perceptual luminance (blacks keep their colour, whites turn cool);
3. the tone curve ``tone_knots`` ((input, output) pairs on perceptual luminance, a monotone cubic through them):
   blacks lifted to 0.035, a steep midtone lift, a shoulder that reaches 0.99 at white, so highlights come up
   without clipping; applied to luminance only (hues stay);
4. saturation: chroma around each pixel's grey times ``chroma_scale``;
5. light sharpening: an unsharp mask of perceptual luminance, radius sigma ``sharpen_sigma_px``, amount
   ``sharpen_amount``, applied through luminance;
6. a soft shoulder per channel from ``shoulder_start`` towards ``shoulder_ceiling`` (linear; 253 of 255 once
   encoded): bright saturated colours and sharpened edges roll off instead of clipping; then sRGB.
"""
import numpy as np

from realestate_sr.benchmark.family_utils import as_float_photo, gaussian_blur
from realestate_sr.benchmark.style_utils import (
    bright_region_mask,
    monotone_curve,
    perceptual_luminance,
    scale_chroma,
    soft_shoulder,
    with_perceptual_luminance,
)
from realestate_sr.utils.colour import linear_to_srgb, srgb_to_linear

NAME = 'bright_airy'
KIND = 'style'
RECIPE = {
    'window_sigma_fraction': 0.015,
    'window_low': 0.8,
    'window_high': 0.97,
    'window_pull_ev': 0.6,
    'cool_whites': 0.04,
    'tone_knots': ((0.0, 0.035), (0.15, 0.17), (0.3, 0.41), (0.45, 0.64), (0.65, 0.85), (0.85, 0.965),
                   (1.0, 0.99)),
    'chroma_scale': 0.89,
    'sharpen_sigma_px': 1.0,
    'sharpen_amount': 0.3,
    'shoulder_start': 0.9,
    'shoulder_ceiling': 0.985,
}


def apply_style(photo):
    """The house's edit of one photo: float32 RGB H,W,3 in [0, 1], the photo's shape; no randomness."""
    recipe = RECIPE
    linear = srgb_to_linear(as_float_photo(photo))
    sigma = recipe['window_sigma_fraction'] * max(linear.shape[:2])
    windows = bright_region_mask(perceptual_luminance(linear), recipe['window_low'], recipe['window_high'], sigma)
    linear = linear * (2.0 ** (-recipe['window_pull_ev'] * windows))[..., None]

    cool = recipe['cool_whites'] * perceptual_luminance(linear)[..., None]
    linear = linear * np.concatenate([1.0 - cool, np.ones_like(cool), 1.0 + cool], axis=2)

    curve = monotone_curve(recipe['tone_knots'])
    linear = with_perceptual_luminance(linear, curve(perceptual_luminance(linear)))
    linear = scale_chroma(linear, recipe['chroma_scale'])

    perceptual = perceptual_luminance(np.clip(linear, 0.0, None))
    detail = perceptual - gaussian_blur(perceptual, recipe['sharpen_sigma_px'])
    linear = with_perceptual_luminance(linear, perceptual + recipe['sharpen_amount'] * detail)
    target = linear_to_srgb(soft_shoulder(np.clip(linear, 0.0, None), recipe['shoulder_start'],
                                           recipe['shoulder_ceiling']))
    return target.astype(np.float32)
