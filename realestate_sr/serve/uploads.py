"""What a client sent: the photo's bytes from a raw body or a multipart form, checked before any pixel is decoded.

Every refusal is an ``UploadError`` with an HTTP status and a short machine-readable ``reason`` (also the
label of the failure counter in /metrics):

| reason | status | when |
|---|---|---|
| empty_body | 400 | no bytes (or a form without a file part) |
| too_many_bytes | 413 | more than ``max_bytes`` (refused from Content-Length before reading, or while reading) |
| unsupported_media_type | 415 | a raw body whose Content-Type is not ``image/*`` or ``application/octet-stream`` |
| bad_form | 400 | a multipart body that does not parse |
| not_an_image | 400 | bytes that no image decoder recognises |
| unsupported_format | 415 | an image format we do not read (GIF, ICO, ...) |
| too_many_megapixels | 413 | width x height above ``max_megapixels``, read from the header before decoding |
| truncated_image | 400 | a recognised header whose pixels do not decode (cut short or corrupt) |
| bad_parameter | 400 | an unknown ``format`` query value |

Everything stays in memory: the body is read into bytes (at most ``max_bytes`` plus the form's envelope) and
the multipart form is parsed from them, so no upload is ever spooled to disk.
"""
import io
import warnings

from PIL import Image
from python_multipart.multipart import MultipartParser, parse_options_header

from realestate_sr.inference import photo_io
from realestate_sr.utils.photo_decode import PhotoReadError, unsupported_reason
from realestate_sr.utils.photo_formats import SOURCE_FORMATS

FORM_ENVELOPE_BYTES = 64 * 1024  # multipart boundaries and part headers allowed beyond max_bytes
RAW_TYPES = ('application/octet-stream', )


class UploadError(ValueError):
    """A request we refuse: ``status`` (4xx), ``reason`` (see the module table) and a one-line message."""

    def __init__(self, status, reason, message):
        super().__init__(message)
        self.status, self.reason = status, reason


async def read_body(request, max_bytes):
    """The request body as bytes, refused (413) as soon as it exceeds what a ``max_bytes`` photo needs."""
    limit = max_bytes + (FORM_ENVELOPE_BYTES if _is_form(request) else 0)
    declared = request.headers.get('content-length')
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise UploadError(413, 'too_many_bytes', f'the upload is {int(declared)} bytes; the limit is {max_bytes}')
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UploadError(413, 'too_many_bytes', f'the upload exceeds the limit of {max_bytes} bytes')
        chunks.append(chunk)
    return b''.join(chunks)


def _is_form(request):
    return parse_options_header(request.headers.get('content-type', ''))[0] == b'multipart/form-data'


def photo_bytes(content_type, body, max_bytes):
    """(photo bytes, file name or None) from a raw body or the first file part of a multipart form."""
    kind, options = parse_options_header(content_type or '')
    kind = kind.decode('latin-1').lower()
    if kind == 'multipart/form-data':
        data, name = _first_file_part(body, options.get(b'boundary'))
    elif not kind or kind.startswith('image/') or kind in RAW_TYPES:
        data, name = body, None
    else:
        raise UploadError(415, 'unsupported_media_type',
                          f'Content-Type {kind} is not an image; send the photo as image/*, '
                          'application/octet-stream or a multipart form')
    if not data:
        raise UploadError(400, 'empty_body', 'no photo in the request (0 bytes)')
    if len(data) > max_bytes:
        raise UploadError(413, 'too_many_bytes', f'the photo is {len(data)} bytes; the limit is {max_bytes}')
    return data, name


