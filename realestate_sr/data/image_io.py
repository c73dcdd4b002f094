"""Reading listing photos: one decode function for every source (disk, LMDB, cache).

Both images of a pair go through :func:`decode_bgr`, so EXIF orientation is
applied the same way to ``src`` and ``tar`` whichever backend stored the bytes
(OpenCV rotates JPEGs by their EXIF orientation tag unless told otherwise).
Decoded images are uint8 BGR, H x W x 3: BGR stays at OpenCV's edge and the
dataset turns it into float32 RGB only after cropping.
"""
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


class ImageReadError(OSError):
    """A file is missing or its bytes do not decode to an image."""


class PairSizeMismatchError(ValueError):
    """The two images of a pair have different sizes (after EXIF orientation)."""


def is_image_file(path):
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_bytes(path):
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise ImageReadError(f'cannot read {path}: {err.strerror or err}') from err


def decode_bgr(buf, name='<bytes>'):
    """Decode encoded image bytes to uint8 BGR (H, W, 3); grey and alpha images become 3-channel.

    16-bit images are scaled to 8 bits by OpenCV (IMREAD_COLOR).
    """
    if buf is None or len(buf) == 0:
        raise ImageReadError(f'{name}: empty image data')
    img = cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ImageReadError(f'{name}: not a decodable image')
    return img


def read_bgr(path):
    """Read an image file (any path, non-ASCII included) as uint8 BGR with EXIF orientation applied."""
    return decode_bgr(read_bytes(path), str(path))


EXIF_ORIENTATION_TAG = 0x0112


def _header(path):
    try:
        with Image.open(path) as img:
            return img.size, int(img.getexif().get(EXIF_ORIENTATION_TAG, 1) or 1)
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise ImageReadError(f'{path}: cannot read the image header: {err}') from err


def exif_orientation(path):
    """The EXIF orientation tag of an image file (1 = as stored; 5-8 swap width and height), 1 when absent."""
    return _header(path)[1]


def image_shape_from_header(path):
    """(H, W, 3) that :func:`read_bgr` will return, from the file header only.

    OpenCV applies the EXIF orientation of JPEG, PNG, WebP and TIFF files, so tags 5-8 swap width and height.
    """
    (width, height), orientation = _header(path)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return height, width, 3


def check_same_size(src, tar, pair_name):
    if src.shape[:2] != tar.shape[:2]:
        raise PairSizeMismatchError(f'pair {pair_name}: src is {src.shape[1]}x{src.shape[0]} but tar is '
                                    f'{tar.shape[1]}x{tar.shape[0]} (width x height, after EXIF orientation)')
