"""Per-image metrics through BasicSR's METRIC_REGISTRY, on the same uint8 images validation scores.

Outputs are clipped to [0, 1] and rounded to 8 bits exactly like BasicSR's
``tensor2img``, then handed to the registered metric functions, so a number here
and the same metric logged during training's validation mean the same thing.
"""
import math

import numpy as np

from realestate_sr.utils import metric_table
from realestate_sr.utils.metric_table import HIGHER, METRIC_BETTER

from basicsr.metrics import calculate_metric

# name -> BasicSR metric options; which value is best: utils.metric_table.METRIC_BETTER. Order = column order of
# every table.
METRICS = {
    'psnr': {'type': 'calculate_psnr', 'crop_border': 0, 'test_y_channel': False},
    # BasicSR's calculate_ssim with a separable window (metrics/ssim_metric.py): the same value, 4x less filtering
    'ssim': {'type': 'calculate_ssim_separable', 'crop_border': 0, 'test_y_channel': False},
    'lpips': {'type': 'calculate_lpips', 'net': 'alex'},
    'l1': {'type': 'calculate_l1'},
    'de00': {'type': 'calculate_ciede2000'},
    'highlight_l1': {'type': 'calculate_highlight_l1'},
    'highlight_shift': {'type': 'calculate_highlight_shift'},
}
PRIMARY_METRIC = 'l1'  # the earlier experiments on listing edits report MAE first
# NaN for a photo whose target has no highlights: such a photo has nothing to judge, so means skip it
NAN_WHEN_UNDEFINED = ('highlight_l1', 'highlight_shift')


def metric_options(lpips_net='alex', lpips_weights=None, lpips_random_backbone_for_testing=False,
                   skip=()):
    """The metric table's options: METRICS with the LPIPS backbone settings filled in, minus ``skip``."""
    options = {}
    for name, opt in METRICS.items():
        if name in skip:
            continue
        opt = dict(opt)
        if name == 'lpips':
            opt.update(net=lpips_net, weights=lpips_weights,
                       random_backbone_for_testing=lpips_random_backbone_for_testing)
        options[name] = opt
    return options


def better(name):
    """``HIGHER``, ``LOWER`` or ``ZERO`` (the smallest absolute value is best)."""
    return METRIC_BETTER[name]


def higher_is_better(name):
    return METRIC_BETTER[name] == HIGHER


def best_value(name, values):
    """The best of ``values`` for metric ``name`` (NaN left out); None when none is a number."""
    return metric_table.best_value(values, better(name))


def score(output_bgr, target_bgr, options, target_cache=None):
    """{metric name: value} for one uint8 BGR output against its uint8 BGR target. ``target_cache``: one dict
    per target, passed to every row scored against it, so the metrics compute what depends on the target
    alone once (``metrics.metric_inputs.target_cached``); metrics that do not know it ignore it."""
    data = {'img': output_bgr, 'img2': target_bgr, 'target_cache': target_cache}
    return {name: float(calculate_metric(data, opt)) for name, opt in options.items()}


def mean_scores(per_image):
    """Mean of each metric over a list of {name: value} dicts (BasicSR averages PSNR per image too).

    The ``NAN_WHEN_UNDEFINED`` metrics average over the photos where they are defined (NaN when none is);
    ``scored_photos`` counts those photos.
    """
    if not per_image:
        return {}
    means = {}
    for name in per_image[0]:
        values = np.array([scores[name] for scores in per_image], dtype=np.float64)
        if name in NAN_WHEN_UNDEFINED:
            defined = values[~np.isnan(values)]
            means[name] = float(defined.mean()) if defined.size else float('nan')
        else:
            means[name] = float(values.mean())
    return means


def scored_photos(per_image):
    """{metric: how many photos it has a value for} for the ``NAN_WHEN_UNDEFINED`` metrics present (for the
    highlight metrics: the photos whose target has highlights)."""
    if not per_image:
        return {}
    return {name: sum(1 for scores in per_image if not math.isnan(scores[name]))
            for name in per_image[0] if name in NAN_WHEN_UNDEFINED}


def json_number(value):
    """Finite floats as they are; inf/nan (PSNR of identical images) as strings, which JSON can carry."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
