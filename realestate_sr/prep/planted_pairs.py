"""Synthetic before/after pairs with known defects, for the pair-check tests, demos and the loader benchmark.

``make_photo`` draws a photo-like image (smooth shading, hard-edged shapes like walls and windows, fine grain);
a good pair is that photo as ``tar`` and a darker, flatter, noisier version as ``src`` (tar is then a consistent
tone curve of src, as in a real edit). ``PLANTED_DEFECTS`` each break exactly one property the checks look for.
"""
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import ImageCms

from realestate_sr.data.image_io import write_jpeg
from realestate_sr.utils.colour import LUMA_601, linear_to_srgb, srgb_to_linear, to_uint8

BGR_LUMA_601 = np.float32(LUMA_601[::-1])  # the pair checks' luma weights in the order of this module's BGR pixels


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
    img = 0.75 * img + 0.25 * medium[..., None]  # cv2.resize drops the single channel: medium is H,W
    return np.clip(0.05 + 0.9 * img, 0.0, 1.0).astype(np.float32)


def make_low_texture_photo(height, width, seed):
    """float32 BGR: a smooth, vignetted sky-to-wall gradient with nothing sharp in it (an edit denoised to no grain
    at all), the kind of photo whose alignment cannot be measured; ``seed`` shifts the brightness a little."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((xx - width / 2) / width) ** 2 + ((yy - height / 2) / height) ** 2
    base = 0.3 + 0.1 * float(rng.random()) + 0.4 * (1 - yy / height) - 0.5 * r2
    img = np.stack([base + 0.08, base, base - 0.05], axis=-1)
    return np.clip(img, 0.05, 0.95).astype(np.float32)


def amateur_version(tar, seed, gamma=1.6, gain=0.8, noise=0.01):
    """What a hurried capture looks like next to the edit: darker mid-tones, lower gain, a little noise."""
    rng = np.random.default_rng(seed)
    src = gain * np.power(tar, gamma) + rng.normal(0.0, noise, tar.shape).astype(np.float32)
    return np.clip(src, 0.0, 1.0)


def _shift(img, fraction):
    height, width = img.shape[:2]
    matrix = np.float32([[1, 0, fraction * width], [0, 1, fraction * height]])
    return cv2.warpAffine(img, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def _rotate(img, degrees):
    height, width = img.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    return cv2.warpAffine(img, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def _crush_shadows_lift_rest(img):
    """A brightening edit (higher mean) that turns the darkest 30 % of the pixels black: shadow detail lost."""
    y = img @ BGR_LUMA_601
    knee = np.percentile(y, 30)
    curve = np.where(y < knee, 0.0, 0.6 * y + 2.5 * (y - knee))
    return np.clip(img * (curve / np.maximum(y, 1e-4))[..., None], 0, 1)


# defect -> function (src, tar) -> (src, tar) on float images, applied to an otherwise good pair
PLANTED_DEFECTS = {
    'size_mismatch': lambda s, t: (s, cv2.resize(t, (t.shape[1] - 8, t.shape[0] - 6), interpolation=cv2.INTER_AREA)),
    'misaligned': lambda s, t: (s, _rotate(_shift(t, 0.02), 1.0)),
    'tone_curve': lambda s, t: (s, 0.5 + 0.4 * np.sin(12.0 * t)),
    'brightness_outlier': lambda s, t: (s, np.clip(0.55 + 0.45 * np.power(t, 0.5), 0, 1)),
    'darkening_edit': lambda s, t: (s, _exposure(s, -2.5)),  # no exposure fix is 2.5 stops down
    'darker_shadows': lambda s, t: (s, _crush_shadows_lift_rest(s)),
    'blurry': lambda s, t: (s, cv2.GaussianBlur(t, (0, 0), max(2.0, max(t.shape[:2]) / 150))),
}
FILE_DEFECTS = ('unreadable', 'exif_orientation', 'profile_mismatch', 'duplicate_across_splits',
                'alignment_unmeasurable')


def builtin_non_srgb_profile():
    """ICC bytes of a profile that is not sRGB: Pillow's built-in Lab identity.

    Pillow builds no RGB profile but sRGB; callers that have a real wide-gamut one (Display P3 from a phone) pass it
    to :func:`write_planted_set` instead. The pair check notes any profile that is not sRGB, so any stands in.
    """
    return ImageCms.ImageCmsProfile(ImageCms.createProfile('LAB')).tobytes()


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
    # a bare, smooth scene: no structure to measure the alignment on, which is a note, not a defect
    tar = make_low_texture_photo(height, width, seed + index)
    add(index, amateur_version(tar, seed + 1000 + index), tar, 'alignment_unmeasurable')
    index += 1
    # leakage: the same photo, edited twice, once in train and once in test
    src, tar = good_pair(index)
    add(index, src, tar, 'duplicate_across_splits')
    add(index + 1, amateur_version(tar, seed + 5000, gamma=1.4, gain=0.85), tar, 'duplicate_across_splits',
        target=test_entries)
    for name, rows in (('train.jsonl', entries), ('test.jsonl', test_entries)):
        (root / name).write_text(''.join(json.dumps(row) + '\n' for row in rows))
    return root / 'train.jsonl'


# --- a test set of real photographs -----------------------------------------------------------------------------
# Photographs that ship inside the scikit-image wheel (no download, no extra dependency). Only photographs of
# scenes: no drawings, scans of text, microscopy or astronomy frames.
PACKAGE_PHOTOS = ('astronaut.png', 'coffee.png', 'chelsea.png', 'rocket.jpg', 'motorcycle_left.png',
                  'motorcycle_right.png', 'camera.png', 'coins.png', 'moon.png', 'brick.png', 'grass.png',
                  'gravel.png')


def package_photo_dir():
    import skimage.data
    return Path(skimage.data.__file__).parent


def load_package_photos(names=PACKAGE_PHOTOS, size=None):
    """name -> uint8 BGR of the photographs that are installed; ``size`` (W, H) resizes (bicubic) to that size."""
    photos = {}
    for name in names:
        path = package_photo_dir() / name
        if not path.is_file():
            continue
        img = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            continue
        if size is not None:
            img = cv2.resize(img, tuple(size), interpolation=cv2.INTER_CUBIC)
        photos[Path(name).stem] = img
    return photos


def _exposure(img, ev):
    return linear_to_srgb(srgb_to_linear(img) * 2.0 ** ev)


def _white_balance(img, gains_bgr):
    return linear_to_srgb(srgb_to_linear(img) * np.float32(gains_bgr))


def _vignette(img, strength):
    """Linear-light falloff to ``1 - strength`` in the corners, as a wide phone lens gives."""
    height, width = img.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2
    falloff = 1.0 - strength * np.clip(r2 / 2.0, 0, 1)
    return linear_to_srgb(srgb_to_linear(img) * falloff[..., None])


def _lift_blacks(img, black):
    return black + (1.0 - black) * img


def _contrast(img, amount):
    return np.clip(0.5 + amount * (img - 0.5), 0, 1)


def _shadow_recovery(img, strength):
    """A phone's HDR look: shadows lifted by a luminance-driven gain, highlights kept."""
    y = np.maximum(img @ BGR_LUMA_601, 1e-4)
    lifted = y ** (1.0 - strength)
    return np.clip(img * (lifted / y)[..., None], 0, 1)


