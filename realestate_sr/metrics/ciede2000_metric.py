"""CIEDE2000 colour difference (mean dE00): how far the colours are from the editor's, as people see them.

PSNR and L1 weigh every channel alike; dE00 weighs a hue shift on a wall the way
an editor would notice it. Pixels are read as sRGB (D65) and converted to CIELAB
with scikit-image; about 1 dE00 is a just-noticeable difference.
"""
import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

from realestate_sr.metrics.metric_inputs import bgr_to_rgb, metric_pair

from basicsr.utils.registry import METRIC_REGISTRY

# Rows per chunk: scikit-image's formula makes ~30 float64 temporaries per pixel, so a whole
# 3300x2200 photo at once would need a couple of GB; 256-row chunks need ~150 MB.
ROWS_PER_CHUNK = 256


def mean_ciede2000_rgb(rgb, rgb2):
    """Mean CIEDE2000 difference of two sRGB float images (H,W,3, values in [0, 1])."""
    total = 0.0
    for top in range(0, rgb.shape[0], ROWS_PER_CHUNK):
        lab = rgb2lab(np.clip(rgb[top:top + ROWS_PER_CHUNK], 0.0, 1.0))
        lab2 = rgb2lab(np.clip(rgb2[top:top + ROWS_PER_CHUNK], 0.0, 1.0))
        total += float(np.sum(deltaE_ciede2000(lab, lab2)))
    return total / (rgb.shape[0] * rgb.shape[1])


@METRIC_REGISTRY.register()
def calculate_ciede2000(img, img2, crop_border=0, input_order='HWC', **kwargs):
    """Mean CIEDE2000 (dE00) between two BGR images, as BasicSR passes them (uint8, OpenCV channel order).

    YAML (``val.metrics``)::

        de00: {type: calculate_ciede2000, crop_border: 0, better: lower}

    Keys: ``crop_border``, ``input_order`` ('HWC' or 'CHW'); ``better`` is BasicSR's.

    Returns:
        float: mean dE00 over all pixels; 0 for identical images.
    """
    img, img2 = metric_pair(img, img2, crop_border, input_order)
    return mean_ciede2000_rgb(bgr_to_rgb(img), bgr_to_rgb(img2))
