"""CIEDE2000 colour difference (mean dE00): how far the colours are from the editor's, as people see them.

PSNR and L1 weigh every channel alike; dE00 weighs a hue shift on a wall the way
an editor would notice it. Pixels are read as sRGB (D65) and converted to CIELAB
with scikit-image; about 1 dE00 is a just-noticeable difference.
"""
from functools import partial

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab, xyz2lab
from skimage.color.colorconv import xyz_from_rgb

from realestate_sr.metrics.metric_inputs import aligned_pair, bgr_to_rgb, target_cached, to_unit_range

from basicsr.utils.registry import METRIC_REGISTRY

# Rows per chunk: scikit-image's formula makes ~30 float64 temporaries per pixel, so a whole
# 3300x2200 photo at once would need a couple of GB; 256-row chunks need ~150 MB.
ROWS_PER_CHUNK = 256


def _decoded_8bit_levels():
    """scikit-image's sRGB decoding (the first step of ``rgb2xyz``) of the 256 levels k/255, computed as it
    computes it: an 8-bit photo looks its pixels up instead of raising each to the power 2.4."""
    levels = np.arange(256) / 255.0
    linear = levels / 12.92
    curved = levels > 0.04045
    linear[curved] = np.power((levels[curved] + 0.055) / 1.055, 2.4)
    return linear


DECODED_8BIT = _decoded_8bit_levels()


def lab_of_8bit(rgb):
    """CIELAB (D65, 2 degrees) of a uint8 sRGB H,W,3 image: ``rgb2lab(rgb / 255)`` to the bit, 30-40 % faster."""
    return xyz2lab(DECODED_8BIT[rgb] @ xyz_from_rgb.T)


def lab_of_unit_float(rgb):
    return rgb2lab(np.clip(rgb, 0.0, 1.0))


def mean_ciede2000_rgb(rgb, rgb2, to_lab=lab_of_unit_float, target_cache=None, cache_key=()):
    """Mean CIEDE2000 difference of two sRGB images (H,W,3): floats in [0, 1] (the default ``to_lab``), or
    uint8 with ``to_lab=lab_of_8bit``. ``rgb2`` is the target: its CIELAB chunks are kept in ``target_cache``
    (``metric_inputs.target_cached``) under ``cache_key`` and the chunk's first row."""
    total = 0.0
    for top in range(0, rgb.shape[0], ROWS_PER_CHUNK):
        lab2 = target_cached(target_cache, ('de00_lab', to_lab.__name__, *cache_key, top),
                             partial(to_lab, rgb2[top:top + ROWS_PER_CHUNK]))
        total += float(np.sum(deltaE_ciede2000(to_lab(rgb[top:top + ROWS_PER_CHUNK]), lab2)))
    return total / (rgb.shape[0] * rgb.shape[1])


@METRIC_REGISTRY.register()
def calculate_ciede2000(img, img2, crop_border=0, input_order='HWC', target_cache=None, **kwargs):
    """Mean CIEDE2000 (dE00) between two BGR images, as BasicSR passes them (uint8, OpenCV channel order).

    YAML (``val.metrics``)::

        de00: {type: calculate_ciede2000, crop_border: 0, better: lower}

    Keys: ``crop_border``, ``input_order`` ('HWC' or 'CHW'); ``better`` is BasicSR's. ``target_cache``
    (not a YAML key): see ``metric_inputs.target_cached``.

    Returns:
        float: mean dE00 over all pixels; 0 for identical images.
    """
    img, img2 = aligned_pair(img, img2, crop_border, input_order)
    cache = {'target_cache': target_cache, 'cache_key': (crop_border, input_order)}
    if img.dtype == img2.dtype == np.uint8:
        return mean_ciede2000_rgb(bgr_to_rgb(img), bgr_to_rgb(img2), to_lab=lab_of_8bit, **cache)
    return mean_ciede2000_rgb(bgr_to_rgb(to_unit_range(img)), bgr_to_rgb(to_unit_range(img2)), **cache)
