"""Procedural house styles: a seeded generator of editing houses, for pretraining a base model on many looks.

``random_house(rng)`` draws one house (``HouseParams``: every control below, uniform in its range of ``RANGES``),
``apply_house(photo, params)`` is that house's edit: float32 RGB H,W,3 in [0, 1] in and out, the shape kept,
deterministic. Like the benchmark's styles (``styles.py``), a house edits every photo with the same controls; unlike
them it is drawn, so thousands of houses exist and none is one of the benchmark's own. In linear light unless said
otherwise, in this order:

1. white balance: red times ``exp(temperature)``, blue times ``exp(-temperature)``, green times ``exp(-tint)``
   (positive temperature: warmer; positive tint: magenta);
2. exposure: times ``2 ** exposure_ev``;
3. window pull: the bright regions (``style_utils.bright_region_mask`` of perceptual luminance, smoothed over
   ``LOCAL_SIGMA_FRACTION`` of the long side, from ``WINDOW_LOW`` to ``WINDOW_HIGH``) darkened by up to
   ``window_pull_ev`` stops;
4. shadow lift and local contrast through a blurred base: the log2 luminance blurred over
   ``LOCAL_SIGMA_FRACTION`` of the long side is the base; where the base is dark (weight ``(1 - L_base) ** 2``,
   ``L_base`` its perceptual value) the luminance rises by up to ``shadow_lift_ev`` stops, and the detail (log
   luminance minus base) is multiplied by ``1 + local_contrast``;
5. the tone curve on perceptual luminance (hues kept): ``x ** midtone_gamma``, then an S-curve
   ``y + contrast * y (1 - y) (2 y - 1)`` (monotone for contrast in (-2, 1)); a monotone cubic through
   ``CURVE_KNOTS`` samples of it;
6. saturation and vibrance: chroma times ``saturation * (1 + vibrance (1 - s))``, ``s`` the pixel's saturation
   (max - min) / max, so dull colours gain more;
7. light sharpening: an unsharp mask of perceptual luminance, sigma ``SHARPEN_SIGMA_PX``, amount ``sharpen``;
8. a highlight shoulder per channel from ``shoulder_start`` towards ``SHOULDER_CEILING`` (none from that
   value up), then sRGB;
9. black lift, the curve's toe on the sRGB values per channel: ``black_lift + (1 - black_lift) v``, so black
   itself lifts too (a luminance curve keeps a black pixel black: it has no hue to scale).

Coverage of the benchmark's styles (``edit_statistics``, measured 2026-12-07 on ``skimage.data`` astronaut and
coffee at 1/4 size, the 200 houses of ``random_houses(200)``; tests/test_benchmark/test_style_random.py checks it):

| statistic (astronaut / coffee) | 200 houses, min .. max | none | listing_hdr | bright_airy | warm_natural |
|---|---|---|---|---|---|
| exposure_ev | -1.10 .. 1.05 / -1.08 .. 1.32 | 0 / 0 | -0.60 / -0.01 | 0.68 / 0.78 | 0.28 / 0.33 |
| saturation change | -0.58 .. 0.46 / -0.49 .. 0.25 | 0 / 0 | 0.01 / -0.04 | -0.16 / -0.15 | 0.21 / 0.12 |
| contrast change | -0.36 .. 0.22 / -0.33 .. 0.40 | 0 / 0 | -0.22 / -0.24 | 0.18 / 0.27 | 0.08 / 0.06 |
| midtone_gamma | 0.29 .. 1.63 / 0.32 .. 1.52 | 1 / 1 | 1.06 / 0.90 | 0.65 / 0.64 | 0.85 / 0.84 |
| shadows change | -0.92 .. 2.19 / -0.80 .. 3.34 | 0 / 0 | 0.36 / 0.96 | 0.06 / 0.15 | 0.22 / 0.31 |
| highlights change | -0.26 .. 0.30 / -0.27 .. 0.31 | 0 / 0 | -0.21 / -0.08 | 0.22 / 0.22 | 0.09 / 0.08 |

Every benchmark style lies inside the houses' range on every statistic; the tightest are bright_airy's
highlights (0.22 against the houses' 0.30) and listing_hdr's contrast on coffee (-0.24 against -0.33).
"""
from dataclasses import asdict, dataclass, fields

import numpy as np

from realestate_sr.benchmark.family_utils import as_float_photo, gaussian_blur
from realestate_sr.benchmark.style_utils import (
    bright_region_mask,
    monotone_curve,
    perceptual_luminance,
    pixel_saturation,
    scale_chroma,
    soft_shoulder,
    with_luminance,
    with_perceptual_luminance,
)
from realestate_sr.utils.colour import linear_to_srgb, luma, srgb_to_linear