def _noise(img, sigma, rng):
    height, width = img.shape[:2]
    grain = rng.normal(0, sigma, (height, width, 1)) + rng.normal(0, sigma / 2, (height, width, 3))
    return np.clip(img + grain.astype(np.float32), 0, 1)


def _jpeg(img, quality):
    ok, buf = cv2.imencode('.jpg', to_uint8(img), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR).astype(np.float32) / 255.0


# good pairs: the photograph is tar, src is made from it by photometric changes only (no pixel moves)
PHOTOMETRIC_CHANGES = {
    'under_2ev_noisy': lambda t, rng: _jpeg(_noise(_exposure(t, -2.0), 0.012, rng), 85),
    'under_1ev_warm': lambda t, rng: _white_balance(_exposure(t, -1.0), (0.7, 1.0, 1.3)),
    'over_1ev': lambda t, rng: _exposure(t, 1.0),
    'cool_flat': lambda t, rng: _contrast(_white_balance(t, (1.35, 1.0, 0.75)), 0.65),
    'lifted_blacks_vignette': lambda t, rng: _vignette(_lift_blacks(t, 0.15), 0.5),
    'shadow_recovery': lambda t, rng: _shadow_recovery(t, 0.5),
    'noise_jpeg50': lambda t, rng: _jpeg(_noise(t, 0.03, rng), 50),
    'vignette_under_1ev': lambda t, rng: _vignette(_exposure(t, -1.0), 0.6),
    'punchy': lambda t, rng: _contrast(_exposure(t, 0.5), 1.3),
}


