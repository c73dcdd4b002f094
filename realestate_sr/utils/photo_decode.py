"""Decode photo bytes to upright sRGB pixels: the one decode shared by training and inference.

Inference (``realestate_sr.inference.photo_io``) decodes every file here. Training
(``realestate_sr.data.image_io``) decodes with OpenCV, and sends here only the files whose embedded ICC
profile is not sRGB (:func:`needs_srgb_conversion` of :func:`embedded_profile`; whether a profile is sRGB is
decided once per profile by converting a few colours, :func:`srgb_match`),
so the network is trained on the same sRGB pixels it is later run on, and untagged files keep the fast path.

- Colour: an embedded profile is converted to sRGB with LittleCMS (Pillow ImageCms, perceptual intent); a
  profile LittleCMS cannot use is ignored with a note and the pixels are taken as sRGB.
- Orientation: the EXIF orientation is applied (Pillow already applies it while loading a TIFF).
- Bit depth: 16-bit files are read at 16 bits by OpenCV (Pillow truncates 16-bit RGB to 8 bits).
- Alpha is returned separately; grey, palette and CMYK images come out as RGB.

Pixels are float32 H,W,3 RGB in [0, 1], the project's convention.
"""
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from realestate_sr.utils.colour import to_uint8
from realestate_sr.utils.photo_formats import IMAGE_FORMATS
from realestate_sr.utils.tiff_ifd import first_value, ifd_entries, tiff_header

ORIENTATION_TAG = 0x0112
SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile('sRGB'))
SRGB_PROFILE_BYTES = SRGB_PROFILE.tobytes()


def is_image_file(path):
    """Whether ``path``'s extension is one of IMAGE_FORMATS (any case)."""
    return Path(path).suffix.lower() in IMAGE_FORMATS


class PhotoReadError(OSError):
    """A file is empty, truncated, or not an image Pillow/OpenCV can decode."""


@dataclass
class DecodedPixels:
    """Upright sRGB pixels of one file and what the rest of the reader needs to know about it.

    Attributes:
        rgb: float32 H,W,3 RGB in [0, 1] (uint8 in [0, 255] when decoded ``as_uint8``), upright, sRGB.
        alpha: H,W in the same type and range, or None.
        bit_depth: 8 or 16, the precision of the file's samples.
        image: the loaded Pillow image (format, EXIF, info).
        icc: the embedded ICC profile bytes, or None.
        stored_orientation: the EXIF orientation the file was stored with (1 = upright), now applied.
        notes: what was done to the colours, for the log.
    """
    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    image: Image.Image
    icc: bytes | None
    stored_orientation: int
    notes: tuple = ()


# ---------------------------------------------------------------- orientation

def orient_array(array, orientation):
    """Apply an EXIF orientation (1-8) to an H,W[,C] array, as ``ImageOps.exif_transpose`` does."""
    transforms = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(transforms.get(orientation, transforms[1])(array))


def exif_orientation_of(im):
    """The EXIF orientation Pillow reports for ``im`` (1 when absent or unreadable)."""
    try:
        return int(im.getexif().get(ORIENTATION_TAG, 1) or 1)
    except (ValueError, TypeError, OSError):
        return 1


# ---------------------------------------------------------------- colour

@lru_cache(maxsize=64)
def cms_profile(icc):
    """LittleCMS's view of ICC profile bytes, or None when it cannot read them."""
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None


@lru_cache(maxsize=64)
def profile_description(icc):
    """The description of ICC profile bytes, '' when it has none, None when LittleCMS cannot read it."""
    profile = cms_profile(icc)
    if profile is None:
        return None
    try:
        return ImageCms.getProfileDescription(profile).strip()
    except ImageCms.PyCMSError:
        return ''


# every 51st level of R, G and B: 216 colours, enough to catch any matrix or tone-curve difference
SRGB_TEST_GRID = np.stack(np.meshgrid(*[np.arange(0, 256, 51, dtype=np.uint8)] * 3, indexing='ij'),
                          axis=-1).reshape(1, -1, 3)


