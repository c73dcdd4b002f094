"""Tone edits of a real photo (src) into a tar: the brightening a listing editor applies, and the darkening edits
the pair checks must catch. They calibrate the darkening checks (``scripts/speed_pair_checks.py --tone``).

A professional listing edit brightens: about +0.9 EV, the midtones lifted (a gamma of about 0.66 on display
values), the shadows opened by about 15 %, the highlights raised by about 25 % without clipping, the colours a
little calmer (saturation -13 %). ``BRIGHTENING_EDITS`` holds that edit, each of its parts alone, a milder and a
stronger one, and a warm cast removed without any brightening (the good edit closest to a darkening one).
``DARKENING_EDITS`` are what real sets carry by mistake (an export with an inverse gamma, a pair swapped by
exposure, a shadow slider pulled the wrong way, the black point crushed).

Images are float32 BGR in [0, 1], display (sRGB) values; exposure is applied in linear light, as a camera or a
raw editor does, with a soft shoulder that keeps the highlights from clipping.
"""
import json
from pathlib import Path

import numpy as np

from realestate_sr.data.image_io import write_jpeg
from realestate_sr.utils.colour import LUMA_601, linear_to_srgb, luma, srgb_to_linear, to_uint8
from realestate_sr.utils.output_safety import atomic_write


def _luma(img):
    return luma(img[..., ::-1], LUMA_601)


def _with_luma(img, new_y):
    """``img`` with its luminance replaced by ``new_y`` (colour ratios kept), clipped to [0, 1]."""
    y = np.maximum(_luma(img), 1e-4)
    return np.clip(img * (new_y / y)[..., None], 0, 1).astype(np.float32)


def _apply_curve(img, curve):
    """Apply ``curve`` (display luminance -> luminance, vectorised) through a non-decreasing 1024-entry table."""
    x = np.linspace(0, 1, 1024, dtype=np.float32)
    table = np.maximum.accumulate(np.clip(curve(x), 0, 1))
    return _with_luma(img, np.interp(_luma(img), x, table).astype(np.float32))


def exposure(img, ev, shoulder=True):
    """``ev`` stops in linear light; with ``shoulder`` a brightening rolls off to white instead of clipping."""
    gain = np.float32(2.0 ** ev)
    lin = srgb_to_linear(img)
    lin = gain * lin / (1 + (gain - 1) * lin) if shoulder and ev > 0 else lin * gain
    return linear_to_srgb(np.clip(lin, 0, 1)).astype(np.float32)


def white_balance(img, gains_bgr):
    """Channel gains in linear light (a colour cast added or removed)."""
    return np.clip(linear_to_srgb(srgb_to_linear(img) * np.float32(gains_bgr)), 0, 1).astype(np.float32)


def _shadows(c, amount):
    return c * (1 + 1.5 * amount * (1 - c) ** 2)  # about +amount at Y 0.1-0.2, nothing at white


def _highlights(c, amount):
    return c + amount * 4 * c * c * (1 - c)  # about +amount relative at Y 0.7-0.8, nothing at white


def brightening_edit(img, ev=0.0, gamma=1.0, shadows=0.0, highlights=0.0, saturation=0.0):
    """A listing editor's global edit: ``ev`` stops (with a shoulder), midtone ``gamma`` on display luminance,
    ``shadows`` / ``highlights`` (fractions) lifting the dark / light tones (both vanish at white, so nothing
    clips), then ``saturation`` (a fraction: -0.13 = 13 % calmer colours)."""
    out = exposure(img, ev) if ev else img.astype(np.float32)
    out = _apply_curve(out, lambda c: _highlights(_shadows(np.power(c, gamma), shadows), highlights))
    grey = _luma(out)[..., None]
    return np.clip(grey + (1 + saturation) * (out - grey), 0, 1).astype(np.float32)


def crush_shadows(img, black=0.12):
    """Levels with the black point moved up to ``black``: the darkest tones go to black, the rest darker."""
    return _apply_curve(img, lambda c: (c - black) / (1 - black))


def darken_shadows(img, amount=0.3):
    """The shadow slider pulled the wrong way by ``amount``: dark tones darker, none turned black."""
    return _apply_curve(img, lambda c: _shadows(c, -amount))


TYPICAL = {'ev': 0.9, 'gamma': 0.66, 'shadows': 0.15, 'highlights': 0.25, 'saturation': -0.13}

# name -> img -> img; good pairs: (src, edit(src))
BRIGHTENING_EDITS = {
    'typical': lambda img: brightening_edit(img, **TYPICAL),
    'exposure_+0.9ev': lambda img: brightening_edit(img, ev=0.9),
    'midtones_gamma_0.66': lambda img: brightening_edit(img, gamma=0.66),
    'shadows_+15%': lambda img: brightening_edit(img, shadows=0.15),
    'highlights_+25%': lambda img: brightening_edit(img, highlights=0.25),
    'saturation_-13%': lambda img: brightening_edit(img, saturation=-0.13),
    'warm_cast_removed': lambda img: white_balance(img, (1.3, 1.0, 0.75)),  # no brightening: the hardest good one
    'mild': lambda img: brightening_edit(img, ev=0.3, gamma=0.9, shadows=0.05, highlights=0.1, saturation=-0.05),
    'strong': lambda img: brightening_edit(img, ev=1.5, gamma=0.66, shadows=0.25, highlights=0.35,
                                           saturation=-0.2),
}
# Capture changes of planted_pairs.PHOTOMETRIC_CHANGES that leave src brighter than its tar, globally or in the
# shadows (an overexposed capture, a flat or hazy one, a phone's shadow recovery): their edit darkens, which the
# darkening checks flag by design. The other changes make good pairs.
DARKER_TAR_CHANGES = ('over_1ev', 'punchy', 'cool_flat', 'lifted_blacks_vignette', 'shadow_recovery')
# name -> img -> img; bad pairs: (src, edit(src))
DARKENING_EDITS = {
    'exposure_-0.5ev': lambda img: exposure(img, -0.5),
    'exposure_-1ev': lambda img: exposure(img, -1.0),
    'inverse_gamma_1.5': lambda img: _apply_curve(img, lambda c: np.power(c, 1.5)),
    'shadows_-30%': lambda img: darken_shadows(img, 0.3),
    'shadows_crushed': lambda img: crush_shadows(img, 0.12),
}


def write_tone_test_set(root, photos, quality=92):
    """Write every photo of ``photos`` (name -> uint8 BGR) as src and each of its brightening and darkening edits as
    tar (JPEG, under ``root/images``), and ``root/pairs.jsonl`` with ``group`` (``good`` or ``bad``) and ``edit``
    fields; returns the manifest path."""
    root = Path(root)
    rows = []
    for name in sorted(photos):
        src = photos[name]
        src_name = f'images/{name}_src.jpg'
        write_jpeg(root / src_name, src, quality)
        for group, edits in (('good', BRIGHTENING_EDITS), ('bad', DARKENING_EDITS)):
            for edit, apply in edits.items():
                tar_name = f'images/{name}_{edit}.jpg'
                write_jpeg(root / tar_name, to_uint8(apply(src.astype(np.float32) / 255.0)), quality)
                rows.append({'src': src_name, 'tar': tar_name, 'group': group, 'edit': edit})
    manifest = root / 'pairs.jsonl'
    atomic_write(manifest, ''.join(json.dumps(row) + '\n' for row in rows).encode('utf-8'))
    return manifest
