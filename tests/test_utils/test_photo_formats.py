"""The one table of photo formats and the one decision of an output's format (tiled_infer.py and the service)."""
import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from realestate_sr.inference.photo_io import decode_photo, encode_photo
from realestate_sr.utils.photo_formats import FORMATS, format_of_suffix, output_format, output_suffix
from tests.test_inference.photo_makers import encode_pil, smooth_rgb


@pytest.mark.parametrize('name', sorted(FORMATS))
def test_each_format_writes_bytes_that_its_extension_and_media_type_name(name):
    photo = decode_photo(encode_pil(smooth_rgb(16, 20), 'PNG'))
    with Image.open(io.BytesIO(encode_photo(photo.rgb, photo, name))) as written:
        assert written.format == name and written.size == (20, 16)
        assert Image.MIME[written.format] == FORMATS[name].media_type
    assert format_of_suffix(FORMATS[name].extension.upper()) == name


def photo(source_format='PNG', alpha=False):
    return SimpleNamespace(source_format=source_format, alpha=np.ones((2, 2), np.float32) if alpha else None)


@pytest.mark.parametrize('requested, suffix, decoded, expected', [
    ('jpeg', '.png', photo(), 'JPEG'),
    ('png', '.jpg', None, 'PNG'),
    ('same', '.JPE', None, 'JPEG'),
    ('same', '.tiff', photo('PNG'), 'TIFF'),  # the name decides, as the planned output name does
    ('same', None, photo('MPO'), 'JPEG'),  # no name (an upload): the decoded format, a phone's JPEG included
    ('same', None, photo('GIF'), 'PNG'),
    ('same', None, None, 'PNG'),
    ('jpeg', '.png', photo(alpha=True), 'PNG'),  # alpha that the format cannot hold
    ('same', '.bmp', photo(alpha=True), 'PNG'),
    ('same', '.webp', photo(alpha=True), 'WEBP'),
])
def test_the_output_format_decision(requested, suffix, decoded, expected):
    assert output_format(requested, suffix, decoded) == expected


def test_planned_extensions_follow_the_request_and_keep_the_sources_spelling_for_same():
    assert [output_suffix(requested, '.JPEG') for requested in ('jpeg', 'png', 'same')] == ['.jpg', '.png', '.JPEG']
