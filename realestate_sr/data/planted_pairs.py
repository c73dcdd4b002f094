"""Synthetic before/after pairs with known defects, for the pair-check tests, demos and the loader benchmark.

``make_photo`` draws a photo-like image (smooth shading, hard-edged shapes like walls and windows, fine grain);
a good pair is that photo as ``tar`` and a darker, flatter, noisier version as ``src`` (tar is then a consistent
tone curve of src, as in a real edit). ``PLANTED_DEFECTS`` each break exactly one property the checks look for.
"""
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms


def make_photo(height, width, seed):
    """float32 BGR in [0.05, 0.95]: low-frequency shading, rectangles and lines, fine texture."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((max(2, height // 64), max(2, width // 64), 3)).astype(np.float32)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(12):
        y0, x0 = int(rng.integers(0, height)), int(rng.integers(0, width))
        y1, x1 = int(rng.integers(0, height)), int(rng.integers(0, width))
        colour = tuple(float(v) for v in rng.random(3))
        if rng.random() < 0.7:
            cv2.rectangle(img, (x0, y0), (x1, y1), colour, thickness=-1)
        else:
            cv2.line(img, (x0, y0), (x1, y1), colour, thickness=max(1, min(height, width) // 60))
    medium = cv2.resize(rng.random((max(2, height // 8), max(2, width // 8), 1)).astype(np.float32),
                        (width, height), interpolation=cv2.INTER_LINEAR)
    img = 0.75 * img + 0.25 * medium[..., None] if medium.ndim == 2 else 0.75 * img + 0.25 * medium.reshape(height, width, 1)
    return np.clip(0.05 + 0.9 * img, 0.0, 1.0).astype(np.float32)


def amateur_version(tar, seed, gamma=1.6, gain=0.8, noise=0.01):
    """What a hurried capture looks like next to the edit: darker mid-tones, lower gain, a little noise."""
    rng = np.random.default_rng(seed)
    src = gain * np.power(tar, gamma) + rng.normal(0.0, noise, tar.shape).astype(np.float32)
    return np.clip(src, 0.0, 1.0)


def to_uint8(img):
    return (np.clip(img, 0, 1) * 255.0 + 0.5).astype(np.uint8)


def _shift(img, fraction):
    height, width = img.shape[:2]
    matrix = np.float32([[1, 0, fraction * width], [0, 1, fraction * height]])
    return cv2.warpAffine(img, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def _rotate(img, degrees):
    height, width = img.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    return cv2.warpAffine(img, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def _crush_shadows_lift_rest(img):
    """A brightening edit (higher mean) that nonetheless pushes the darkest 30 % of pixels down."""
    y = img @ np.float32([0.114, 0.587, 0.299])
    knee = np.percentile(y, 30)
    curve = 0.6 * y + 2.5 * np.maximum(y - knee, 0)
    return np.clip(img * (curve / np.maximum(y, 1e-4))[..., None], 0, 1)


# defect -> function (src, tar) -> (src, tar) on float images, applied to an otherwise good pair
PLANTED_DEFECTS = {
    'size_mismatch': lambda s, t: (s, cv2.resize(t, (t.shape[1] - 8, t.shape[0] - 6), interpolation=cv2.INTER_AREA)),
    'misaligned': lambda s, t: (s, _rotate(_shift(t, 0.02), 1.0)),
    'tone_curve': lambda s, t: (s, 0.5 + 0.4 * np.sin(12.0 * t)),
    'brightness_outlier': lambda s, t: (s, np.clip(0.55 + 0.45 * np.power(t, 0.5), 0, 1)),
    'darkening_edit': lambda s, t: (s, 0.6 * s),
    'darker_shadows': lambda s, t: (s, _crush_shadows_lift_rest(s)),
    'blurry': lambda s, t: (s, cv2.GaussianBlur(t, (0, 0), max(2.0, max(t.shape[:2]) / 150))),
}
FILE_DEFECTS = ('unreadable', 'exif_orientation', 'profile_mismatch', 'duplicate_across_splits')


def builtin_non_srgb_profile():
    """ICC bytes of a profile that is not sRGB: Pillow's built-in Lab identity.

    Pillow builds no RGB profile but sRGB; callers that have a real wide-gamut one (Display P3 from a phone) pass it
    to :func:`write_planted_set` instead. The pair check notes any profile that is not sRGB, so any stands in.
    """
    return ImageCms.ImageCmsProfile(ImageCms.createProfile('LAB')).tobytes()


def write_jpeg(path, img_bgr_uint8, quality=92, exif_orientation=None, icc_profile=None):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pil = Image.fromarray(np.ascontiguousarray(img_bgr_uint8[..., ::-1]))
    kwargs = {'quality': quality}
    if icc_profile:
        kwargs['icc_profile'] = icc_profile
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs['exif'] = exif.tobytes()
    tmp = path.with_name(path.name + '.tmp')
    pil.save(tmp, format='JPEG', **kwargs)
    tmp.replace(path)


def write_planted_set(root, good=10, size=(384, 512), seed=0, quality=92, foreign_icc=None):
    """Write ``good`` good pairs plus one pair per defect under ``root/images``; returns the manifest path.

    ``root/train.jsonl`` lists every pair (a ``"defect"`` field says what was planted) and ``root/test.jsonl`` holds
    the test-side twin of the duplicate, so a check over both manifests sees a photo in two splits. ``foreign_icc``:
    the non-sRGB profile the profile_mismatch pair's src embeds (default :func:`builtin_non_srgb_profile`).
    """
    root = Path(root)
    height, width = size
    entries, test_entries = [], []

    def add(index, src, tar, defect, target=entries, src_exif=None, tar_img=None, src_icc=None):
        src_name, tar_name = f'images/{index:03d}_src.jpg', f'images/{index:03d}_tar.jpg'
        write_jpeg(root / src_name, to_uint8(src), quality, exif_orientation=src_exif, icc_profile=src_icc)
        write_jpeg(root / tar_name, to_uint8(tar) if tar_img is None else tar_img, quality)
        target.append({'src': src_name, 'tar': tar_name, 'defect': defect})

    def good_pair(index):
        tar = make_photo(height, width, seed + index)
        return amateur_version(tar, seed + 1000 + index), tar

    index = 0
    for _ in range(good):
        add(index, *good_pair(index), 'none')
        index += 1
    for defect, plant in PLANTED_DEFECTS.items():
        add(index, *plant(*good_pair(index)), defect)
        index += 1
    # unreadable: the target export is not an image at all
    add(index, *good_pair(index), 'unreadable')
    (root / entries[-1]['tar']).write_bytes(b'<html>export failed</html>')
    index += 1
    # EXIF: the phone stored src sideways with an orientation tag; the editor rotated pixels of tar the other way
    # and dropped the tag
    src, tar = good_pair(index)
    add(index, np.ascontiguousarray(np.rot90(src, k=1)), tar, 'exif_orientation', src_exif=6,
        tar_img=to_uint8(np.ascontiguousarray(np.rot90(tar, k=1))))
    index += 1
    # colour profile: the phone tagged src with its wide-gamut profile, the editor exported tar untagged (sRGB)
    add(index, *good_pair(index), 'profile_mismatch', src_icc=foreign_icc or builtin_non_srgb_profile())
    index += 1
    # leakage: the same photo, edited twice, once in train and once in test
    src, tar = good_pair(index)
    add(index, src, tar, 'duplicate_across_splits')
    add(index + 1, amateur_version(tar, seed + 5000, gamma=1.4, gain=0.85), tar, 'duplicate_across_splits',
        target=test_entries)
    for name, rows in (('train.jsonl', entries), ('test.jsonl', test_entries)):
        (root / name).write_text(''.join(json.dumps(row) + '\n' for row in rows))
    return root / 'train.jsonl'