def _first_file_part(body, boundary):
    if not boundary:
        raise UploadError(400, 'bad_form', 'multipart/form-data without a boundary')
    parts, state = [], {}

    def on_part_begin():
        state.update(headers={}, chunks=[], field=b'', value=b'')

    def on_header_field(data, start, end):
        state['field'] += data[start:end]

    def on_header_value(data, start, end):
        state['value'] += data[start:end]

    def on_header_end():
        state['headers'][state['field'].lower()] = state['value']
        state.update(field=b'', value=b'')

    def on_part_data(data, start, end):
        state['chunks'].append(bytes(data[start:end]))

    def on_part_end():
        parts.append((state['headers'], b''.join(state['chunks'])))

    def on_end():
        state['ended'] = True

    parser = MultipartParser(boundary, dict(on_part_begin=on_part_begin, on_header_field=on_header_field,
                                            on_header_value=on_header_value, on_header_end=on_header_end,
                                            on_part_data=on_part_data, on_part_end=on_part_end, on_end=on_end))
    try:
        parser.write(body)
        parser.finalize()
    except Exception as err:  # noqa: BLE001  (python-multipart raises several error types)
        raise UploadError(400, 'bad_form', f'the multipart form does not parse: {err}') from err
    if not state.get('ended'):  # a cut-off upload: its last part may be incomplete
        raise UploadError(400, 'bad_form', 'the multipart form ends before its closing boundary')
    for headers, data in parts:
        _, options = parse_options_header(headers.get(b'content-disposition', b''))
        if b'filename' in options:
            return data, options[b'filename'].decode('utf-8', 'replace')
    raise UploadError(400, 'empty_body', 'the multipart form has no file part')


def check_header(data, max_megapixels):
    """The Pillow format of ``data`` after checking format and size from its header alone (no pixels decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt, (width, height) = im.format, im.size
    except Image.DecompressionBombError:
        raise _too_many_megapixels(_size_past_pillows_limit(data), max_megapixels) from None
    except Exception:  # noqa: BLE001  (Pillow raises many kinds for bytes it does not recognise)
        raise UploadError(400, 'not_an_image', 'the bytes are not an image any decoder recognises') from None
    if fmt not in SOURCE_FORMATS:
        raise UploadError(415, 'unsupported_format',
                          f'{fmt} images are not supported; send JPEG, PNG, TIFF, WebP or BMP')
    reason = unsupported_reason(data)
    if reason:
        raise UploadError(415, 'unsupported_format', reason)
    if width * height > max_megapixels * 1e6:
        raise _too_many_megapixels((width, height), max_megapixels)
    return fmt


def _too_many_megapixels(size, max_megapixels):
    if size is None:  # no plugin read a size (cannot happen for the formats served; kept for the message)
        return UploadError(413, 'too_many_megapixels', f'the image is above Pillow\'s decompression limit; the '
                           f'limit is {max_megapixels} MP')
    width, height = size
    return UploadError(413, 'too_many_megapixels', f'the image is {width}x{height} ({width * height / 1e6:.1f} MP); '
                       f'the limit is {max_megapixels} MP')


def _size_past_pillows_limit(data):
    """(width, height) from the header of an image that ``Image.open`` refuses as a decompression bomb.

    ``Image.open`` checks the size after a format plugin has read the header; the plugin itself, called as
    ``Image.open`` calls it, reads the size without the check. None when no plugin reads one.
    """
    prefix = data[:16]
    for format_id in Image.ID:
        factory, accept = Image.OPEN[format_id]
        try:
            if accept is None or accept(prefix):
                with factory(io.BytesIO(data), 'upload') as im:
                    return im.size
        except Exception:  # noqa: BLE001, S112  (a plugin that does not read these bytes: try the next one)
            continue
    return None


def decode(data, max_megapixels):
    """The upright sRGB ListingPhoto of ``data`` (the decode tiled_infer.py uses), or UploadError."""
    check_header(data, max_megapixels)
    try:
        return photo_io.decode_photo(data, 'upload')
    except PhotoReadError as err:
        message = str(err)
        message = message[len('upload: '):] if message.startswith('upload: ') else message
        raise UploadError(400, 'truncated_image', f'the image does not decode: {message}') from err