RANGES = {
    'temperature': (-0.25, 0.25),
    'tint': (-0.08, 0.08),
    'exposure_ev': (-0.6, 1.4),
    'window_pull_ev': (0.0, 1.2),
    'shadow_lift_ev': (0.0, 1.2),
    'local_contrast': (-0.4, 0.6),
    'midtone_gamma': (0.5, 1.4),
    'contrast': (-0.6, 0.8),
    'black_lift': (0.0, 0.08),
    'saturation': (0.6, 1.3),
    'vibrance': (0.0, 0.5),
    'sharpen': (0.0, 0.6),
    'shoulder_start': (0.7, 1.0),
}
LOCAL_SIGMA_FRACTION = 0.03
WINDOW_LOW, WINDOW_HIGH = 0.75, 0.95
SHARPEN_SIGMA_PX = 1.0
SHOULDER_CEILING = 0.985
CURVE_KNOTS = 17
LUMINANCE_FLOOR = 1e-5


@dataclass(frozen=True)
class HouseParams:
    """One procedural house: each field a control of ``apply_house`` (module docstring), drawn from ``RANGES``."""
    temperature: float
    tint: float
    exposure_ev: float
    window_pull_ev: float
    shadow_lift_ev: float
    local_contrast: float
    midtone_gamma: float
    contrast: float
    black_lift: float
    saturation: float
    vibrance: float
    sharpen: float
    shoulder_start: float

    def as_dict(self):
        return asdict(self)


def random_house(rng):
    """A house drawn with ``rng`` (a numpy Generator): every control uniform in its ``RANGES`` entry."""
    return HouseParams(**{field.name: float(rng.uniform(*RANGES[field.name])) for field in fields(HouseParams)})


def random_houses(count, seed=0):
    """``count`` houses of one seeded stream: house ``i`` is the same for any ``count`` above ``i``."""
    rng = np.random.default_rng([int(seed), 31])
    return [random_house(rng) for _ in range(count)]


def tone_curve(params):
    """The house's curve on perceptual luminance (step 5), as a function of an array."""
    x = np.linspace(0.0, 1.0, CURVE_KNOTS)
    y = x ** params.midtone_gamma
    y = np.clip(y + params.contrast * y * (1.0 - y) * (2.0 * y - 1.0), 0.0, 1.0)
    return monotone_curve(list(zip(x, np.maximum.accumulate(y))))


def local_tone(linear, params):
    """Steps 3 and 4: window pull, shadow lift and local contrast, all from smooth maps of luminance."""
    sigma = LOCAL_SIGMA_FRACTION * max(linear.shape[:2])
    windows = bright_region_mask(perceptual_luminance(linear), WINDOW_LOW, WINDOW_HIGH, sigma)
    linear = linear * (2.0 ** (-params.window_pull_ev * windows))[..., None]
    log_lum = np.log2(np.maximum(luma(linear), LUMINANCE_FLOOR)).astype(np.float32)
    base = gaussian_blur(log_lum, sigma)
    darkness = (1.0 - linear_to_srgb(np.clip(2.0 ** base, 0.0, 1.0))) ** 2
    new_log = base + params.shadow_lift_ev * darkness + (1.0 + params.local_contrast) * (log_lum - base)
    return with_luminance(linear, 2.0 ** new_log)


def apply_house(photo, params):
    """The house ``params``'s edit of one photo: float32 RGB H,W,3 in [0, 1], the photo's shape; no randomness."""
    linear = srgb_to_linear(as_float_photo(photo))
    gains = np.exp([params.temperature, -params.tint, -params.temperature]) * 2.0 ** params.exposure_ev
    linear = local_tone(linear * gains, params)
    linear = with_perceptual_luminance(linear, tone_curve(params)(perceptual_luminance(linear)))
    linear = scale_chroma(linear, params.saturation * (1.0 + params.vibrance * (1.0 - pixel_saturation(linear))))
    perceptual = perceptual_luminance(np.clip(linear, 0.0, None))
    detail = perceptual - gaussian_blur(perceptual, SHARPEN_SIGMA_PX)
    linear = with_perceptual_luminance(linear, perceptual + params.sharpen * detail)
    linear = np.clip(linear, 0.0, None)
    if params.shoulder_start < SHOULDER_CEILING:
        linear = soft_shoulder(linear, params.shoulder_start, SHOULDER_CEILING)
    srgb = np.clip(linear_to_srgb(np.clip(linear, 0.0, 1.0)), 0.0, 1.0)
    return (params.black_lift + (1.0 - params.black_lift) * srgb).astype(np.float32)
