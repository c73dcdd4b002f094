"""Source-only augmentation: light that changes smoothly across the frame.

A random low-frequency gain field multiplies the source photo in linear light; the target is unchanged,
since an editor neutralises uneven light and the edit does not depend on it. The field is a grid of
``cells`` x ``cells`` random control points (``cells`` drawn per sample) upsampled bicubically to the
photo; each control point has a random exposure (stops) and red/blue gains (natural log), and the field's
mean over the photo is removed, so a sample's global exposure and white balance stay those of its pair:
only the variation across the frame is added. The shapes are random, not a model of any light source.
"""
import random

import cv2
import numpy as np
import torch

from realestate_sr.utils.colour import linear_to_srgb, srgb_to_linear

FIELD_SIDE = 64  # the field's resolution over the photo; smooth at any photo size
_LINEAR_LEVELS = srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)


class LightFieldOptionError(ValueError):
    """A ``src_light_field`` option that cannot be used."""


class LightField:
    """``src_light_field`` of PairedListingDataset / WholePhotoDataset: ``{prob, exposure_ev, white_balance, cells}``.

    prob (float): probability a sample gets a field (default 1).
    exposure_ev (float): each control point's exposure is uniform in +-exposure_ev stops.
    white_balance (float): each control point's red and blue gains are exp(uniform(+-white_balance)).
    cells (int): largest control grid side; each sample draws a side in 2..cells (default 3).
    """

    KEYS = {'prob', 'exposure_ev', 'white_balance', 'cells'}

    def __init__(self, prob=1.0, exposure_ev=0.0, white_balance=0.0, cells=3):
        self.prob, self.exposure_ev, self.white_balance = float(prob), float(exposure_ev), float(white_balance)
        self.cells = int(cells)
        if not 0.0 <= self.prob <= 1.0:
            raise LightFieldOptionError(f'src_light_field.prob is a probability in [0, 1], got {prob}')
        if self.exposure_ev < 0 or self.white_balance < 0:
            raise LightFieldOptionError('src_light_field amounts must be >= 0')
        if self.cells < 2:
            raise LightFieldOptionError(f'src_light_field.cells must be >= 2 (a field needs two control '
                                        f'points a side to vary), got {cells}')

    @classmethod
    def from_option(cls, option):
        """None when the option is absent or empty; a LightField otherwise."""
        if not option:
            return None
        unknown = set(option) - cls.KEYS
        if unknown:
            raise LightFieldOptionError(f'src_light_field takes {sorted(cls.KEYS)}, not {sorted(unknown)}')
        return cls(**option)

    @property
    def active(self):
        return self.prob > 0 and (self.exposure_ev > 0 or self.white_balance > 0)

    def draw(self, rng=random):
        """A field for one sample: its log gains (FIELD_SIDE, FIELD_SIDE, 3; BGR) over the photo's normalised
        area, mean 0 per channel; None when this sample draws none."""
        if not self.active or rng.random() >= self.prob:
            return None
        side = rng.randint(2, self.cells)
        draws = [[[rng.uniform(-limit, limit) for _ in range(side)] for _ in range(side)]
                 for limit in (self.exposure_ev * np.log(2.0), self.white_balance, self.white_balance)]
        exposure, log_blue, log_red = np.asarray(draws, dtype=np.float32)
        control = np.stack([exposure + log_blue, exposure, exposure + log_red], axis=-1)
        log_gains = cv2.resize(control, (FIELD_SIDE, FIELD_SIDE), interpolation=cv2.INTER_CUBIC)
        return log_gains - log_gains.mean(axis=(0, 1), keepdims=True)


def window_gains(log_gains, top, left, height, width, photo_height, photo_width):
    """The field's gains (height, width, 3) on a window of a photo_height x photo_width photo."""
    scale_x, scale_y = FIELD_SIDE / photo_width, FIELD_SIDE / photo_height
    # output pixel (x, y) -> field coordinates, pixel centres aligned as cv2.resize aligns them
    to_field = np.float32([[scale_x, 0, (left + 0.5) * scale_x - 0.5], [0, scale_y, (top + 0.5) * scale_y - 0.5]])
    window = cv2.warpAffine(log_gains, to_field, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    return np.exp(window)


def relight_bgr(bgr, gains):
    """A uint8 BGR image times per-pixel linear-light ``gains`` (its shape), clipped, back in uint8 sRGB."""
    linear = cv2.LUT(np.ascontiguousarray(bgr), _LINEAR_LEVELS)
    return np.clip(np.rint(linear_to_srgb(linear * gains) * 255.0), 0, 255).astype(np.uint8)


def relight_thumbnail(thumb, log_gains):
    """A float32 RGB thumbnail (3, S, S) of the whole photo under the field, as a tensor of the same shape."""
    size = thumb.shape[-1]
    gains = torch.from_numpy(window_gains(log_gains, 0, 0, size, size, size, size)[..., ::-1].copy())
    return linear_to_srgb(srgb_to_linear(thumb) * gains.permute(2, 0, 1))


def relight_window(log_gains, crop, top, left, photo_height, photo_width):
    """A uint8 BGR crop at (top, left) of a photo_height x photo_width photo under the field of its window."""
    return relight_bgr(crop, window_gains(log_gains, top, left, *crop.shape[:2], photo_height, photo_width))
