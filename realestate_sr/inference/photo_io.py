"""Reading and writing listing photos the way cameras, phones and editors make them.

Decisions (see docs/inference.md for the reasons):
- Orientation: the EXIF orientation is applied on reading, so the network sees
  the photo upright at its displayed size; the output keeps the input's EXIF
  bytes with the orientation tag set to 1.
- Colour: pixels are converted to sRGB (the space the network was trained in)
  with LittleCMS through Pillow's ImageCms when the file embeds a profile, and
  outputs are written as sRGB: tagged with an sRGB profile when the input was
  tagged, untagged (which viewers read as sRGB) when it was not.
- Bit depth: 16-bit PNG/TIFF are read at 16 bits (OpenCV; Pillow truncates
  16-bit RGB to 8) and written back at 16 bits when the output format is PNG or
  TIFF; JPEG/WebP outputs are 8-bit.
- Alpha: passed through untouched (the network edits RGB only); an image with
  alpha whose requested output format cannot hold it (JPEG) is written as PNG.
- Grayscale and CMYK inputs are converted to sRGB RGB and written as RGB.

Pixels travel as float32 H,W,3 RGB in [0, 1], the project's convention.
"""
import io
import struct
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

ORIENTATION_TAG = 0x0112
SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile('sRGB'))
SRGB_PROFILE_BYTES = SRGB_PROFILE.tobytes()

# Pillow format name of the decoded file -> format we write for --format same.
# MPO is how Pillow names the JPEGs many phones write (JPEG plus a depth/preview image).
SAME_FORMAT = {'JPEG': 'JPEG', 'MPO': 'JPEG', 'PNG': 'PNG', 'TIFF': 'TIFF', 'WEBP': 'WEBP', 'BMP': 'BMP'}
ALPHA_FORMATS = ('PNG', 'TIFF', 'WEBP')
SIXTEEN_BIT_FORMATS = ('PNG', 'TIFF')
FORMAT_EXTENSIONS = {'JPEG': '.jpg', 'PNG': '.png', 'TIFF': '.tif', 'WEBP': '.webp', 'BMP': '.bmp'}


class PhotoReadError(OSError):
    """A file is empty, truncated, or not an image Pillow/OpenCV can decode."""


class PhotoWriteError(OSError):
    """An enhanced photo cannot be encoded in the requested format."""


@dataclass
class ListingPhoto:
    """One decoded photo, upright and in sRGB.

    Attributes:
        rgb: float32 H,W,3 RGB in [0, 1].
        alpha: float32 H,W in [0, 1], or None.
        bit_depth: 8 or 16, the precision of the file's samples.
        exif: EXIF bytes (``Exif\\0\\0`` + TIFF) with orientation reset to 1, or None.
        source_format: Pillow's format name ('JPEG', 'MPO', 'PNG', 'TIFF', 'WEBP', 'BMP', ...).
        tagged: whether the file embedded an ICC profile (the output is then tagged sRGB).
        notes: what was done to the colours, for the log.
    """
    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    exif: bytes | None
    source_format: str
    tagged: bool
    notes: tuple = ()

    @property
    def megapixels(self):
        return self.rgb.shape[0] * self.rgb.shape[1] / 1e6


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


def reset_orientation(exif):
    """``exif`` (``Exif\\0\\0`` + TIFF bytes) with IFD0's orientation set to 1; every other byte kept.

    Patching in place keeps maker notes, GPS and sub-IFDs exactly as the camera wrote them,
    which a decode/re-encode of the EXIF structure does not guarantee.
    """
    header = b'Exif\x00\x00'
    body_start = len(header) if exif.startswith(header) else 0
    tiff = bytearray(exif[body_start:])
    if len(tiff) < 8 or tiff[:2] not in (b'II', b'MM'):
        return bytes(exif)
    endian = '<' if tiff[:2] == b'II' else '>'
    ifd_offset = struct.unpack_from(endian + 'I', tiff, 4)[0]
    if ifd_offset + 2 > len(tiff):
        return bytes(exif)
    count = struct.unpack_from(endian + 'H', tiff, ifd_offset)[0]
    for index in range(count):
        entry = ifd_offset + 2 + 12 * index
        if entry + 12 > len(tiff):
            break
        tag, field_type = struct.unpack_from(endian + 'HH', tiff, entry)
        if tag == ORIENTATION_TAG and field_type == 3:  # SHORT, value stored in the entry itself
            struct.pack_into(endian + 'H', tiff, entry + 8, 1)
    return bytes(exif[:body_start]) + bytes(tiff)


# ---------------------------------------------------------------- reading

