"""Colour post-processing after the network: CIELAB histogram matching to a reference, saturation and vibrance.

One seed system finished its outputs this way (+0-0.5 dB for them). Everything here is off by default
(``PostProcessSettings()`` changes nothing) and works on one photo at a time, numpy RGB float32 H,W,3 in
[0, 1] (the inference object's convention); results are clipped to [0, 1].

- **Histogram matching.** Each CIELAB channel (L, a, b; sRGB, D65, OpenCV's conversion) of the photo is
  mapped through its own quantile function onto the reference's (``LabReference``): the output's channel
  histograms become the reference's. ``strength`` blends from the photo (0) to the full match (1). A
  reference is one target-style photo (``LabReference.from_photo``) or a set of them
  (``LabReference.from_photos``: the mean of their quantile functions, i.e. the set's mean histogram in the
  sense that keeps its shape rather than blurring it); it saves to a small JSON file.
- **Saturation and vibrance**, on the chroma of CIELAB with lightness kept: ``saturation`` scales every
  chroma by ``1 + saturation``; ``vibrance`` scales it by ``1 + vibrance * (1 - C / 100)`` (C the pixel's
  chroma, clipped at 100), so muted colours gain more than vivid ones and skin or wood do not glow.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from realestate_sr.utils.cli_flags import MATCH_LAB
from realestate_sr.utils.output_safety import atomic_write

QUANTILE_LEVELS = 257
CHROMA_FULL = 100.0  # vibrance leaves colours at or above this chroma (a very saturated sRGB red is ~104)


class PostProcessError(ValueError):
    """A post-processing setting or reference that cannot be used."""


def _check_photo(rgb):
    if not (isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.size):
        raise PostProcessError(f'expected an RGB photo as a float H,W,3 array, got {getattr(rgb, "shape", rgb)!r}')
    return np.clip(rgb.astype(np.float32, copy=False), 0.0, 1.0)


def rgb_to_lab(rgb):
    """sRGB float H,W,3 in [0, 1] -> CIELAB float32 (L in [0, 100], a and b about [-128, 127])."""
    return cv2.cvtColor(_check_photo(rgb), cv2.COLOR_RGB2LAB)


def lab_to_rgb(lab):
    """CIELAB float32 H,W,3 -> sRGB float32 in [0, 1] (out-of-gamut colours clipped)."""
    return np.clip(cv2.cvtColor(lab.astype(np.float32, copy=False), cv2.COLOR_LAB2RGB), 0.0, 1.0)


def channel_quantiles(lab, levels=QUANTILE_LEVELS):
    """3 x ``levels`` quantiles (probabilities evenly spaced over [0, 1]) of each CIELAB channel."""
    flat = lab.reshape(-1, 3).astype(np.float64)
    return np.quantile(flat, np.linspace(0.0, 1.0, levels), axis=0).T


@dataclass(frozen=True)
class LabReference:
    """The colour distribution to match: per CIELAB channel, its quantile function at evenly spaced levels."""
    quantiles: np.ndarray  # 3 x levels, non-decreasing along each row
    photos: int = 1

    def __post_init__(self):
        q = np.asarray(self.quantiles, dtype=np.float64)
        if q.ndim != 2 or q.shape[0] != 3 or q.shape[1] < 2 or not np.all(np.isfinite(q)):
            raise PostProcessError(f'a Lab reference needs 3 rows of at least 2 finite quantiles, got shape {q.shape}')
        if np.any(np.diff(q, axis=1) < 0):
            raise PostProcessError('a Lab reference must have non-decreasing quantiles in each channel')
        object.__setattr__(self, 'quantiles', q)

    @classmethod
    def from_photo(cls, rgb, levels=QUANTILE_LEVELS):
        return cls(channel_quantiles(rgb_to_lab(rgb), levels), 1)

    @classmethod
    def from_photos(cls, photos, levels=QUANTILE_LEVELS):
        """The mean quantile function of several photos (an iterable of RGB arrays, read one at a time)."""
        total, count = None, 0
        for rgb in photos:
            quantiles = channel_quantiles(rgb_to_lab(rgb), levels)
            total = quantiles if total is None else total + quantiles
            count += 1
        if not count:
            raise PostProcessError('a Lab reference needs at least one photo')
        return cls(total / count, count)

    def save(self, path):
        """Write as JSON through a temporary name, renamed when complete."""
        return atomic_write(path, json.dumps({'kind': 'lab_quantiles', 'photos': self.photos,
                                              'quantiles': self.quantiles.round(4).tolist()}).encode('utf-8'))

    @classmethod
    def load(cls, path):
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise PostProcessError(f'cannot read the Lab reference {path}: {error}') from error
        if not isinstance(data, dict) or data.get('kind') != 'lab_quantiles':
            raise PostProcessError(f'{path} is not a Lab reference (written by LabReference.save)')
        return cls(np.asarray(data['quantiles'], dtype=np.float64), int(data.get('photos', 1)))


def match_lab_histogram(rgb, reference, strength=1.0):
    """``rgb`` with each CIELAB channel's histogram moved onto ``reference``'s (``strength`` 0..1)."""
    if not 0.0 <= strength <= 1.0:
        raise PostProcessError(f'histogram strength must be in [0, 1], got {strength}')
    lab = rgb_to_lab(rgb)
    if strength == 0:
        return lab_to_rgb(lab)
    levels = reference.quantiles.shape[1]
    source = channel_quantiles(lab, levels)
    matched = np.empty_like(lab)
    for channel in range(3):
        # a flat stretch of the source quantiles (many equal pixels) maps to the mean of its targets, not the last
        xs, index = np.unique(source[channel], return_inverse=True)
        ys = np.bincount(index, weights=reference.quantiles[channel]) / np.bincount(index)
        matched[..., channel] = np.interp(lab[..., channel], xs, ys) if xs.size > 1 else ys[0]
    return lab_to_rgb(lab + strength * (matched - lab))


def adjust_chroma(rgb, saturation=0.0, vibrance=0.0):
    """Scale CIELAB chroma by ``(1 + saturation) * (1 + vibrance * (1 - C / 100))``, lightness kept."""
    if saturation <= -1:
        raise PostProcessError(f'saturation must be above -1 (which removes all colour), got {saturation}')
    lab = rgb_to_lab(rgb)
    if saturation == 0 and vibrance == 0:
        return lab_to_rgb(lab)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    gain = (1.0 + saturation) * (1.0 + vibrance * (1.0 - np.minimum(chroma, CHROMA_FULL) / CHROMA_FULL))
    lab[..., 1:] *= np.maximum(gain, 0.0)[..., None]
    return lab_to_rgb(lab)


@dataclass(frozen=True)
class PostProcessSettings:
    """What to do after the network; the defaults do nothing (``enabled`` is False).

    Attributes:
        reference (LabReference | None): histogram target; None: no matching.
        strength (float): 0..1, how far to move the histograms.
        saturation (float): chroma gain - 1 for every colour (0.1: +10 %).
        vibrance (float): extra chroma gain for muted colours (0.2: +20 % for grey-ish ones, 0 for vivid).
        reference_name (str | None): the reference's file, shown by ``describe``.
    """
    reference: LabReference | None = None
    strength: float = 1.0
    saturation: float = 0.0
    vibrance: float = 0.0
    reference_name: str | None = None  # where the reference came from, for describe()

    @property
    def enabled(self):
        return (self.reference is not None and self.strength > 0) or self.saturation != 0 or self.vibrance != 0

    def apply(self, rgb):
        """Post-process one photo (RGB float H,W,3); returns it unchanged (same object) when nothing is on."""
        if not self.enabled:
            return rgb
        out = _check_photo(rgb)
        if self.reference is not None and self.strength > 0:
            out = match_lab_histogram(out, self.reference, self.strength)
        if self.saturation or self.vibrance:
            out = adjust_chroma(out, self.saturation, self.vibrance)
        return out

    def describe(self):
        """One line for logs and reports, e.g. ``CIELAB histogram matching to ref.json (strength 1), saturation
        +0.1``; ``off`` when nothing is on."""
        if not self.enabled:
            return 'off'
        parts = []
        if self.reference is not None and self.strength > 0:
            parts.append(f'CIELAB histogram matching to {self.reference_name or "a reference"} '
                         f'(strength {self.strength:g})')
        if self.saturation:
            parts.append(f'saturation {self.saturation:+g}')
        if self.vibrance:
            parts.append(f'vibrance {self.vibrance:+g}')
        return ', '.join(parts)


# ------------------------------------------------------------ the tools' flags (tiled_infer.py, evaluate.py)

POSTPROCESS_ROW_SUFFIX = '+pp'  # evaluate.py's row of a checkpoint's post-processed output


def load_reference(path):
    """A ``LabReference`` from a JSON file that ``LabReference.save`` wrote, or from one photo (any format the
    tools read: EXIF orientation applied, ICC profiles converted to sRGB)."""
    path = Path(path)
    if path.suffix.lower() == '.json':
        return LabReference.load(path)
    from realestate_sr.inference.photo_io import read_photo  # PIL and the decoders only where a photo is read
    from realestate_sr.utils.photo_decode import PhotoReadError
    try:
        return LabReference.from_photo(read_photo(path).rgb)
    except PhotoReadError as error:
        raise PostProcessError(f'cannot use {path} as the histogram reference: {error}') from error


def postprocess_from_args(args):
    """``PostProcessSettings`` from ``add_postprocess_args``'s flags; PostProcessError on a wrong combination
    or an unreadable reference, before any photo is read."""
    if args.postprocess == MATCH_LAB and not args.reference:
        raise PostProcessError(f'--postprocess {MATCH_LAB} needs --reference PHOTO or STATS.json')
    if args.reference and args.postprocess != MATCH_LAB:
        raise PostProcessError(f'--reference is used only with --postprocess {MATCH_LAB}')
    if not 0.0 <= args.match_strength <= 1.0:
        raise PostProcessError(f'--match-strength must be in [0, 1], got {args.match_strength}')
    if args.saturation <= -1:
        raise PostProcessError(f'--saturation must be above -1 (which removes all colour), got {args.saturation}')
    reference = load_reference(args.reference) if args.postprocess == MATCH_LAB else None
    return PostProcessSettings(reference, args.match_strength, args.saturation, args.vibrance,
                               reference_name=str(args.reference) if reference is not None else None)
