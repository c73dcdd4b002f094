"""Reading listing photos: one decode function for every source (disk, LMDB, cache); and the one JPEG writer of
the tools that make photo files (:func:`write_jpeg`).

Both images of a pair go through :func:`decode_bgr`, so EXIF orientation is
applied the same way to ``src`` and ``tar`` whichever backend stored the bytes
(OpenCV rotates images by their EXIF orientation tag unless told otherwise).
Decoded images are uint8 BGR, H x W x 3: BGR stays at OpenCV's edge and the
dataset turns it into float32 RGB only after cropping.

Colour: :func:`read_bgr`, the reader of every training and evaluation file
(dataset, memory cache, LMDB build), converts a file whose embedded ICC profile
is not sRGB (Display P3 from phones, Adobe RGB from cameras) to sRGB through
``realestate_sr.utils.photo_decode``, the decode inference uses, so the network
learns on the same sRGB pixels it is run on. Every other file (the common case)
stays on OpenCV's fast path; looking for a profile decodes no pixels (Pillow reads JPEG/PNG/TIFF headers
only, but a WebP file whole).
LMDB records hold already converted pixels without a profile. ``decode_bgr``
alone returns the stored numbers unless asked ``to_srgb`` (the pair checks ask, to measure what training sees).
"""
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from realestate_sr.utils.output_safety import atomic_write
from realestate_sr.utils.photo_decode import (
    PhotoReadError,
    decode_srgb,
    embedded_profile,
    exif_orientation_of,
    needs_srgb_conversion,
    unsupported_reason,
)


class PairSizeMismatchError(ValueError):
    """The two images of a pair have different sizes (after EXIF orientation)."""


def read_bytes(path):
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise PhotoReadError(f'cannot read {path}: {err.strerror or err}') from err


def decode_bgr(buf, name='<bytes>', to_srgb=False):
    """Decode encoded image bytes to uint8 BGR (H, W, 3); grey and alpha images become 3-channel.

    Args:
        to_srgb (bool): Convert pixels stored with a non-sRGB ICC profile to sRGB exactly as inference does
            (the inference reader's values, rounded to 8 bits). Without it the stored numbers are returned.

    16-bit images are scaled to 8 bits by OpenCV (IMREAD_COLOR).
    """
    if buf is None or len(buf) == 0:
        raise PhotoReadError(f'{name}: empty image data')
    if to_srgb and needs_srgb_conversion(embedded_profile(buf)):
        return _decode_converted_to_srgb(buf, name)
    try:
        img = cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as err:  # some OpenCV builds raise on a corrupt WebP header instead of returning None
        raise PhotoReadError(f'{name}: not a decodable image ({str(err).strip().splitlines()[-1]})') from err
    if img is None:
        raise PhotoReadError(f'{name}: {unsupported_reason(buf) or "not a decodable image"}')
    return img


def _decode_converted_to_srgb(buf, name):
    """The inference reader's upright sRGB pixels, rounded to uint8 BGR."""
    rgb = decode_srgb(buf, name, as_uint8=True).rgb
    return np.ascontiguousarray(rgb[:, :, ::-1])


def read_bgr(path):
    """Read an image file (any path, non-ASCII included) as uint8 sRGB BGR with EXIF orientation applied."""
    return decode_bgr(read_bytes(path), str(path), to_srgb=True)


TIFF_IMAGE_WIDTH, TIFF_IMAGE_LENGTH = 256, 257


def _header(path):
    """((width, height) as stored, EXIF orientation) from the header."""
    try:
        with Image.open(path) as img:
            size = img.size
            if img.format == 'TIFF':
                # Pillow reports a TIFF's size already rotated by its orientation (it rotates while loading)
                size = (img.tag_v2.get(TIFF_IMAGE_WIDTH, size[0]), img.tag_v2.get(TIFF_IMAGE_LENGTH, size[1]))
            return size, exif_orientation_of(img)
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise PhotoReadError(f'{path}: cannot read the image header: {err}') from err


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


def write_jpeg(path, img_bgr_uint8, quality=92, exif_orientation=None, icc_profile=None):
    """Write uint8 BGR pixels as a JPEG file at ``path`` (folders made; a temporary name renamed when complete), at
    ``quality`` with Pillow's defaults (4:2:0 chroma: here the same bytes OpenCV's ``imwrite`` writes), an EXIF
    orientation tag and an ICC profile embedded when given.

    Every data tool that writes JPEG files writes them here: the planted and tone-edit pairs, the preflight's and
    the loader benchmark's synthetic pairs, the benchmark's and the demo set's pairs, evaluate's report thumbnails.
    """
    path = Path(path)
    image = Image.fromarray(np.ascontiguousarray(img_bgr_uint8[..., ::-1]))
    options = {'quality': int(quality)}
    if icc_profile:
        options['icc_profile'] = icc_profile
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        options['exif'] = exif.tobytes()
    atomic_write(path, image, write=lambda handle, pixels: pixels.save(handle, format='JPEG', **options))


def check_same_size(src, tar, pair_name):
    if src.shape[:2] != tar.shape[:2]:
        raise PairSizeMismatchError(f'pair {pair_name}: src is {src.shape[1]}x{src.shape[0]} but tar is '
                                    f'{tar.shape[1]}x{tar.shape[0]} (width x height, after EXIF orientation)')
