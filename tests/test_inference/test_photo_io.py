"""Decoding and encoding real-world photo files: orientation, colour profiles, bit depth, alpha, CMYK."""
import io

import cv2
import numpy as np
import pytest
import tifffile
from PIL import ExifTags, Image, ImageCms, ImageOps

from realestate_sr.inference import photo_io
from realestate_sr.inference.photo_io import PhotoReadError, decode_photo, encode_photo
from realestate_sr.utils import photo_decode
from realestate_sr.utils.photo_formats import output_format
from tests.test_inference.icc_profiles import (
    ADOBE_GAMMA,
    ADOBE_PRIMARIES,
    P3_PRIMARIES,
    SRGB_PRIMARIES,
    _srgb_curve_tag,
    adobe_rgb_profile,
    display_p3_profile,
    expected_srgb,
    make_profile,
    renamed_profile,
    srgb_decode,
)
from tests.test_inference.photo_makers import (
    GPS_IFD,
    LAYOUT_TAGS,
    MAKE,
    encode_pil,
    exif_with,
    exif_with_thumbnail,
    smooth_rgb,
)


@pytest.mark.parametrize('orientation', range(1, 9))
def test_exif_orientation_is_applied_like_pillow_and_reset(orientation):
    pixels = smooth_rgb(24, 40)
    data = encode_pil(pixels, 'PNG', exif=exif_with(orientation))
    photo = decode_photo(data)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert('RGB'))
    np.testing.assert_array_equal(np.rint(photo.rgb * 255).astype(np.uint8), expected)
    upright = (40, 24) if orientation >= 5 else (24, 40)
    assert photo.rgb.shape[:2] == upright
    kept = Image.Exif()
    kept.load(photo.exif)
    assert kept[photo_io.ORIENTATION_TAG] == 1
    assert kept[MAKE] == 'TestCam'
    assert kept.get_ifd(GPS_IFD)[2] == (40.0, 26.0, 46.0)


def test_reset_orientation_changes_only_the_orientation_value():
    raw = exif_with(6)
    patched = photo_io.reset_orientation(raw)
    assert len(patched) == len(raw)
    differing = [i for i, (a, b) in enumerate(zip(raw, patched)) if a != b]
    assert len(differing) == 1 and patched[differing[0]] == 1
    assert photo_io.reset_orientation(b'garbage') == b'garbage'


def test_jpeg_output_is_upright_with_exif_kept_and_444():
    data = encode_pil(smooth_rgb(30, 50), 'JPEG', exif=exif_with(6), quality=95)
    photo = decode_photo(data)
    encoded = encode_photo(photo.rgb, photo, 'JPEG', quality=95)
    written = Image.open(io.BytesIO(encoded))
    assert written.size == (30, 50)  # width, height: the rotated, displayed size
    assert written.getexif()[photo_io.ORIENTATION_TAG] == 1
    assert written.getexif()[MAKE] == 'TestCam'
    assert written.layer[0][1:3] == written.layer[1][1:3] == (1, 1)  # no chroma subsampling (4:4:4)
    assert np.abs(np.asarray(written, np.float32) / 255 - photo.rgb).max() < 0.06


@pytest.mark.parametrize('profile, primaries, decode', [
    (display_p3_profile, P3_PRIMARIES, srgb_decode),
    (adobe_rgb_profile, ADOBE_PRIMARIES, lambda v: v**ADOBE_GAMMA),
], ids=['display_p3', 'adobe_rgb'])
def test_embedded_profiles_are_converted_to_srgb(profile, primaries, decode):
    colours = np.array([[200, 60, 60], [30, 180, 90], [128, 128, 128], [250, 240, 20], [10, 20, 200]], np.uint8)
    data = encode_pil(np.repeat(colours[None], 3, axis=0), 'PNG', icc_profile=profile())
    photo = decode_photo(data)
    expected = expected_srgb(colours / 255.0, primaries, decode)
    assert np.abs(photo.rgb[0] - expected).max() < 1.5 / 255
    assert np.abs(photo.rgb[0] - colours / 255.0).max() > 10 / 255  # really converted, not passed through
    assert photo.tagged and 'to sRGB' in photo.notes[0]
    written = Image.open(io.BytesIO(encode_photo(photo.rgb, photo, 'JPEG')))
    description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(written.info['icc_profile'])))
    assert description.lower().startswith('srgb')


def test_untagged_input_stays_untagged_and_unconverted():
    pixels = smooth_rgb(16, 16)
    photo = decode_photo(encode_pil(pixels, 'PNG'))
    np.testing.assert_array_equal(np.rint(photo.rgb * 255), pixels)
    assert not photo.tagged and photo.notes == ()
    assert 'icc_profile' not in Image.open(io.BytesIO(encode_photo(photo.rgb, photo, 'PNG'))).info


