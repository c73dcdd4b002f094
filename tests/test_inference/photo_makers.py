"""Photo files the inference tests make for themselves."""
import hashlib
import io
import struct
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


LAYOUT_TAGS = {0x0100: 'ImageWidth', 0x0101: 'ImageLength', 0x0102: 'BitsPerSample', 0x0103: 'Compression',
               0x0106: 'PhotometricInterpretation', 0x0111: 'StripOffsets', 0x0115: 'SamplesPerPixel',
               0x0116: 'RowsPerStrip', 0x0117: 'StripByteCounts', 0x011C: 'PlanarConfiguration'}


def exif_with_thumbnail(orientation, thumbnail):
    """``exif_with(orientation)`` plus an IFD1 holding ``thumbnail`` (JPEG bytes) at the end, as cameras write it."""
    raw = exif_with(orientation)
    tiff = bytearray(raw[6:])
    endian = '<' if tiff[:2] == b'II' else '>'
    ifd0 = struct.unpack_from(endian + 'I', tiff, 4)[0]
    link = ifd0 + 2 + 12 * struct.unpack_from(endian + 'H', tiff, ifd0)[0]
    tiff += b'\0' * (len(tiff) % 2)
    ifd1 = len(tiff)
    thumbnail_at = ifd1 + 2 + 3 * 12 + 4
    tiff += struct.pack(endian + 'H', 3)
    tiff += struct.pack(endian + 'HHIH2x', 0x0103, 3, 1, 6)  # Compression: JPEG
    tiff += struct.pack(endian + 'HHII', 0x0201, 4, 1, thumbnail_at)
    tiff += struct.pack(endian + 'HHII', 0x0202, 4, 1, len(thumbnail))
    tiff += struct.pack(endian + 'I', 0) + thumbnail
    struct.pack_into(endian + 'I', tiff, link, ifd1)
    return raw[:6] + bytes(tiff)
