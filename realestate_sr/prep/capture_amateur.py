"""Capture family ``amateur``: the demo's amateur-capture model, unchanged.

Target = the photo; source = ``realestate_sr.data.amateur_capture.simulate_amateur_capture`` with parameters
drawn by its ``sample_capture_params``: clipped highlights, global under-exposure, a global white-balance
cast, shot + read noise, highlights flattened towards the image mean, JPEG quality 70-85. Every degradation
is global, so a global colour map undoes most of it.
"""
import numpy as np

from realestate_sr.data.amateur_capture import sample_capture_params, simulate_amateur_capture
from realestate_sr.prep.family_utils import as_float_photo, record

NAME = 'amateur'
KIND = 'capture'


def make_pair(photo, rng):
    """(src, tar, params) for one photo: float32 RGB; ``params['jpeg_quality']`` is the quality to write src at."""
    photo = as_float_photo(photo)
    params = sample_capture_params(rng)
    src = simulate_amateur_capture(photo, params, rng)
    return src, photo.astype(np.float32), record(params.as_dict())
