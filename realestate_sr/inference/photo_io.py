"""Reading and writing listing photos the way cameras, phones and editors make them.

Decisions (see docs/inference.md for the reasons):
- Orientation: the EXIF orientation is applied on reading, so the network sees
  the photo upright at its displayed size; the output keeps the input's EXIF
  bytes with the orientation tag set to 1 (the EXIF preview image is dropped
  when the photo was rotated; a TIFF, whose EXIF is its own IFD, passes on only
  its metadata tags, not its layout tags).
- Colour: pixels are converted to sRGB (the space the network was trained in)
  when the file embeds a profile, by ``realestate_sr.utils.photo_decode``, the
  decode training uses too; outputs are written as sRGB: tagged with an sRGB
  profile when the input was tagged, untagged (which viewers read as sRGB) when
  it was not.
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
from PIL import Image

from realestate_sr.utils.photo_decode import (
    ORIENTATION_TAG,
    SRGB_PROFILE_BYTES,
    PhotoReadError,
    decode_srgb,
)
from realestate_sr.utils.photo_formats import FORMATS
from realestate_sr.utils.tiff_ifd import SHORT, first_value, ifd_entries, next_ifd_link, tiff_header

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
# The IFD0 tags a TIFF may pass on to its output's EXIF: those describing the photo. Its layout tags
# (ImageWidth, StripOffsets, Compression, ...) describe the input file, and its colour tags (ICC profile,
# WhitePoint, ...) a colour space the output is no longer in.
METADATA_TAGS = (
    269, 270, 271, 272,  # DocumentName, ImageDescription, Make, Model
    282, 283, 296,  # XResolution, YResolution, ResolutionUnit
    285, 305, 306, 315, 316, 33432,  # PageName, Software, DateTime, Artist, HostComputer, Copyright
    18246, 18249, 40091, 40092, 40093, 40094, 40095,  # Rating, RatingPercent, Windows XPTitle ... XPSubject
    EXIF_IFD, GPS_IFD,
)


class PhotoWriteError(OSError):
    """An enhanced photo cannot be encoded in the requested format."""


@dataclass
class ListingPhoto:
    """One decoded photo, upright and in sRGB.

    Attributes:
        rgb: float32 H,W,3 RGB in [0, 1].
        alpha: float32 H,W in [0, 1], or None.
        bit_depth: 8 or 16, the precision of the file's samples.
        exif: EXIF bytes (``Exif\\0\\0`` + TIFF) for the upright output (orientation 1), or None.
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


# ---------------------------------------------------------------- EXIF

EXIF_HEADER = b'Exif\x00\x00'
THUMBNAIL_OFFSET_TAG, THUMBNAIL_LENGTH_TAG = 0x0201, 0x0202


def _split_exif(exif):
    """(``Exif\\0\\0`` header or b'', TIFF body as a bytearray to patch)."""
    body_start = len(EXIF_HEADER) if exif.startswith(EXIF_HEADER) else 0
    return bytes(exif[:body_start]), bytearray(exif[body_start:])


def reset_orientation(exif):
    """``exif`` (``Exif\\0\\0`` + TIFF bytes) with IFD0's orientation set to 1; every other byte kept.

    Patching in place keeps maker notes, GPS and sub-IFDs exactly as the camera wrote them,
    which a decode/re-encode of the EXIF structure does not guarantee.
    """
    header, tiff = _split_exif(exif)
    parsed = tiff_header(tiff)
    if parsed is None:
        return bytes(exif)
    endian, ifd0 = parsed
    for entry, tag, field_type, _ in ifd_entries(tiff, endian, ifd0):
        if tag == ORIENTATION_TAG and field_type == SHORT:  # the value is stored in the entry itself
            struct.pack_into(endian + 'H', tiff, entry + 8, 1)
    return header + bytes(tiff)


def drop_thumbnail(exif):
    """``exif`` without its IFD1 (the embedded preview JPEG); IFD0 and its sub-IFDs byte for byte.

    The link from IFD0 to IFD1 is cleared, and the preview's bytes are cut off when they end the block
    (where cameras and Pillow put them); elsewhere they stay as unreferenced bytes.
    """
    header, tiff = _split_exif(exif)
    parsed = tiff_header(tiff)
    link = None if parsed is None else next_ifd_link(tiff, *parsed)
    if link is None:
        return bytes(exif)
    endian = parsed[0]
    ifd1 = struct.unpack_from(endian + 'I', tiff, link)[0]
    if ifd1 == 0:
        return bytes(exif)
    struct.pack_into(endian + 'I', tiff, link, 0)
    thumbnail = {tag: first_value(tiff, endian, entry, field_type, count)
                 for entry, tag, field_type, count in ifd_entries(tiff, endian, ifd1)
                 if tag in (THUMBNAIL_OFFSET_TAG, THUMBNAIL_LENGTH_TAG)}
    start, length = thumbnail.get(THUMBNAIL_OFFSET_TAG), thumbnail.get(THUMBNAIL_LENGTH_TAG)
    if start and length and start > link and start + length == len(tiff):
        del tiff[start:]
    return header + bytes(tiff)