def _warp(img, dx=0.0, dy=0.0, degrees=0.0, scale=1.0):
    height, width = img.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, scale)
    matrix[:, 2] += (dx, dy)
    return cv2.warpAffine(img, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def _crop_rescale(img, fraction):
    """The editor cropped ``fraction`` off the left and top and scaled back to the original size."""
    height, width = img.shape[:2]
    crop = img[round(fraction * height):, round(fraction * width):]
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC)


# geometric defects, planted on the tar of a good pair; (tar, other photo's tar) -> tar; sizes in full-res px
GEOMETRIC_DEFECTS = {
    'shift_2px': lambda t, o: _warp(t, dx=2.0),
    'shift_4px': lambda t, o: _warp(t, dx=2.4, dy=-3.2),
    'shift_12px': lambda t, o: _warp(t, dx=-12.0),
    'rotation_0.5deg': lambda t, o: _warp(t, degrees=0.5),
    'rotation_2deg': lambda t, o: _warp(t, degrees=-2.0),
    'scale_2pct': lambda t, o: _warp(t, scale=1.02),
    'crop_rescale': lambda t, o: _crop_rescale(t, 0.03),
    'swapped_pair': lambda t, o: o,
}
EXIF_DEFECTS = {'exif_rotate180': 3, 'exif_rotate90': 6}  # src carries this orientation tag, tar none


def photo_test_pairs(photos, seed=0):
    """Yield (name, kind, src uint8, tar uint8, src EXIF orientation or None) for every photo: one good pair per
    photometric change, then one pair per geometric and EXIF defect, each planted on a good pair (the changes taken
    in turn). ``kind`` is ``good:<change>`` or the defect name."""
    names = sorted(photos)
    changes = list(PHOTOMETRIC_CHANGES)
    defects = list(GEOMETRIC_DEFECTS) + list(EXIF_DEFECTS)
    for p, name in enumerate(names):
        tar = photos[name].astype(np.float32) / 255.0
        rng = np.random.default_rng(seed + p)
        for change in changes:
            yield f'{name}_{change}', f'good:{change}', to_uint8(PHOTOMETRIC_CHANGES[change](tar, rng)), \
                to_uint8(tar), None
        for d, defect in enumerate(defects):
            change = changes[(p + d) % len(changes)]
            src = to_uint8(PHOTOMETRIC_CHANGES[change](tar, rng))
            if defect in EXIF_DEFECTS:
                yield f'{name}_{defect}', defect, src, to_uint8(tar), EXIF_DEFECTS[defect]
                continue
            other = photos[names[(p + 1) % len(names)]].astype(np.float32) / 255.0
            if other.shape != tar.shape:
                other = cv2.resize(other, (tar.shape[1], tar.shape[0]), interpolation=cv2.INTER_AREA)
            yield f'{name}_{defect}', defect, src, to_uint8(GEOMETRIC_DEFECTS[defect](tar, other)), None


def write_photo_test_set(root, photos, seed=0, quality=92):
    """Write :func:`photo_test_pairs` as JPEGs under ``root/images`` and ``root/pairs.jsonl`` (with ``defect``:
    ``none`` for good pairs, and ``change``); returns the manifest path."""
    root = Path(root)
    rows = []
    for name, kind, src, tar, src_exif in photo_test_pairs(photos, seed):
        src_name, tar_name = f'images/{name}_src.jpg', f'images/{name}_tar.jpg'
        write_jpeg(root / src_name, src, quality, exif_orientation=src_exif)
        write_jpeg(root / tar_name, tar, quality)
        good = kind.startswith('good:')
        rows.append({'src': src_name, 'tar': tar_name, 'defect': 'none' if good else kind,
                     'change': kind[5:] if good else ''})
    manifest = root / 'pairs.jsonl'
    manifest.write_text(''.join(json.dumps(row) + '\n' for row in rows))
    return manifest
