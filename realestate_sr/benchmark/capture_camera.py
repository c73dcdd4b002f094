"""Capture family ``camera_pipeline``: another camera's rendering, with a film-like shoulder instead of a clip.

Target = a crop of the photo (framing 70-100 % of each side, at least 288 px: pairs come in varied sizes and
aspect ratios);
source = the same crop as a different camera would render the scene:

1. linearise sRGB;
2. lens softness: Gaussian blur, sigma 0.3-1.0 px;
3. exposure error of -1.3 to +0.5 EV;
4. the camera's colour rendering: a random 3x3 colour matrix (a saturation scale 0.75-1.15 around the
   luminance axis times a cross-talk matrix with off-diagonal terms ~N(0, 0.05)), with rows summing to 1
   so that white stays white, then a white-balance error (temperature and tint gains);
5. sensor noise: shot 0.003-0.015, read 0.001-0.004 (linear light);
6. a filmic tone curve: extended Reinhard ``y = x (1 + x / w^2) / (1 + x)`` with white point ``w`` 1.5-4,
   which rolls highlights off smoothly (no hard clip) and lowers mid-tone contrast;
7. back to sRGB; JPEG quality 55-90 when written.

Unlike ``amateur``, colours are mixed between channels (a hue/saturation change a per-channel gain cannot
undo) and tone is compressed by a curve that depends on the white point rather than on the image mean.
"""
import numpy as np

from realestate_sr.benchmark.family_utils import as_float_photo, gaussian_blur, record, shot_and_read_noise
from realestate_sr.utils.colour import LUMA_709, linear_to_srgb, srgb_to_linear

NAME = 'camera_pipeline'
KIND = 'capture'
MIN_CROP_FRACTION = 0.7
MIN_CROP_SIDE = 288  # a crop keeps 288 px (or the whole side): every pair holds a 256 px training patch


def sample_crop(height, width, rng):
    """A crop box (top, left, height, width) covering 70-100 % of each side, even sizes."""
    crop_h = max(16, int(round(height * rng.uniform(MIN_CROP_FRACTION, 1.0))) // 2 * 2)
    crop_w = max(16, int(round(width * rng.uniform(MIN_CROP_FRACTION, 1.0))) // 2 * 2)
    crop_h = min(max(crop_h, MIN_CROP_SIDE), height)
    crop_w = min(max(crop_w, MIN_CROP_SIDE), width)
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    return top, left, crop_h, crop_w


def colour_matrix(saturation, cross_talk):
    """Saturation around the luminance axis times a cross-talk matrix; each row sums to 1 (white is kept)."""
    luma = np.tile(LUMA_709, (3, 1))
    saturate = luma + saturation * (np.eye(3) - luma)
    mixing = np.eye(3) + cross_talk
    mixing -= np.diag(mixing.sum(axis=1) - 1.0)
    return mixing @ saturate


def filmic(linear, white_point):
    """Extended Reinhard: 0 -> 0, ``white_point`` -> 1, a smooth shoulder in between."""
    x = np.clip(linear, 0.0, None)
    return x * (1.0 + x / white_point**2) / (1.0 + x)


def sample_params(height, width, rng):
    cross_talk = rng.normal(0.0, 0.05, (3, 3)) * (1 - np.eye(3))
    warmth, tint = rng.uniform(-0.25, 0.25), rng.uniform(-0.08, 0.08)
    return {
        'crop_top_left_height_width': sample_crop(height, width, rng),
        'blur_sigma': rng.uniform(0.3, 1.0),
        'exposure_ev': rng.uniform(-1.3, 0.5),
        'saturation': rng.uniform(0.75, 1.15),
        'cross_talk': cross_talk,
        'wb_gains_rgb': (np.exp(warmth * 0.8), np.exp(tint), np.exp(-warmth)),
        'shot_noise': rng.uniform(0.003, 0.015),
        'read_noise': rng.uniform(0.001, 0.004),
        'white_point': rng.uniform(1.5, 4.0),
        'jpeg_quality': int(rng.integers(55, 91)),
    }


def make_pair(photo, rng):
    """(src, tar, params) for one photo: float32 RGB; ``params['jpeg_quality']`` is the quality to write src at."""
    photo = as_float_photo(photo)
    params = sample_params(*photo.shape[:2], rng)
    top, left, crop_h, crop_w = params['crop_top_left_height_width']
    target = photo[top:top + crop_h, left:left + crop_w]
    linear = gaussian_blur(srgb_to_linear(target), params['blur_sigma'])
    linear = linear * 2.0**params['exposure_ev']
    matrix = colour_matrix(params['saturation'], params['cross_talk'])
    linear = (linear @ matrix.T) * np.asarray(params['wb_gains_rgb'])
    linear = shot_and_read_noise(linear, params['shot_noise'], params['read_noise'], rng)
    src = linear_to_srgb(filmic(linear, params['white_point']))
    params['colour_matrix'] = matrix
    return src.astype(np.float32), target.astype(np.float32), record(params)