def metadata_exif(tags):
    """EXIF bytes holding only the metadata of ``tags`` (a Pillow ``Image.Exif``), orientation 1.

    For files whose EXIF is their own IFD0 (TIFF): its layout tags would describe the input file and
    break the output (Pillow's TIFF encoder fails on them; a JPEG would carry a wrong width).
    """
    kept = Image.Exif()
    for tag in METADATA_TAGS:
        if tag in tags:
            kept[tag] = tags.get_ifd(tag) if tag in (EXIF_IFD, GPS_IFD) else tags[tag]
    if not len(kept):
        return None
    kept[ORIENTATION_TAG] = 1
    return kept.tobytes()


def _has_sub_ifds(exif):
    if not exif:
        return False
    tags = Image.Exif()
    tags.load(exif)
    return EXIF_IFD in tags or GPS_IFD in tags


def _output_exif(im, stored_orientation):
    """The EXIF for the upright output of ``im``, or None."""
    raw = im.info.get('exif')
    if raw:
        exif = reset_orientation(bytes(raw))
        # the preview stays as the camera stored it: sideways once the photo is upright
        return drop_thumbnail(exif) if stored_orientation != 1 else exif
    try:
        tags = im.getexif()
    except (OSError, ValueError, TypeError):
        return None
    return metadata_exif(tags) if len(tags) else None


# ---------------------------------------------------------------- reading

def decode_photo(data, name='<bytes>'):
    """Decode encoded image bytes to an upright sRGB :class:`ListingPhoto`.

    Raises:
        PhotoReadError: empty, truncated, undecodable or unsupported data.
    """
    pixels = decode_srgb(data, name)
    return ListingPhoto(
        rgb=pixels.rgb,
        alpha=pixels.alpha,
        bit_depth=pixels.bit_depth,
        exif=_output_exif(pixels.image, pixels.stored_orientation),
        source_format=pixels.image.format or 'unknown',
        tagged=bool(pixels.icc),
        notes=pixels.notes,
    )


def read_photo(path):
    """Read ``path`` (any name, non-ASCII included) as a :class:`ListingPhoto`."""
    try:
        data = open(path, 'rb').read()
    except OSError as err:
        raise PhotoReadError(f'{path}: cannot read ({err.strerror or err})') from err
    return decode_photo(data, str(path))


# ---------------------------------------------------------------- writing

def _quantise(array, bit_depth):
    top = 65535.0 if bit_depth == 16 else 255.0
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    return np.clip(np.rint(array * top), 0, top).astype(dtype)


def _png_chunk(kind, payload):
    return struct.pack('>I', len(payload)) + kind + payload + struct.pack('>I', zlib.crc32(kind + payload))


def _encode_sixteen_bit(pixels, fmt, exif, icc):
    """16-bit PNG/TIFF through OpenCV; PNG gets iCCP/eXIf chunks spliced in after IHDR."""
    bgr = pixels[:, :, [2, 1, 0, 3][:pixels.shape[2]]]
    level = FORMATS[fmt].save_options.get('compress_level')
    params = [] if level is None else [cv2.IMWRITE_PNG_COMPRESSION, level]
    ok, encoded = cv2.imencode(FORMATS[fmt].extension, bgr, params)
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
    """Encode the enhanced ``rgb`` (float32 H,W,3 in [0,1]) with ``photo``'s alpha, EXIF and colour tag as
    ``fmt`` (a name of utils.photo_formats.FORMATS) says.

    Returns the file's bytes. 16-bit sources stay 16-bit in PNG/TIFF.
    """
    if rgb.shape[:2] != photo.rgb.shape[:2]:
        raise PhotoWriteError(f'enhanced image is {rgb.shape[1]}x{rgb.shape[0]}, '
                              f'source is {photo.rgb.shape[1]}x{photo.rgb.shape[0]}')
    spec = FORMATS[fmt]
    icc = SRGB_PROFILE_BYTES if photo.tagged else None
    bit_depth = 16 if photo.bit_depth == 16 and spec.sixteen_bit else 8
    channels = [rgb] if photo.alpha is None or not spec.alpha else [rgb, photo.alpha[:, :, None]]
    pixels = _quantise(np.concatenate(channels, axis=2), bit_depth)
    if bit_depth == 16:
        return _encode_sixteen_bit(pixels, fmt, photo.exif, icc)
    im = Image.fromarray(pixels, 'RGBA' if pixels.shape[2] == 4 else 'RGB')
    options = dict(spec.save_options)
    if spec.quality:
        options['quality'] = quality
    if spec.metadata and icc:
        options['icc_profile'] = icc
    if spec.metadata and photo.exif:
        options['exif'] = photo.exif
    if fmt == 'TIFF' and _has_sub_ifds(photo.exif):
        # Pillow compresses TIFF through libtiff, which cannot write EXIF's sub-IFDs (capture data, GPS):
        # with those the TIFF is written uncompressed rather than without its metadata
        del options['compression']
    buffer = io.BytesIO()
    try:
        im.save(buffer, fmt, **options)
    except (OSError, ValueError, KeyError) as err:
        raise PhotoWriteError(f'cannot encode {fmt}: {err}') from err
    return buffer.getvalue()
