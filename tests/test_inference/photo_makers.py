"""Photo files the inference tests make for themselves."""
import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

ORIENTATION_TAG = 0x0112


def smooth_rgb(height, width, seed=0, dtype=np.uint8):
    """A smooth, photo-like RGB gradient with some texture (random images JPEG-compress badly)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    phases = rng.uniform(0, 6.28, 3)
    img = np.stack([0.5 + 0.4 * np.sin(xx / 37 + yy / 53 + p) for p in phases], axis=2)
    img += rng.normal(0, 0.02, img.shape)
    top = 65535 if dtype == np.uint16 else 255
    return np.clip(np.rint(img * top), 0, top).astype(dtype)


def encode_pil(array, fmt, mode=None, **options):
    """Encoded bytes of ``array`` saved by Pillow as ``fmt`` (options: exif=, icc_profile=, quality=...)."""
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, fmt, **options)
    return buffer.getvalue()


def tree_digest(root):
    """{relative path: sha256} of every file under ``root`` (hidden ones included)."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


GPS_IFD, MAKE = 0x8825, 0x010F


def exif_with(orientation, make='TestCam'):
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    exif[MAKE] = make
    exif.get_ifd(GPS_IFD)[2] = (40.0, 26.0, 46.0)  # GPSLatitude: stands for the EXIF a listing must keep
    return exif.tobytes()
