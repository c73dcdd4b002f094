"""L1 (mean absolute error on [0, 1]): the primary metric of earlier experiments on listing edits."""
import numpy as np

from realestate_sr.metrics.metric_inputs import metric_pair

from basicsr.utils.registry import METRIC_REGISTRY


@METRIC_REGISTRY.register()
def calculate_l1(img, img2, crop_border=0, input_order='HWC', **kwargs):
    """Mean absolute difference of two images on a [0, 1] scale, over all pixels and channels.

    YAML (``val.metrics``)::

        l1: {type: calculate_l1, crop_border: 0, better: lower}

    Keys: ``crop_border`` (pixels dropped on each side), ``input_order`` ('HWC' or 'CHW');
    ``better`` is read by BasicSR's best-metric tracking, not here.

    Args:
        img, img2 (ndarray): uint8 images in [0, 255] (float arrays are read as [0, 255] too), same shape.

    Returns:
        float: MAE in [0, 1]; a constant shift of k grey levels gives k / 255.
    """
    img, img2 = metric_pair(img, img2, crop_border, input_order)
    return float(np.mean(np.abs(img - img2)))
