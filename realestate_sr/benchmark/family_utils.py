"""Small helpers the pair families share: photo checks, smooth maps, noise, parameter records."""
import numpy as np


def as_float_photo(photo):
    """The photo as float64 H,W,3 in [0, 1]; a precise error for anything else."""
    photo = np.asarray(photo)
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f'a pair family takes an RGB photo of shape H,W,3, got {photo.shape}')
    if photo.shape[0] < 16 or photo.shape[1] < 16:
        raise ValueError(f'photo of {photo.shape[1]}x{photo.shape[0]} is too small for a pair (16 px minimum)')
    return np.clip(photo.astype(np.float64), 0.0, 1.0)


def normalised_coords(height, width):
    """Pixel centres as (y, x) in [-1, 1] along the long side, so that shapes stay round on any aspect ratio."""
    scale = max(height, width) / 2.0
    ys = (np.arange(height) + 0.5 - height / 2.0) / scale
    xs = (np.arange(width) + 0.5 - width / 2.0) / scale
    return ys[:, None], xs[None, :]


def gaussian_blur(img, sigma):
    """Separable Gaussian blur (reflect border) of an H,W or H,W,C float array; sigma in pixels."""
    import cv2
    if sigma <= 0:
        return img
    return cv2.GaussianBlur(img, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma), borderType=cv2.BORDER_REFLECT)


def shot_and_read_noise(linear, shot, read, rng):
    """Signal-dependent sensor noise in linear light: shot noise ~ sqrt(signal), read noise constant."""
    sigma = np.sqrt(read**2 + shot**2 * np.clip(linear, 0.0, None))
    return linear + rng.standard_normal(linear.shape) * sigma


def record(value):
    """A parameter as plain JSON: floats rounded to 6 digits, arrays and tuples as lists."""
    if isinstance(value, dict):
        return {key: record(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [record(item) for item in np.asarray(value).tolist()] if isinstance(value, np.ndarray) \
            else [record(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return round(float(value), 6)
    return value
