"""Error inside the bright, nearly colourless regions of the target only (windows, lamps): "the windows got
dimmer" as a number.

The region is ``realestate_sr.utils.highlights.highlight_mask`` of the target, the one
``HighlightWeightedLoss`` weights (same thresholds, same keys). Both metrics average over it with the mask's
soft weights, so the ramps count partly. A photo whose target has less than one pixel's worth of mask has
no highlights to judge: the metrics return NaN for it (average with ``numpy.nanmean``; BasicSR's validation
mean then reads NaN, so use these metrics on validation sets of photos with windows).
"""
import numpy as np
import torch

from realestate_sr.metrics.metric_inputs import aligned_pair, bgr_to_rgb, target_cached, to_unit_range
from realestate_sr.utils.colour import LUMA_709
from realestate_sr.utils.highlights import highlight_mask

from basicsr.utils.registry import METRIC_REGISTRY


def _masked_pair(img, img2, crop_border, input_order, thresholds, target_cache=None):
    """(output RGB, target RGB, mask), float64 H,W,3 / H,W,3 / H,W, from BasicSR's uint8 BGR arguments; the
    target's part kept in ``target_cache`` (``metric_inputs.target_cached``)."""
    out, tar = aligned_pair(img, img2, crop_border, input_order)
    out = np.ascontiguousarray(bgr_to_rgb(to_unit_range(out)))

    def target_and_mask():
        tar_rgb = np.ascontiguousarray(bgr_to_rgb(to_unit_range(tar)))
        mask = highlight_mask(torch.from_numpy(tar_rgb.transpose(2, 0, 1))[None], **thresholds)[0, 0].numpy()
        return tar_rgb, mask

    key = ('highlight_mask', crop_border, input_order, *sorted(thresholds.items()))
    return (out, *target_cached(target_cache, key, target_and_mask))


@METRIC_REGISTRY.register()
def calculate_highlight_l1(img, img2, crop_border=0, input_order='HWC', luma_low=0.6, luma_high=0.8,
                           saturation_low=0.2, saturation_high=0.4, target_cache=None, **kwargs):
    """Mean absolute error on [0, 1] (over channels) inside the target's highlights, weighted by the mask.

    YAML (``val.metrics``)::

        highlight_l1: {type: calculate_highlight_l1, better: lower}   # thresholds as in highlights.py

    Args:
        img, img2 (ndarray): output and target, uint8 BGR H,W,C as BasicSR passes them.

    Returns:
        float: the masked MAE in [0, 1]; NaN when the target has no highlights.
    """
    thresholds = {'luma_low': luma_low, 'luma_high': luma_high, 'saturation_low': saturation_low,
                  'saturation_high': saturation_high}
    out, tar, mask = _masked_pair(img, img2, crop_border, input_order, thresholds, target_cache)
    if mask.sum() < 1:
        return float('nan')
    return float((np.abs(out - tar).mean(axis=2) * mask).sum() / mask.sum())


@METRIC_REGISTRY.register()
def calculate_highlight_shift(img, img2, crop_border=0, input_order='HWC', luma_low=0.6, luma_high=0.8,
                              saturation_low=0.2, saturation_high=0.4, target_cache=None, **kwargs):
    """Signed mean luma difference output - target inside the target's highlights: negative = windows dimmer.

    YAML (``val.metrics``)::

        highlight_shift: {type: calculate_highlight_shift}   # closer to 0 is better; BasicSR's 'better' has no
                                                             # "closest to zero", so leave it out

    Returns:
        float: in [-1, 1] on the [0, 1] scale (-0.05: the highlights came out 5 % of full scale darker);
        NaN when the target has no highlights.
    """
    thresholds = {'luma_low': luma_low, 'luma_high': luma_high, 'saturation_low': saturation_low,
                  'saturation_high': saturation_high}
    out, tar, mask = _masked_pair(img, img2, crop_border, input_order, thresholds, target_cache)
    if mask.sum() < 1:
        return float('nan')
    luma = np.asarray(LUMA_709)
    return float((((out - tar) @ luma) * mask).sum() / mask.sum())
