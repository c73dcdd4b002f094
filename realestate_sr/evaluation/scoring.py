"""Per-image metrics through BasicSR's METRIC_REGISTRY, on the same uint8 images validation scores.

Outputs are clipped to [0, 1] and rounded to 8 bits exactly like BasicSR's
``tensor2img``, then handed to the registered metric functions, so a number here
and the same metric logged during training's validation mean the same thing.
"""
import math

import numpy as np
from basicsr.metrics import calculate_metric

# name -> (BasicSR metric options, whether higher is better). Order = column order of every table.
METRICS = {
    'psnr': ({'type': 'calculate_psnr', 'crop_border': 0, 'test_y_channel': False}, True),
    'ssim': ({'type': 'calculate_ssim', 'crop_border': 0, 'test_y_channel': False}, True),
    'lpips': ({'type': 'calculate_lpips', 'net': 'alex'}, False),
    'l1': ({'type': 'calculate_l1'}, False),
    'de00': ({'type': 'calculate_ciede2000'}, False),
}
PRIMARY_METRIC = 'l1'  # the earlier experiments on listing edits report MAE first


def metric_options(lpips_net='alex', lpips_weights=None, lpips_random_backbone_for_testing=False,
                   skip=()):
    """The metric table's options: METRICS with the LPIPS backbone settings filled in, minus ``skip``."""
    options = {}
    for name, (opt, _) in METRICS.items():
        if name in skip:
            continue
        opt = dict(opt)
        if name == 'lpips':
            opt.update(net=lpips_net, weights=lpips_weights,
                       random_backbone_for_testing=lpips_random_backbone_for_testing)
        options[name] = opt
    return options


def higher_is_better(name):
    return METRICS[name][1]


def rgb_to_uint8_bgr(rgb):
    """float RGB H,W,3 -> uint8 BGR, rounding like ``basicsr.utils.tensor2img``."""
    return np.ascontiguousarray((np.clip(rgb, 0.0, 1.0) * 255.0).round().astype(np.uint8)[..., ::-1])


def score(output_bgr, target_bgr, options):
    """{metric name: value} for one uint8 BGR output against its uint8 BGR target."""
    data = {'img': output_bgr, 'img2': target_bgr}
    return {name: float(calculate_metric(data, opt)) for name, opt in options.items()}


def mean_scores(per_image):
    """Mean of each metric over a list of {name: value} dicts (BasicSR averages PSNR per image too)."""
    if not per_image:
        return {}
    return {name: float(np.mean([scores[name] for scores in per_image])) for name in per_image[0]}


def json_number(value):
    """Finite floats as they are; inf/nan (PSNR of identical images) as strings, which JSON can carry."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
