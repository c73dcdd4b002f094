"""What a photo edit does, as a few numbers: the statistics that describe a house style and calibrate ours.

Each statistic compares a photo (``before``) with its edit (``after``), float RGB H,W,3 in [0, 1] (sRGB), the same
shape. "Luminance" is linear BT.709 luminance; "perceptual luminance" ``L`` is its sRGB encoding (0.5 looks
mid grey), as in ``realestate_sr.benchmark.style_utils``.

- ``exposure_ev``: ``log2(mean luminance after / mean luminance before)``, linear light: +1 is one stop brighter;
- ``contrast``: the spread of ``L`` (its 90th minus its 10th percentile) after over before, minus 1: +0.27 is
  a 27 % wider spread;
- ``midtone_gamma``: the power ``g`` that best maps ``L`` before to ``L`` after (``after = before ** g``, least
  squares in log-log) over the pixels whose ``L`` before lies in ``MIDTONE_BAND``: below 1 lifts the midtones;
- ``shadows`` and ``highlights``: the median of ``L after / L before - 1`` over the pixels whose ``L`` before
  lies in ``SHADOW_BAND`` or ``HIGHLIGHT_BAND``: +0.15 is 15 % brighter there. Bands of the tone response,
  not percentiles of each photo, so a photo with a black background (every dark percentile at 0) still has
  its shadows measured; a band with under ``MIN_BAND_FRACTION`` of the pixels gives NaN;
- ``clipped_fraction``: the fraction of pixels the edit newly clips (a channel at 255 once rounded to 8 bits
  after, none before): 0 is "without clipping";
- ``saturation``: the mean of ``(max - min) / max`` of the sRGB values (pixels with ``max`` above
  ``MIN_SATURATION_MAX``: the saturation of near-black pixels is noise) after over before, minus 1.

``PROFESSIONAL_EDITS`` holds these statistics as measured on 100 real professional real-estate edits (the
averages reported to us, before these definitions were written down: calibrating to them assumes their
definitions match these); ``bright_airy`` is calibrated to them (tests/test_benchmark/test_styles.py).
"""
import math

import numpy as np

from realestate_sr.benchmark.style_utils import perceptual_luminance
from realestate_sr.utils.colour import luma, srgb_to_linear

MIDTONE_BAND = (0.25, 0.65)
SHADOW_BAND = (0.05, 0.25)
HIGHLIGHT_BAND = (0.65, 0.9)
MIN_BAND_FRACTION = 0.01
SPREAD_PERCENTILES = (10, 90)
CLIP_LEVEL = 254.5 / 255
MIN_SATURATION_MAX = 0.05
PROFESSIONAL_EDITS = {'exposure_ev': 0.9, 'contrast': 0.27, 'midtone_gamma': 0.66, 'shadows': 0.15,
                      'highlights': 0.25, 'clipped_fraction': 0.0, 'saturation': -0.13}


def _checked_pair(before, after):
    before, after = (np.clip(np.asarray(img, dtype=np.float64), 0.0, 1.0) for img in (before, after))
    if before.shape != after.shape or before.ndim != 3 or before.shape[2] != 3:
        raise ValueError(f'edit statistics need two RGB images of one shape, got {before.shape} and {after.shape}')
    return before, after


def _band(perceptual_before, band):
    inside = (perceptual_before >= band[0]) & (perceptual_before < band[1])
    return inside if inside.mean() >= MIN_BAND_FRACTION else None


def exposure_ev(before, after):
    mean_before, mean_after = (luma(srgb_to_linear(img)).mean() for img in (before, after))
    return math.log2(max(mean_after, 1e-9) / max(mean_before, 1e-9))


def contrast(perceptual_before, perceptual_after):
    low, high = SPREAD_PERCENTILES
    spread_before, spread_after = (np.subtract(*np.percentile(L, [high, low]))
                                   for L in (perceptual_before, perceptual_after))
    return float(spread_after / max(spread_before, 1e-9) - 1.0)


def midtone_gamma(perceptual_before, perceptual_after):
    inside = _band(perceptual_before, MIDTONE_BAND)
    if inside is None:
        return math.nan
    log_before = np.log(perceptual_before[inside])
    log_after = np.log(np.maximum(perceptual_after[inside], 1e-6))
    return float((log_before * log_after).sum() / (log_before * log_before).sum())


def band_change(perceptual_before, perceptual_after, band):
    inside = _band(perceptual_before, band)
    if inside is None:
        return math.nan
    return float(np.median(perceptual_after[inside] / perceptual_before[inside]) - 1.0)


def clipped(img):
    """H,W: True where a channel is at 255 once rounded to 8 bits."""
    return img.max(axis=2) >= CLIP_LEVEL


def mean_saturation(img):
    top = img.max(axis=2)
    lit = top > MIN_SATURATION_MAX
    return float(((top - img.min(axis=2))[lit] / top[lit]).mean()) if lit.any() else 0.0


def edit_statistics(before, after):
    """{statistic: value} of the edit ``before`` -> ``after`` (the module docstring defines each)."""
    before, after = _checked_pair(before, after)
    perceptual_before, perceptual_after = (perceptual_luminance(srgb_to_linear(img)) for img in (before, after))
    return {
        'exposure_ev': exposure_ev(before, after),
        'contrast': contrast(perceptual_before, perceptual_after),
        'midtone_gamma': midtone_gamma(perceptual_before, perceptual_after),
        'shadows': band_change(perceptual_before, perceptual_after, SHADOW_BAND),
        'highlights': band_change(perceptual_before, perceptual_after, HIGHLIGHT_BAND),
        'clipped_fraction': float((clipped(after) & ~clipped(before)).mean()),
        'saturation': mean_saturation(after) / max(mean_saturation(before), 1e-9) - 1.0,
    }


def mean_statistics(statistics):
    """The mean of each statistic over several edits, NaNs (a band a photo lacks) left out."""
    return {key: float(np.nanmean([entry[key] for entry in statistics])) for key in statistics[0]}
