"""The photo formats the tools read and write (``FORMATS``, named as Pillow names them), and the one decision of
an output's format (``output_format``), for tiled_infer.py's ``--format`` and the service's ``?format=`` alike.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PhotoFormat:
    """How a format is named and written.

    Attributes:
        extensions (tuple): file extensions in lower case; an output gets the first.
        media_type (str): the MIME type of its bytes.
        alpha (bool): holds an alpha channel; sixteen_bit (bool): holds 16-bit samples (written by OpenCV).
        quality (bool): takes the JPEG/WebP quality asked for; save_options (dict): Pillow's other save options.
        metadata (bool): carries the EXIF and the sRGB tag.
    """
    extensions: tuple
    media_type: str
    alpha: bool = False
    sixteen_bit: bool = False
    quality: bool = False
    save_options: dict = field(default_factory=dict)
    metadata: bool = True

    @property
    def extension(self):
        return self.extensions[0]


FORMATS = {
    'JPEG': PhotoFormat(('.jpg', '.jpeg', '.jpe'), 'image/jpeg', quality=True, save_options={'subsampling': 0}),
    'PNG': PhotoFormat(('.png', ), 'image/png', alpha=True, sixteen_bit=True, save_options={'compress_level': 3}),
    'TIFF': PhotoFormat(('.tif', '.tiff'), 'image/tiff', alpha=True, sixteen_bit=True,
                        save_options={'compression': 'tiff_lzw'}),
    'WEBP': PhotoFormat(('.webp', ), 'image/webp', alpha=True, quality=True),
    'BMP': PhotoFormat(('.bmp', ), 'image/bmp', metadata=False),
}
# file extension (lower case) -> format: the photos every tool reads, training's pair folders included
IMAGE_FORMATS = {extension: name for name, spec in FORMATS.items() for extension in spec.extensions}
# Pillow's name of a decoded file -> the format 'same' writes without a file name (an upload). MPO is how
# Pillow names the JPEGs many phones write (JPEG plus a depth/preview image).
SOURCE_FORMATS = {**{name: name for name in FORMATS}, 'MPO': 'JPEG'}
ALPHA_FALLBACK = 'PNG'  # a photo with alpha whose requested format cannot hold it


def format_of_suffix(suffix):
    """The format a file extension names ('.JPG' -> 'JPEG'), None for an unknown one."""
    return IMAGE_FORMATS.get(suffix.lower())


def output_format(requested, source_suffix=None, photo=None):
    """The format to write for ``requested`` (one of cli_flags.OUTPUT_FORMATS: 'jpeg', 'png', 'same').

    'same' follows the source's extension, as the planned output name does (``output_suffix``), so the name's
    extension always matches the bytes even for a misnamed file (PNG bytes in ``logo.jpg`` give JPEG); with no
    file name (``source_suffix`` None: an upload) it follows the decoded ``photo``'s format, and PNG for one not
    in FORMATS. ``photo`` (a decoded ListingPhoto) may be None when planning names before decoding; then an
    image with alpha cannot be foreseen. A photo with alpha whose format cannot hold it gets ALPHA_FALLBACK.
    """
    if requested == 'same':
        source_format = photo.source_format if photo is not None else None
        fmt = format_of_suffix(source_suffix or '') or SOURCE_FORMATS.get(source_format, 'PNG')
    else:
        fmt = requested.upper()
    if photo is not None and photo.alpha is not None and not FORMATS[fmt].alpha:
        fmt = ALPHA_FALLBACK
    return fmt


def output_suffix(requested, source_suffix):
    """The extension of a planned output: for 'same' the source's as written ('.JPEG' stays), else the one of
    the requested format."""
    return source_suffix if requested == 'same' else FORMATS[output_format(requested)].extension
