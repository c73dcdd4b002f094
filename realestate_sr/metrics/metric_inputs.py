"""The common first step of our metrics: BasicSR's calling convention turned into aligned arrays.

BasicSR's ``nondist_validation`` (and ``scripts/evaluate.py``) call every metric as
``calculate_x(img=output, img2=target, **options)`` with uint8 BGR H,W,C images
from ``tensor2img``. ``metric_pair`` checks the shapes, applies ``input_order`` and
``crop_border`` like BasicSR's PSNR does, and returns float64 arrays in [0, 1].
"""
import numpy as np

from basicsr.metrics.metric_util import reorder_image


def metric_pair(img, img2, crop_border=0, input_order='HWC'):
    """Return (img, img2) as float64 H,W,C arrays in [0, 1], cropped by ``crop_border`` on each side.

    Raises:
        ValueError: shapes differ, ``input_order`` is unknown, or the crop leaves nothing.
    """
    img, img2 = aligned_pair(img, img2, crop_border, input_order)
    return to_unit_range(img), to_unit_range(img2)


def aligned_pair(img, img2, crop_border=0, input_order='HWC'):
    """``metric_pair`` before the conversion to [0, 1]: H,W,C arrays of their own dtype, checked and cropped."""
    if img.shape != img2.shape:
        raise ValueError(f'Image shapes are different: {img.shape}, {img2.shape}.')
    if input_order not in ('HWC', 'CHW'):
        raise ValueError(f'Wrong input_order {input_order}. Supported input_orders are "HWC" and "CHW"')
    img = reorder_image(img, input_order=input_order)
    img2 = reorder_image(img2, input_order=input_order)
    if crop_border:
        if 2 * crop_border >= min(img.shape[:2]):
            raise ValueError(f'crop_border={crop_border} leaves nothing of a {img.shape[0]}x{img.shape[1]} image')
        img = img[crop_border:-crop_border, crop_border:-crop_border, ...]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...]
    return img, img2


def to_unit_range(img):
    """uint8 / uint16 images scaled to [0, 1]; float images are taken as BasicSR's [0, 255] range."""
    if img.dtype == np.uint16:
        return img.astype(np.float64) / 65535.0
    return img.astype(np.float64) / 255.0


def bgr_to_rgb(img):
    """Channel order of a 3-channel H,W,C array flipped (BasicSR hands metrics OpenCV's BGR)."""
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'expected a 3-channel H,W,C colour image, got shape {img.shape}')
    return img[..., ::-1]


def target_cached(target_cache, key, compute):
    """``compute()``, kept in ``target_cache`` (a dict, or None: no caching) under ``key``. Scoring several
    outputs against one target (evaluate.py's rows of a photo) passes one dict per target as the metrics'
    ``target_cache`` argument, so what depends on the target alone (its CIELAB, its highlight mask) is computed
    once; ``key`` must name everything the value depends on besides the target (crop, order, thresholds)."""
    if target_cache is None:
        return compute()
    if key not in target_cache:
        target_cache[key] = compute()
    return target_cache[key]
