"""A documented model of an amateur listing capture: the embedded demo pairs, and the benchmark's capture family
``amateur``.

Given a well-edited photo (the target), it simulates what a phone or a hurried
photographer hands in (the source), in this order:

1. linearise sRGB;
2. clipped highlights: scene radiance above the sensor's range is lost
   (``highlight_gain`` > 1 pushes the brightest parts past 1.0, then clips);
3. under-exposure by ``exposure_ev`` stops (dark interiors);
4. a white-balance cast (per-channel gains, e.g. tungsten warmth);
5. sensor noise: shot noise (proportional to sqrt of the signal) plus read noise;
6. back to sRGB with a flattened tone curve: everything above the image's mean is compressed
   towards it (dull, grey highlights), while the under-exposed shadows stay darker than the
   edit's, as in real amateur interiors;
7. JPEG compression at ``jpeg_quality`` (done by the caller when writing).

The network learns the inverse: a global, content-aware edit, like a real editor's. Every degradation is
global, so a global colour map undoes most of it.

As a pair family (``make_pair``): target = the photo, source = ``simulate_amateur_capture`` with parameters
drawn by ``sample_capture_params``.
"""
from dataclasses import asdict, dataclass

import numpy as np

from realestate_sr.benchmark.family_utils import as_float_photo, record
from realestate_sr.utils.colour import linear_to_srgb, srgb_to_linear

NAME = 'amateur'
KIND = 'capture'


@dataclass(frozen=True)
class CaptureParams:
    """One amateur capture; every field is a physical knob of the model above."""
    highlight_gain: float
    exposure_ev: float
    wb_gains_rgb: tuple
    read_noise: float
    shot_noise: float
    contrast: float
    jpeg_quality: int

    def as_dict(self):
        return asdict(self)


def sample_capture_params(rng):
    """Draw a plausible amateur capture from ``rng`` (a numpy Generator)."""
    warmth = rng.uniform(-0.05, 0.3)
    return CaptureParams(
        highlight_gain=float(rng.uniform(1.1, 1.6)),
        exposure_ev=float(rng.uniform(-1.6, -0.8)),
        wb_gains_rgb=(float(np.exp(warmth * 0.8)), 1.0, float(np.exp(-warmth))),
        read_noise=float(rng.uniform(0.002, 0.006)),
        shot_noise=float(rng.uniform(0.004, 0.012)),
        contrast=float(rng.uniform(0.7, 0.9)),
        jpeg_quality=int(rng.integers(70, 86)),
    )


def simulate_amateur_capture(target_rgb, params, rng):
    """Source image (float32 RGB in [0,1]) for a target (float RGB in [0,1]); JPEG is left to the writer."""
    linear = srgb_to_linear(np.asarray(target_rgb, dtype=np.float64))
    linear = np.clip(linear * params.highlight_gain, 0.0, 1.0)
    linear = linear * 2.0**params.exposure_ev * np.asarray(params.wb_gains_rgb)
    noise_sigma = np.sqrt(params.read_noise**2 + params.shot_noise**2 * np.clip(linear, 0, None))
    linear = linear + rng.standard_normal(linear.shape) * noise_sigma
    srgb = linear_to_srgb(linear)
    pivot = srgb.mean()
    flattened = np.where(srgb > pivot, pivot + (srgb - pivot) * params.contrast, srgb)
    return np.clip(flattened, 0.0, 1.0).astype(np.float32)


def make_pair(photo, rng):
    """(src, tar, params) for one photo: float32 RGB; ``params['jpeg_quality']`` is the quality to write src at."""
    photo = as_float_photo(photo)
    params = sample_capture_params(rng)
    src = simulate_amateur_capture(photo, params, rng)
    return src, photo.astype(np.float32), record(params.as_dict())
