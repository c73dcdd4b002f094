"""Style family ``listing_hdr``: one fixed "listing HDR" edit, the consistent look an editing house delivers.

Source = the photo; target = the photo edited by this recipe (no randomness: the same photo always gets the
same edit, and every photo gets the same recipe), in linear light unless said otherwise:

1. neutral white balance: gray-pixel gains, from the pixels that are already nearly neutral (saturation
   (max - min) / max below 0.3) that are neither black nor clipped (luminance between the 5th and 99th
   percentile); none when fewer than 1 % of the pixels qualify (a scene with nothing grey keeps its colours),
   applied at 80 % strength (in log gain) and limited to 0.67-1.5x per channel: casts go, the colours of a
   brown floor or a blue wall stay;
2. local tone mapping on log2 luminance: a base layer from a guided filter (radius 4 % of the long side,
   edge-preserving, guided by the log luminance itself, eps 0.5 stop^2) is compressed around its median by
   0.6, which lifts the shadows and pulls the windows back; the median moves to 18 % grey (limited to +-1.5 EV);
3. mild clarity: the detail layer (log luminance minus base) is boosted by 1.2;
4. the luminance ratio is applied to RGB, so hues stay;
5. vibrance: chroma is scaled by ``1 + 0.3 (1 - s)`` where ``s`` = (max - min) / max is the pixel's
   saturation, so dull colours gain more than saturated ones;
6. a soft shoulder above 0.8 (linear) instead of a clip, then sRGB.

``apply_style(photo)`` is the edit (a house style of ``realestate_sr.benchmark.styles``); ``make_pair`` is the style
family of the benchmark: (photo, ``apply_style(photo)``, the recipe and the values it computed).

The constants are this module's; changing them makes a different benchmark (record them in the manifest).
"""
import numpy as np

from realestate_sr.benchmark.family_utils import as_float_photo, record
from realestate_sr.benchmark.style_utils import pixel_saturation, soft_shoulder
from realestate_sr.utils.colour import linear_to_srgb, luma, srgb_to_linear

NAME = 'listing_hdr'
KIND = 'style'
RECIPE = {
    'neutral_saturation': 0.3,
    'min_neutral_fraction': 0.01,
    'wb_strength': 0.8,
    'wb_gain_range': (0.67, 1.5),
    'base_radius_fraction': 0.04,
    'guided_eps': 0.5,          # in log2-luminance units squared: edges under ~1 stop are smoothed
    'base_compression': 0.6,
    'target_median_luminance': 0.18,
    'exposure_range_ev': (-1.5, 1.5),
    'clarity': 1.2,
    'vibrance': 0.3,
    'shoulder_start': 0.8,
}


def box_mean(img, radius):
    import cv2
    size = 2 * radius + 1
    return cv2.blur(img, (size, size), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide, src, radius, eps):
    """He et al.'s guided filter with a single-channel guide (box means; edge-preserving smoothing)."""
    mean_g, mean_s = box_mean(guide, radius), box_mean(src, radius)
    var_g = box_mean(guide * guide, radius) - mean_g**2
    cov = box_mean(guide * src, radius) - mean_g * mean_s
    a = cov / (var_g + eps)
    b = mean_s - a * mean_g
    return box_mean(a, radius) * guide + box_mean(b, radius)


def edit(photo):
    """(target, details) of the recipe on one photo: target float64 in [0, 1]; details are the values the recipe
    computed from the photo (white-balance gains, base radius, exposure), for the pair's parameters."""
    photo = as_float_photo(photo)
    recipe = RECIPE
    linear = srgb_to_linear(photo)
    luminance = luma(linear)
    low, high = np.percentile(luminance, [5, 99])
    neutral = ((luminance >= low) & (luminance <= high)
               & (pixel_saturation(linear)[..., 0] < recipe['neutral_saturation']))
    if neutral.mean() >= recipe['min_neutral_fraction']:
        means = np.maximum(linear[neutral].mean(axis=0), 1e-6)
        gains = np.clip((means.mean() / means)**recipe['wb_strength'], *recipe['wb_gain_range'])
    else:
        gains = np.ones(3)
    linear = linear * gains

    luminance = np.maximum(luma(linear), 1e-5)
    log_lum = np.log2(luminance).astype(np.float32)
    radius = max(2, int(round(recipe['base_radius_fraction'] * max(photo.shape[:2]))))
    base = guided_filter(log_lum, log_lum, radius, recipe['guided_eps'])
    detail = log_lum - base
    median = float(np.median(base))
    exposure_ev = float(np.clip(np.log2(recipe['target_median_luminance']) - median, *recipe['exposure_range_ev']))
    new_log = median + exposure_ev + recipe['base_compression'] * (base - median) + recipe['clarity'] * detail
    linear = linear * (2.0**(new_log - log_lum))[..., None]

    new_luminance = luma(linear)[..., None]
    saturation = pixel_saturation(linear)
    linear = new_luminance + (linear - new_luminance) * (1.0 + recipe['vibrance'] * (1.0 - saturation))
    target = linear_to_srgb(soft_shoulder(np.clip(linear, 0.0, None), recipe['shoulder_start']))
    return target, {'wb_gains_rgb': gains, 'base_radius_px': radius, 'exposure_ev': exposure_ev}


def apply_style(photo):
    """The house's edit of one photo: float32 RGB H,W,3 in [0, 1], the photo's shape; no randomness."""
    return edit(photo)[0].astype(np.float32)


def make_pair(photo, rng=None):
    """(src, tar, params) for one photo: float32 RGB. ``rng`` is unused (the edit is fixed); it is accepted so
    every family has the same signature. ``params['jpeg_quality']`` is None: src is the photo as it is."""
    target, details = edit(photo)
    params = {**RECIPE, **details, 'jpeg_quality': None}
    return as_float_photo(photo).astype(np.float32), target.astype(np.float32), record(params)