@pytest.mark.parametrize('make', [
    lambda: renamed_profile(photo_decode.SRGB_PROFILE_BYTES, 'c2'),  # Facebook's name for its compact sRGB
    lambda: renamed_profile(photo_decode.SRGB_PROFILE_BYTES, 'GIMP built-in sRGB'),
    lambda: make_profile('Generic RGB (test)', SRGB_PRIMARIES, _srgb_curve_tag()),  # sRGB written out by hand
])
def test_srgb_profiles_under_any_name_are_not_converted(make, monkeypatch):
    icc = make()
    assert photo_decode.srgb_match(icc) and not photo_decode.needs_srgb_conversion(icc)
    assert photo_decode.colour_space_name(icc) == 'sRGB'

    def no_conversion(*args, **kwargs):
        raise AssertionError('an sRGB profile must not pay the LittleCMS conversion')

    monkeypatch.setattr(photo_decode.ImageCms, 'profileToProfile', no_conversion)  # srgb_match is cached
    pixels = smooth_rgb(16, 16)
    photo = decode_photo(encode_pil(pixels, 'PNG', icc_profile=icc))
    np.testing.assert_array_equal(np.rint(photo.rgb * 255), pixels)
    assert photo.tagged and photo.notes == ()


def test_profiles_of_other_colour_spaces_are_not_srgb():
    assert photo_decode.srgb_match(display_p3_profile()) is False
    assert photo_decode.srgb_match(adobe_rgb_profile()) is False
    assert photo_decode.srgb_match(ImageCms.ImageCmsProfile(ImageCms.createProfile('LAB')).tobytes()) is False
    assert photo_decode.srgb_match(b'not a profile at all') is None
    assert photo_decode.colour_space_name(display_p3_profile()) == 'Display P3 (test)'


def test_broken_profile_is_ignored_with_a_note():
    photo = decode_photo(encode_pil(smooth_rgb(8, 8), 'PNG', icc_profile=b'not a profile at all' * 8))
    assert 'ignored' in photo.notes[0]


def test_grayscale_becomes_rgb():
    gray = smooth_rgb(20, 30)[:, :, 0]
    photo = decode_photo(encode_pil(gray, 'JPEG', mode='L', quality=95))
    assert photo.rgb.shape == (20, 30, 3) and photo.alpha is None
    assert np.array_equal(photo.rgb[:, :, 0], photo.rgb[:, :, 2])


def test_cmyk_jpeg_reads_as_rgb():
    cmyk = np.zeros((16, 16, 4), np.uint8)
    cmyk[..., 1] = cmyk[..., 2] = 255  # magenta + yellow = red
    photo = decode_photo(encode_pil(cmyk, 'JPEG', mode='CMYK', quality=95))
    assert photo.rgb.shape == (16, 16, 3)
    red, green, blue = photo.rgb.reshape(-1, 3).mean(axis=0)
    assert red > 0.9 and green < 0.1 and blue < 0.1


def test_rgba_alpha_is_kept_exactly_and_forces_an_alpha_format():
    rgba = np.dstack([smooth_rgb(20, 24), np.arange(20 * 24, dtype=np.uint8).reshape(20, 24)])
    photo = decode_photo(encode_pil(rgba, 'PNG'))
    assert output_format('jpeg', '.png', photo) == 'PNG'
    written = np.asarray(Image.open(io.BytesIO(encode_photo(photo.rgb, photo, 'PNG'))))
    assert written.shape == (20, 24, 4)
    np.testing.assert_array_equal(written[:, :, 3], rgba[:, :, 3])


