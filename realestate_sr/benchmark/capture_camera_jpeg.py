"""Capture family ``camera_jpeg``: a well-exposed photo straight out of a decent camera, as a careful
photographer hands it in.

Target = the photo; source, in this order:

1. linearise sRGB;
2. mild sensor noise: shot 0.002-0.006, read 0.0005-0.002 (linear light; a base-ISO exposure, a tenth to a
   half of ``amateur``'s);
3. back to sRGB;
4. the camera's sharpening: none for a third of the pairs (``SHARPEN_NONE_FRACTION``), else an unsharp mask of
   radius sigma 0.8-1.5 px (``SHARPEN_SIGMA_PX``) and amount 0.2-0.6 (``SHARPEN_AMOUNT``) on the sRGB values,
   clipped to [0, 1];
5. JPEG quality 85-95 (``JPEG_QUALITY``) when written.

No exposure, white-balance or tone error: the only thing between source and target is what every camera JPEG
carries (noise, sharpening halos, compression). On a task with a house style this is the case where the
whole difference is the house's look.
"""
import numpy as np

from realestate_sr.benchmark.family_utils import as_float_photo, gaussian_blur, record, shot_and_read_noise
from realestate_sr.utils.colour import linear_to_srgb, srgb_to_linear

NAME = 'camera_jpeg'
KIND = 'capture'
SHOT_NOISE = (0.002, 0.006)
READ_NOISE = (0.0005, 0.002)
SHARPEN_NONE_FRACTION = 1 / 3
SHARPEN_SIGMA_PX = (0.8, 1.5)
SHARPEN_AMOUNT = (0.2, 0.6)
JPEG_QUALITY = (85, 95)


def sample_params(rng):
    sharpen = rng.uniform() >= SHARPEN_NONE_FRACTION
    return {
        'shot_noise': rng.uniform(*SHOT_NOISE),
        'read_noise': rng.uniform(*READ_NOISE),
        'sharpen_sigma_px': rng.uniform(*SHARPEN_SIGMA_PX) if sharpen else 0.0,
        'sharpen_amount': rng.uniform(*SHARPEN_AMOUNT) if sharpen else 0.0,
        'jpeg_quality': int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)),
    }


def unsharp_mask(srgb, sigma, amount):
    """``srgb + amount (srgb - blur(srgb))``, clipped to [0, 1]; the image itself when ``amount`` is 0."""
    if amount <= 0:
        return srgb
    return np.clip(srgb + amount * (srgb - gaussian_blur(srgb, sigma)), 0.0, 1.0)


def make_pair(photo, rng):
    """(src, tar, params) for one photo: float32 RGB; ``params['jpeg_quality']`` is the quality to write src at."""
    photo = as_float_photo(photo)
    params = sample_params(rng)
    linear = shot_and_read_noise(srgb_to_linear(photo), params['shot_noise'], params['read_noise'], rng)
    src = unsharp_mask(linear_to_srgb(linear), params['sharpen_sigma_px'], params['sharpen_amount'])
    return src.astype(np.float32), photo.astype(np.float32), record(params)