def _is_sixteen_bit(im):
    if im.mode.startswith('I;16') or im.mode == 'I':
        return True
    if not im.tile:
        return False
    args = im.tile[0][3]
    rawmode = args if isinstance(args, str) else (args[0] if args and isinstance(args[0], str) else '')
    return ';16' in rawmode


def _profile_description(profile):
    try:
        return ImageCms.getProfileDescription(profile).strip() or 'unnamed profile'
    except ImageCms.PyCMSError:
        return 'unnamed profile'


def _to_srgb(im, icc, notes):
    """Convert an 8-bit Pillow image in mode RGB/L/CMYK to sRGB RGB through its embedded ``icc`` profile.

    A profile LittleCMS cannot use (broken, or a colour space that does not
    match the pixels) is ignored with a note rather than failing the photo.
    """
    if icc:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            description = _profile_description(profile)
            if description.lower().startswith('srgb') and im.mode == 'RGB':
                return im
            converted = ImageCms.profileToProfile(im, profile, SRGB_PROFILE, outputMode='RGB',
                                                  renderingIntent=ImageCms.Intent.PERCEPTUAL)
            notes.append(f'converted from {description} to sRGB')
            return converted
        except (ImageCms.PyCMSError, OSError, ValueError) as err:
            notes.append(f'embedded ICC profile ignored ({err}); pixels taken as sRGB')
    if im.mode == 'CMYK':
        notes.append('CMYK without a usable profile: naive CMYK->RGB conversion')
    return im.convert('RGB')


def _split_alpha_pillow(im):
    """(colour image, alpha uint8 array or None) for any Pillow mode."""
    has_alpha = im.mode in ('RGBA', 'LA', 'PA', 'RGBa', 'La') or 'transparency' in im.info
    if not has_alpha:
        return im, None
    rgba = im.convert('RGBA')
    colour = rgba.convert('L') if im.mode in ('LA', 'La') else rgba.convert('RGB')
    return colour, np.asarray(rgba.getchannel('A'))


def _decode_eight_bit(im, icc, notes):
    colour, alpha = _split_alpha_pillow(im)
    if colour.mode not in ('RGB', 'L', 'CMYK'):
        colour = colour.convert('RGB')
    rgb = np.asarray(_to_srgb(colour, icc, notes), dtype=np.float32) / 255.0
    return rgb, None if alpha is None else alpha.astype(np.float32) / 255.0


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
        eight = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
        notes_before = len(notes)
        converted = _to_srgb(Image.fromarray(eight, 'RGB'), icc, notes)
        if len(notes) > notes_before and notes[-1].startswith('converted'):
            rgb = np.clip(np.asarray(converted, np.float32) / 255.0 + (rgb - eight / 255.0), 0.0, 1.0)
            notes[-1] += ' (through LittleCMS at 8 bits per channel)'
    return rgb.astype(np.float32), None if alpha is None else alpha.astype(np.float32) / 65535.0


def _raw_exif(im):
    exif = im.info.get('exif')
    if exif:
        return bytes(exif)
    tags = im.getexif()
    return tags.tobytes() if len(tags) else None


def decode_photo(data, name='<bytes>'):
    """Decode encoded image bytes to an upright sRGB :class:`ListingPhoto`.

    Raises:
        PhotoReadError: empty, truncated or undecodable data.
    """
    if not data:
        raise PhotoReadError(f'{name}: empty file (0 bytes)')
    try:
        im = Image.open(io.BytesIO(data))
        sixteen_bit = _is_sixteen_bit(im)  # before load(), which empties im.tile
        im.load()
    except Image.DecompressionBombError as err:
        raise PhotoReadError(f'{name}: {err}') from err
    except UnidentifiedImageError as err:
        raise PhotoReadError(f'{name}: not an image (unknown or corrupt format)') from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise PhotoReadError(f'{name}: cannot decode ({err})') from err
    icc = im.info.get('icc_profile')
    try:
        orientation = int(im.getexif().get(ORIENTATION_TAG, 1))
    except (ValueError, TypeError, OSError):
        orientation = 1
    notes = []
    if sixteen_bit:
        rgb, alpha = _decode_sixteen_bit(data, icc, notes, name)
        bit_depth = 16
    else:
        rgb, alpha = _decode_eight_bit(im, icc, notes)
        bit_depth = 8
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    exif = _raw_exif(im)
    return ListingPhoto(
        rgb=orient_array(rgb, orientation),
        alpha=None if alpha is None else orient_array(alpha, orientation),
        bit_depth=bit_depth,
        exif=None if exif is None else reset_orientation(exif),
        source_format=im.format or 'unknown',
        tagged=bool(icc),
        notes=tuple(notes),
    )