@lru_cache(maxsize=64)
def srgb_match(icc):
    """Whether ICC profile bytes ``icc`` describe sRGB, decided once per profile by what it does, not its name.

    The :data:`SRGB_TEST_GRID` colours are converted from ``icc`` to sRGB; the profile is sRGB when none moves
    (8-bit integer inputs: a shift above half a level would change the rounded output). This catches sRGB
    profiles named otherwise (Facebook's "c2", "GIMP built-in sRGB"). Returns True, False (another colour
    space, or not an RGB profile), or None when LittleCMS cannot read the profile at all.
    """
    profile = cms_profile(icc)
    if profile is None:
        return None
    try:
        converted = ImageCms.profileToProfile(Image.fromarray(SRGB_TEST_GRID, 'RGB'), profile, SRGB_PROFILE,
                                              outputMode='RGB', renderingIntent=ImageCms.Intent.PERCEPTUAL)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return False
    return bool(np.array_equal(np.asarray(converted), SRGB_TEST_GRID))


def needs_srgb_conversion(icc):
    """Whether :func:`to_srgb` would change the colours of an RGB image tagged with ``icc``.

    False for no profile, an sRGB profile (:func:`srgb_match`), or one LittleCMS cannot read (ignored by
    :func:`to_srgb`).
    """
    return bool(icc) and srgb_match(bytes(icc)) is False


def colour_space_name(icc):
    """A name for the colour space of ICC profile bytes: 'sRGB' for none or any sRGB profile, else its description."""
    if not icc:
        return 'sRGB'
    match = srgb_match(bytes(icc))
    if match is None:
        return f'unreadable ICC profile ({len(icc)} bytes)'
    return 'sRGB' if match else (profile_description(bytes(icc)) or 'unnamed ICC profile')


