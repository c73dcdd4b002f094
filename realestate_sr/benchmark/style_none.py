"""House style ``none``: restoration only, the target is the photo itself.

A task with this style asks a model to undo the capture (exposure, white balance, noise, JPEG) and to add no
look of its own: the control beside the real house styles. ``RECIPE`` is empty: there is nothing to set.
"""
import numpy as np

from realestate_sr.benchmark.family_utils import as_float_photo

NAME = 'none'
KIND = 'style'
RECIPE = {}


def apply_style(photo):
    """The photo as float32 RGB in [0, 1], its shape kept (a copy: the caller's array is never shared)."""
    return np.array(as_float_photo(photo), dtype=np.float32)