def read_photo(path):
    """Read ``path`` (any name, non-ASCII included) as a :class:`ListingPhoto`."""
    try:
        data = open(path, 'rb').read()
    except OSError as err:
        raise PhotoReadError(f'{path}: cannot read ({err.strerror or err})') from err
    return decode_photo(data, str(path))


# ---------------------------------------------------------------- writing

def output_format(photo_or_none, requested, source_suffix):
    """The Pillow format to write for ``requested`` ('jpeg', 'png', 'same').

    ``photo_or_none`` may be None when planning names before decoding; then an
    image with alpha cannot be foreseen and JPEG is returned for 'jpeg'.
    """
    if requested == 'same':
        fmt = SAME_FORMAT.get(photo_or_none.source_format, 'PNG') if photo_or_none else _format_of_suffix(
            source_suffix)
    else:
        fmt = requested.upper()
    if photo_or_none is not None and photo_or_none.alpha is not None and fmt not in ALPHA_FORMATS:
        fmt = 'PNG'
    return fmt


def _format_of_suffix(suffix):
    suffix = suffix.lower()
    for fmt, extensions in (('JPEG', ('.jpg', '.jpeg', '.jpe')), ('PNG', ('.png',)), ('TIFF', ('.tif', '.tiff')),
                            ('WEBP', ('.webp',)), ('BMP', ('.bmp',))):
        if suffix in extensions:
            return fmt
    return 'PNG'


def _quantise(array, bit_depth):
    top = 65535.0 if bit_depth == 16 else 255.0
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    return np.clip(np.rint(array * top), 0, top).astype(dtype)


def _png_chunk(kind, payload):
    return struct.pack('>I', len(payload)) + kind + payload + struct.pack('>I', zlib.crc32(kind + payload))


def _encode_sixteen_bit(pixels, fmt, exif, icc):
    """16-bit PNG/TIFF through OpenCV; PNG gets iCCP/eXIf chunks spliced in after IHDR."""
    bgr = pixels[:, :, [2, 1, 0, 3][:pixels.shape[2]]]
    params = [cv2.IMWRITE_PNG_COMPRESSION, 3] if fmt == 'PNG' else []
    ok, encoded = cv2.imencode('.png' if fmt == 'PNG' else '.tif', bgr, params)
    if not ok:
        raise PhotoWriteError(f'OpenCV could not encode a 16-bit {fmt}')
    data = encoded.tobytes()
    if fmt != 'PNG':
        return data
    extra = b''
    if icc:
        extra += _png_chunk(b'iCCP', b'sRGB\x00\x00' + zlib.compress(icc))
    if exif:
        extra += _png_chunk(b'eXIf', exif[6:] if exif.startswith(b'Exif\x00\x00') else exif)
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return data[:ihdr_end] + extra + data[ihdr_end:]


def encode_photo(rgb, photo, fmt, quality=95):
    """Encode the enhanced ``rgb`` (float32 H,W,3 in [0,1]) with ``photo``'s alpha, EXIF and colour tag.

    Returns the file's bytes. 16-bit sources stay 16-bit in PNG/TIFF.
    """
    if rgb.shape[:2] != photo.rgb.shape[:2]:
        raise PhotoWriteError(f'enhanced image is {rgb.shape[1]}x{rgb.shape[0]}, '
                              f'source is {photo.rgb.shape[1]}x{photo.rgb.shape[0]}')
    icc = SRGB_PROFILE_BYTES if photo.tagged else None
    bit_depth = 16 if photo.bit_depth == 16 and fmt in SIXTEEN_BIT_FORMATS else 8
    channels = [rgb] if photo.alpha is None or fmt not in ALPHA_FORMATS else [rgb, photo.alpha[:, :, None]]
    pixels = _quantise(np.concatenate(channels, axis=2), bit_depth)
    if bit_depth == 16:
        return _encode_sixteen_bit(pixels, fmt, photo.exif, icc)
    im = Image.fromarray(pixels, 'RGBA' if pixels.shape[2] == 4 else 'RGB')
    options = {}
    if icc:
        options['icc_profile'] = icc
    if photo.exif:
        options['exif'] = photo.exif
    if fmt == 'JPEG':
        options.update(quality=quality, subsampling=0)
    elif fmt == 'WEBP':
        options.update(quality=quality)
    elif fmt == 'PNG':
        options.update(compress_level=3)
    elif fmt == 'TIFF':
        options.update(compression='tiff_lzw')
    elif fmt == 'BMP':
        options = {}
    buffer = io.BytesIO()
    try:
        im.save(buffer, fmt, **options)
    except (OSError, ValueError, KeyError) as err:
        raise PhotoWriteError(f'cannot encode {fmt}: {err}') from err
    return buffer.getvalue()