@pytest.mark.parametrize('extension, channels', [('.png', 3), ('.png', 1), ('.png', 4), ('.tif', 3)])
def test_sixteen_bit_is_read_and_written_at_sixteen_bits(extension, channels):
    pixels = smooth_rgb(18, 22, dtype=np.uint16)
    pixels = {1: pixels[:, :, 0], 3: pixels, 4: np.dstack([pixels, pixels[:, :, :1]])}[channels]
    ok, data = cv2.imencode(extension, pixels[:, :, [2, 1, 0, 3][:channels]] if channels >= 3 else pixels)
    photo = decode_photo(data.tobytes())
    assert photo.bit_depth == 16
    rgb_in = pixels[:, :, :3] if channels >= 3 else np.repeat(pixels[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(np.rint(photo.rgb * 65535), rgb_in)  # no 8-bit truncation on the way in
    fmt = 'PNG' if extension == '.png' else 'TIFF'
    written = cv2.imdecode(np.frombuffer(encode_photo(photo.rgb, photo, fmt), np.uint8), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16
    np.testing.assert_array_equal(written[:, :, 2::-1], rgb_in)
    if channels == 4:
        np.testing.assert_array_equal(written[:, :, 3], pixels[:, :, 3])


def test_sixteen_bit_png_output_keeps_exif_and_srgb_tag():
    pixels = smooth_rgb(10, 12, dtype=np.uint16)
    ok, data = cv2.imencode('.png', pixels)
    photo = decode_photo(data.tobytes())
    photo.exif, photo.tagged = exif_with(1), True
    written = Image.open(io.BytesIO(encode_photo(photo.rgb, photo, 'PNG')))
    written.load()
    assert written.getexif()[MAKE] == 'TestCam'
    assert 'icc_profile' in written.info
    assert photo_decode.is_sixteen_bit(Image.open(io.BytesIO(encode_photo(photo.rgb, photo, "PNG"))))


def test_sixteen_bit_with_a_profile_is_converted():
    pixels = smooth_rgb(12, 12, dtype=np.uint16)
    tagged = io.BytesIO()
    ok, data = cv2.imencode('.png', pixels[:, :, ::-1])
    plain = decode_photo(data.tobytes())
    # splice an Adobe RGB iCCP chunk into OpenCV's 16-bit PNG, as an editor exporting 16-bit would write it
    tagged.write(photo_io._encode_sixteen_bit(pixels, 'PNG', None, adobe_rgb_profile()))
    photo = decode_photo(tagged.getvalue())
    assert photo.bit_depth == 16 and 'converted from Adobe RGB' in photo.notes[0]
    expected = expected_srgb(plain.rgb.reshape(-1, 3).astype(np.float64), ADOBE_PRIMARIES, lambda v: v**ADOBE_GAMMA)
    assert np.abs(photo.rgb.reshape(-1, 3) - expected).max() < 2 / 255


@pytest.mark.parametrize('data, message', [
    (b'', 'empty'),
    (b'this is a text file, not a JPEG', 'not an image'),
])
def test_unreadable_bytes_raise_photo_read_error(data, message):
    with pytest.raises(PhotoReadError, match=message):
        decode_photo(data, 'x.jpg')


def test_truncated_jpeg_raises():
    data = encode_pil(smooth_rgb(64, 64), 'JPEG', quality=95)
    with pytest.raises(PhotoReadError, match='truncated'):
        decode_photo(data[:len(data) // 2], 'cut.jpg')


def test_encode_refuses_a_wrong_size():
    photo = decode_photo(encode_pil(smooth_rgb(8, 8), 'PNG'))
    with pytest.raises(photo_io.PhotoWriteError, match='8x8'):
        encode_photo(np.zeros((4, 4, 3), np.float32), photo, 'PNG')


@pytest.mark.parametrize('orientation', [1, 6])
def test_exif_thumbnail_is_dropped_only_when_the_photo_was_rotated(orientation):
    thumbnail = encode_pil(smooth_rgb(8, 12), 'JPEG')
    exif = exif_with_thumbnail(orientation, thumbnail)
    photo = decode_photo(encode_pil(smooth_rgb(20, 30), 'JPEG', exif=exif))
    kept = Image.Exif()
    kept.load(photo.exif)
    assert kept[MAKE] == 'TestCam' and kept.get_ifd(GPS_IFD)[2] == (40.0, 26.0, 46.0)
    if orientation == 1:
        assert photo.exif == exif  # untouched, preview included
    else:
        assert kept.get_ifd(ExifTags.IFD.IFD1) == {}  # a sideways, unedited preview would be wrong
        assert len(photo.exif) == len(exif) - len(thumbnail)
        assert photo_io.drop_thumbnail(photo.exif) == photo.exif


def test_tiff_exif_keeps_metadata_but_not_the_tiff_layout():
    photo = decode_photo(encode_pil(smooth_rgb(20, 40), 'TIFF', exif=exif_with(6)))
    assert photo.rgb.shape == (40, 20, 3)
    kept = Image.Exif()
    kept.load(photo.exif)
    assert kept[MAKE] == 'TestCam' and kept[photo_io.ORIENTATION_TAG] == 1
    assert kept.get_ifd(GPS_IFD)[2] == (40.0, 26.0, 46.0)
    assert not set(kept) & set(LAYOUT_TAGS), [LAYOUT_TAGS[tag] for tag in set(kept) & set(LAYOUT_TAGS)]


def tiff_bytes(array, **options):
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **options)
    return buffer.getvalue()


@pytest.mark.parametrize('make, bits', [
    (lambda: tiff_bytes(np.random.default_rng(0).random((8, 10, 3), dtype=np.float32), photometric='rgb'), 32),
    (lambda: encode_pil(np.random.default_rng(0).random((8, 10), dtype=np.float32), 'TIFF', mode='F'), 32),
    (lambda: tiff_bytes(np.random.default_rng(0).random((8, 10, 3)).astype(np.float16), photometric='rgb'), 16),
], ids=['rgb', 'grey', 'half'])
def test_float_tiff_is_reported_precisely(make, bits):
    with pytest.raises(PhotoReadError, match=f'^hdr.tif: {bits}-bit float TIFF is not supported; '
                                             'convert to 16-bit integer$'):
        decode_photo(make(), 'hdr.tif')
