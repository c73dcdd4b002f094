"""SSIM as BasicSR's ``calculate_ssim`` defines it, with its 11x11 Gaussian window applied as two 1-D passes.

The window (sigma 1.5) is the outer product of a 1-D Gaussian, so filtering rows then columns gives the same
local means with 22 multiply-adds per pixel instead of 121: about 4x less time on the five filtered images per
channel, the value equal to BasicSR's within rounding (1e-14 on benchmark photos). Everything else is BasicSR's
definition: constants for the [0, 255] range, 'valid' borders, the mean over the map, then over the channels.
"""
import cv2
import numpy as np

from realestate_sr.metrics.metric_inputs import aligned_pair

from basicsr.metrics.metric_util import to_y_channel
from basicsr.utils.registry import METRIC_REGISTRY

WINDOW_SIZE, WINDOW_SIGMA = 11, 1.5
VALID = slice(WINDOW_SIZE // 2, -(WINDOW_SIZE // 2))


def _local_mean(plane):
    kernel = cv2.getGaussianKernel(WINDOW_SIZE, WINDOW_SIGMA)
    return cv2.sepFilter2D(plane, -1, kernel, kernel)[VALID, VALID]


def ssim_of_plane(img, img2):
    """SSIM of two float64 H,W planes in [0, 255]."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu1, mu2 = _local_mean(img), _local_mean(img2)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 ** 2, mu2 ** 2, mu1 * mu2
    sigma1_sq = _local_mean(img ** 2) - mu1_sq
    sigma2_sq = _local_mean(img2 ** 2) - mu2_sq
    sigma12 = _local_mean(img * img2) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return ssim_map.mean()


@METRIC_REGISTRY.register()
def calculate_ssim_separable(img, img2, crop_border=0, input_order='HWC', test_y_channel=False, **kwargs):
    """SSIM of two images in [0, 255] (BasicSR's ``calculate_ssim``, separable window; the evaluation's ``ssim``).

    YAML (``val.metrics``)::

        ssim: {type: calculate_ssim_separable, crop_border: 0, test_y_channel: false}

    Keys: ``crop_border``, ``input_order`` ('HWC' or 'CHW'), ``test_y_channel`` (score the Y of YCbCr only).

    Returns:
        float: the mean over channels of each channel's mean SSIM; 1 for identical images.
    """
    img, img2 = aligned_pair(img, img2, crop_border, input_order)
    if test_y_channel:
        img, img2 = to_y_channel(img), to_y_channel(img2)
    img, img2 = img.astype(np.float64), img2.astype(np.float64)
    return float(np.mean([ssim_of_plane(img[..., i], img2[..., i]) for i in range(img.shape[2])]))