def embedded_profile(data):
    """The ICC profile embedded in encoded image ``data``, without decoding pixels (a WebP is read whole).

    None when there is none or the header cannot be read (the full decode then reports the problem).
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.info.get('icc_profile') or None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return None


def to_srgb(im, icc, notes):
    """Convert an 8-bit Pillow image in mode RGB/L/CMYK to sRGB RGB through its embedded ``icc`` profile.

    A profile LittleCMS cannot use (broken, or a colour space that does not match the pixels) is ignored
    with a note in ``notes`` (a list) rather than failing the photo.
    """
    if icc:
        icc = bytes(icc)
        profile = cms_profile(icc)  # parsed once per profile, not once per photo
        if profile is None:
            notes.append('embedded ICC profile ignored (LittleCMS cannot read it); pixels taken as sRGB')
        elif im.mode == 'RGB' and srgb_match(icc):
            return im
        else:
            try:
                converted = ImageCms.profileToProfile(im, profile, SRGB_PROFILE, outputMode='RGB',
                                                      renderingIntent=ImageCms.Intent.PERCEPTUAL)
                notes.append(f'converted from {profile_description(icc) or "unnamed profile"} to sRGB')
                return converted
            except (ImageCms.PyCMSError, OSError, ValueError) as err:
                notes.append(f'embedded ICC profile ignored ({err}); pixels taken as sRGB')
    if im.mode == 'CMYK':
        notes.append('CMYK without a usable profile: naive CMYK->RGB conversion')
    return im.convert('RGB')


# ---------------------------------------------------------------- decoding

def is_sixteen_bit(im):
    """Whether an opened (not yet loaded) Pillow image has 16-bit samples."""
    if im.mode.startswith('I;16') or im.mode == 'I':
        return True
    if not im.tile:
        return False
    args = im.tile[0][3]
    rawmode = args if isinstance(args, str) else (args[0] if args and isinstance(args[0], str) else '')
    return ';16' in rawmode


def _split_alpha(im):
    """(colour image, alpha uint8 array or None) for any Pillow mode."""
    has_alpha = im.mode in ('RGBA', 'LA', 'PA', 'RGBa', 'La') or 'transparency' in im.info
    if not has_alpha:
        return im, None
    rgba = im.convert('RGBA')
    colour = rgba.convert('L') if im.mode in ('LA', 'La') else rgba.convert('RGB')
    return colour, np.asarray(rgba.getchannel('A'))


def _decode_eight_bit(im, icc, notes):
    """(rgb, alpha) as uint8 arrays."""
    colour, alpha = _split_alpha(im)
    if colour.mode not in ('RGB', 'L', 'CMYK'):
        colour = colour.convert('RGB')
    return np.asarray(to_srgb(colour, icc, notes)), alpha


def _decode_sixteen_bit(data, icc, notes, name):
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        raise PhotoReadError(f'{name}: 16-bit image that OpenCV cannot decode')
    if array.ndim == 2:
        array = array[:, :, None]
    channels = array.shape[2]
    alpha = array[:, :, -1] if channels in (2, 4) else None
    colour = array[:, :, :3] if channels >= 3 else np.repeat(array[:, :, :1], 3, axis=2)
    if channels >= 3:
        colour = colour[:, :, ::-1]  # OpenCV's BGR -> RGB
    rgb = colour.astype(np.float32) / 65535.0
    if icc:
        # Pillow's LittleCMS binding has no 16-bit RGB mode: convert at 8 bits and keep the
        # 16-bit detail by carrying the per-pixel rounding residual through (a first-order fix).
        eight = to_uint8(rgb)
        notes_before = len(notes)
        converted = to_srgb(Image.fromarray(eight, 'RGB'), icc, notes)
        if len(notes) > notes_before and notes[-1].startswith('converted'):
            rgb = np.clip(np.asarray(converted, np.float32) / 255.0 + (rgb - eight / 255.0), 0.0, 1.0)
            notes[-1] += ' (through LittleCMS at 8 bits per channel)'
    return rgb.astype(np.float32), None if alpha is None else alpha.astype(np.float32) / 65535.0


TIFF_BITS_PER_SAMPLE, TIFF_SAMPLE_FORMAT, TIFF_IEEE_FLOAT = 258, 339, 3


def float_tiff_bits(data):
    """Bits per sample of a TIFF whose first image has floating-point samples, else None (header only)."""
    parsed = tiff_header(data) if data[2:4] in (b'*\0', b'\0*') else None
    if parsed is None:
        return None
    endian, ifd0 = parsed
    values = {tag: first_value(data, endian, entry, field_type, count)
              for entry, tag, field_type, count in ifd_entries(data, endian, ifd0)
              if tag in (TIFF_BITS_PER_SAMPLE, TIFF_SAMPLE_FORMAT)}
    if values.get(TIFF_SAMPLE_FORMAT) == TIFF_IEEE_FLOAT:
        return values.get(TIFF_BITS_PER_SAMPLE) or 32
    return None


def unsupported_reason(data):
    """Why valid image ``data`` cannot be read here, for formats we recognise but do not support; else None."""
    bits = float_tiff_bits(data)
    if bits:
        return f'{bits}-bit float TIFF is not supported; convert to 16-bit integer'
    return None


def decode_srgb(data, name='<bytes>', as_uint8=False):
    """Decode encoded image bytes to upright sRGB :class:`DecodedPixels`.

    With ``as_uint8`` the pixels are uint8 in [0, 255] instead of float32 in [0, 1]: for an 8-bit file
    LittleCMS's output as is (no float round trip), for a 16-bit one the float result rounded.

    Raises:
        PhotoReadError: empty, truncated, undecodable or unsupported (floating-point) data.
    """
    if not data:
        raise PhotoReadError(f'{name}: empty file (0 bytes)')
    reason = unsupported_reason(data)
    if reason:
        raise PhotoReadError(f'{name}: {reason}')
    try:
        im = Image.open(io.BytesIO(data))
        sixteen_bit = is_sixteen_bit(im)  # before load(), which empties im.tile
        # Pillow applies a TIFF's orientation while loading it and drops the tag: read it first
        tiff_orientation = exif_orientation_of(im) if im.format == 'TIFF' else None
        im.load()
    except Image.DecompressionBombError as err:
        raise PhotoReadError(f'{name}: {err}') from err
    except UnidentifiedImageError as err:
        raise PhotoReadError(f'{name}: not an image (unknown or corrupt format)') from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise PhotoReadError(f'{name}: cannot decode ({err})') from err
    icc = im.info.get('icc_profile') or None
    orientation = exif_orientation_of(im)  # what is left to apply (1 for a TIFF, already upright)
    notes = []
    if sixteen_bit:
        rgb, alpha = _decode_sixteen_bit(data, icc, notes, name)
        if as_uint8:
            rgb, alpha = to_uint8(rgb), None if alpha is None else to_uint8(alpha)
        bit_depth = 16
    else:
        rgb, alpha = _decode_eight_bit(im, icc, notes)
        if not as_uint8:
            rgb, alpha = rgb.astype(np.float32) / 255.0, None if alpha is None else alpha.astype(np.float32) / 255.0
        bit_depth = 8
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    return DecodedPixels(
        rgb=orient_array(rgb, orientation),
        alpha=None if alpha is None else orient_array(alpha, orientation),
        bit_depth=bit_depth,
        image=im,
        icc=icc,
        stored_orientation=orientation if tiff_orientation is None else tiff_orientation,
        notes=tuple(notes),
    )
