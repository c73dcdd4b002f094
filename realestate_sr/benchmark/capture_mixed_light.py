"""Capture family ``mixed_light``: light that changes across the frame, as in a room lit by a window and lamps.

Target = the photo; source, in linear light:

1. mixed white balance: daylight from one side (a cool cast, blue gain up to +22 %) blends smoothly into
   tungsten (a warm cast, red up to +50 %, blue down to -40 %) along a random direction; the blend is a
   logistic ramp whose centre and width are drawn per pair;
2. vignetting: gain ``1 / (1 + k r^2)^2`` (``r`` = distance from the centre, 1 at the long side's edge),
   ``k`` 0.2-0.6;
3. local under-exposure: a Gaussian blob (centre anywhere, sigma 0.25-0.5) darkened by 0.5-1.5 EV at its
   centre: the corner the flash or the lamps did not reach;
4. global exposure -1.0 to -0.2 EV, highlight gain 1.0-1.4 then a hard sensor clip;
5. shot + read noise; sRGB; JPEG quality 65-90 when written.

No global colour map can undo it: the right correction differs between the two sides of the room and
inside the dark region. This is the benchmark's default held-out family (docs/benchmark.md).
"""
import numpy as np

from realestate_sr.benchmark.family_utils import as_float_photo, normalised_coords, record, shot_and_read_noise
from realestate_sr.utils.colour import linear_to_srgb, srgb_to_linear

NAME = 'mixed_light'
KIND = 'capture'


def sample_params(rng):
    cool, warm = rng.uniform(0.05, 0.2), rng.uniform(0.25, 0.5)
    return {
        'daylight_gains_rgb': (np.exp(-cool), 1.0, np.exp(cool)),
        'tungsten_gains_rgb': (np.exp(warm * 0.8), 1.0, np.exp(-warm)),
        'daylight_direction_rad': rng.uniform(0.0, 2.0 * np.pi),
        'blend_centre': rng.uniform(-0.4, 0.4),
        'blend_width': rng.uniform(0.1, 0.4),
        'vignetting_k': rng.uniform(0.2, 0.6),
        'shadow_centre_yx': (rng.uniform(-0.8, 0.8), rng.uniform(-1.0, 1.0)),
        'shadow_sigma': rng.uniform(0.25, 0.5),
        'shadow_ev': rng.uniform(-1.5, -0.5),
        'exposure_ev': rng.uniform(-1.0, -0.2),
        'highlight_gain': rng.uniform(1.0, 1.4),
        'shot_noise': rng.uniform(0.004, 0.012),
        'read_noise': rng.uniform(0.002, 0.005),
        'jpeg_quality': int(rng.integers(65, 91)),
    }


def light_field(height, width, params):
    """Per-pixel RGB gain (H,W,3) of the mixed illuminant, vignetting, dark region and exposure together."""
    ys, xs = normalised_coords(height, width)
    angle = params['daylight_direction_rad']
    along = xs * np.cos(angle) + ys * np.sin(angle)
    daylight = 1.0 / (1.0 + np.exp(-(along - params['blend_centre']) / params['blend_width']))
    gains = (daylight[..., None] * np.asarray(params['daylight_gains_rgb'])
             + (1.0 - daylight[..., None]) * np.asarray(params['tungsten_gains_rgb']))
    vignetting = 1.0 / (1.0 + params['vignetting_k'] * (ys**2 + xs**2))**2
    cy, cx = params['shadow_centre_yx']
    blob = np.exp(-((ys - cy)**2 + (xs - cx)**2) / (2.0 * params['shadow_sigma']**2))
    exposure = 2.0**(params['exposure_ev'] + params['shadow_ev'] * blob)
    return gains * (vignetting * exposure)[..., None]


def make_pair(photo, rng):
    """(src, tar, params) for one photo: float32 RGB; ``params['jpeg_quality']`` is the quality to write src at."""
    photo = as_float_photo(photo)
    params = sample_params(rng)
    linear = np.clip(srgb_to_linear(photo) * params['highlight_gain'], 0.0, 1.0)
    linear = linear * light_field(*photo.shape[:2], params)
    linear = shot_and_read_noise(linear, params['shot_noise'], params['read_noise'], rng)
    src = linear_to_srgb(linear)
    return src.astype(np.float32), photo.astype(np.float32), record(params)
