"""Training decode (image_io) vs the inference reader: ICC profiles converted alike, header shapes of rotated files."""
import json
import random
import re

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from realestate_sr.data import image_io
from realestate_sr.data.image_io import image_shape_from_header, read_bgr
from realestate_sr.data.paired_listing_dataset import PairedListingDataset
from realestate_sr.inference.photo_io import decode_photo
from realestate_sr.utils import photo_decode
from realestate_sr.utils.photo_decode import SRGB_PROFILE_BYTES
from tests.test_data.synthetic_pairs import make_tar_image
from tests.test_inference.icc_profiles import display_p3_profile, renamed_profile
from tests.test_inference.photo_makers import encode_pil, exif_with, smooth_rgb


def inference_rgb_uint8(path):
    return np.rint(decode_photo(path.read_bytes(), str(path)).rgb * 255).astype(np.uint8)


def write_pair(root, src, tar, ext, **options):
    """Save RGB arrays as ``p_src``/``p_tar`` with Pillow (``options``: exif=, icc_profile=...) and a manifest."""
    fmt = {'.png': 'PNG', '.jpg': 'JPEG', '.tif': 'TIFF', '.webp': 'WEBP'}[ext]
    extra = {'quality': 95} if fmt in ('JPEG', 'WEBP') else {}
    for name, rgb in (('p_src', src), ('p_tar', tar)):
        (root / f'{name}{ext}').write_bytes(encode_pil(rgb, fmt, **options, **extra))
    manifest = root / 'm.jsonl'
    manifest.write_text(json.dumps({'src': f'p_src{ext}', 'tar': f'p_tar{ext}'}) + '\n')
    return manifest


def dataset_opt(manifest, phase='val', **extra):
    return dict(name='t', phase=phase, dataroot=str(manifest.parent), meta_file=str(manifest),
                io_backend={'type': 'disk'}, gt_size=16 if phase == 'train' else None, **extra)


def to_uint8_hwc(tensor):
    return (tensor.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


@pytest.mark.parametrize('ext', ['.png', '.jpg'])
def test_display_p3_pair_is_converted_to_srgb_exactly_like_inference(tmp_path, ext):
    colours = np.array([[200, 60, 60], [30, 180, 90], [250, 240, 20], [10, 20, 200]], np.uint8)
    src = np.repeat(np.repeat(colours[None], 8, axis=0), 8, axis=1)  # flat patches: JPEG keeps them exact
    manifest = write_pair(tmp_path, src, smooth_rgb(8, 32), ext, icc_profile=display_p3_profile())
    item = PairedListingDataset(dataset_opt(manifest))[0]
    for key, name in (('lq', 'p_src'), ('gt', 'p_tar')):
        expected = inference_rgb_uint8(tmp_path / f'{name}{ext}')
        np.testing.assert_array_equal(to_uint8_hwc(item[key]), expected)
        np.testing.assert_array_equal(read_bgr(tmp_path / f'{name}{ext}')[:, :, ::-1], expected)
    stored = np.asarray(Image.open(tmp_path / f'p_src{ext}').convert('RGB'))
    assert np.abs(to_uint8_hwc(item['lq']).astype(int) - stored).max() > 10  # really converted
    if ext == '.png':  # the audit's pixel: P3 (200, 60, 60) is sRGB (217, 42, 52)
        assert np.abs(to_uint8_hwc(item['lq'])[0, 0].astype(int) - (217, 42, 52)).max() <= 1


@pytest.mark.parametrize('orientation', [1, 6])
def test_rotated_p3_jpeg_matches_inference(tmp_path, orientation):
    path = tmp_path / 'phone.jpg'
    path.write_bytes(encode_pil(smooth_rgb(20, 36), 'JPEG', quality=95, icc_profile=display_p3_profile(),
                                exif=exif_with(orientation)))
    np.testing.assert_array_equal(read_bgr(path)[:, :, ::-1], inference_rgb_uint8(path))
    assert read_bgr(path).shape == image_shape_from_header(path)


def test_files_without_a_non_srgb_profile_stay_on_the_opencv_path(tmp_path, monkeypatch):
    def no_conversion(*args):
        raise AssertionError('an untagged or sRGB-tagged file must not pay the colour conversion')

    monkeypatch.setattr(image_io, 'decode_srgb', no_conversion)
    pixels = smooth_rgb(30, 40)
    renamed = renamed_profile(SRGB_PROFILE_BYTES, 'GIMP built-in sRGB')  # sRGB under another name
    for name, options in (('plain.jpg', {}), ('srgb.jpg', {'icc_profile': SRGB_PROFILE_BYTES}),
                          ('gimp.jpg', {'icc_profile': renamed})):
        data = encode_pil(pixels, 'JPEG', quality=90, **options)
        (tmp_path / name).write_bytes(data)
        np.testing.assert_array_equal(read_bgr(tmp_path / name),
                                      cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))


@pytest.mark.parametrize('ext', ['.jpg', '.png', '.tif', '.webp'])
@pytest.mark.parametrize('orientation', range(1, 9))
def test_header_shape_is_the_decoded_shape(tmp_path, ext, orientation):
    fmt = {'.png': 'PNG', '.jpg': 'JPEG', '.tif': 'TIFF', '.webp': 'WEBP'}[ext]
    path = tmp_path / f'rotated{ext}'
    path.write_bytes(encode_pil(smooth_rgb(20, 40), fmt, exif=exif_with(orientation)))
    assert read_bgr(path).shape == image_shape_from_header(path) == ((40, 20, 3) if orientation >= 5 else
                                                                      (20, 40, 3))


@pytest.mark.parametrize('ext', ['.tif', '.jpg'])
def test_memory_cache_equals_disk_for_a_rotated_pair(tmp_path, ext):
    tar = make_tar_image(20, 40, 0)[:, :, ::-1]
    manifest = write_pair(tmp_path, 255 - tar, tar, ext, exif=exif_with(6))
    batches = {}
    for cache in ('none', 'memory'):
        dataset = PairedListingDataset(dataset_opt(manifest, phase='train', cache=cache))
        random.seed(0)
        batches[cache] = [dataset[0] for _ in range(4)]
        assert dataset.source.shapes(0) == ((40, 20, 3), (40, 20, 3))
    for disk, cached in zip(batches['none'], batches['memory']):
        assert torch.equal(disk['lq'], cached['lq']) and torch.equal(disk['gt'], cached['gt'])


def test_float_tiff_is_named_in_the_error(tmp_path):
    path = tmp_path / 'hdr.tif'
    Image.fromarray(np.random.default_rng(0).random((8, 8), dtype=np.float32), 'F').save(path)
    message = '32-bit float TIFF is not supported; convert to 16-bit integer'
    with pytest.raises(photo_decode.PhotoReadError, match=message):
        read_bgr(path)


def test_decode_bgr_alone_returns_the_stored_numbers():
    """decode_bgr without to_srgb returns the stored numbers; read_bgr (training's reader) converts."""
    stored = np.full((4, 6, 3), (200, 60, 60), np.uint8)
    data = encode_pil(stored, 'PNG', icc_profile=display_p3_profile())
    np.testing.assert_array_equal(image_io.decode_bgr(data)[:, :, ::-1], stored)
    np.testing.assert_array_equal(image_io.decode_bgr(data, to_srgb=True)[0, 0, ::-1], (217, 42, 52))


@pytest.mark.parametrize('fmt, options', [('JPEG', {'quality': 92}), ('PNG', {})])
def test_uint8_conversion_is_bit_identical_to_the_float_path(fmt, options):
    """Training takes LittleCMS's 8-bit output directly; inference's float pixels round to the same numbers."""
    data = encode_pil(smooth_rgb(37, 53, 4), fmt, icc_profile=display_p3_profile(), **options)
    direct = image_io.decode_bgr(data, to_srgb=True)
    assert direct.dtype == np.uint8 and direct.flags.c_contiguous
    from_float = np.clip(np.rint(decode_photo(data).rgb * 255.0), 0, 255).astype(np.uint8)[:, :, ::-1]
    np.testing.assert_array_equal(direct, from_float)
    assert np.abs(direct.astype(int) - cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)).max() > 10


def test_eight_bit_conversion_skips_the_float_round_trip(monkeypatch):
    data = encode_pil(smooth_rgb(16, 16), 'PNG', icc_profile=display_p3_profile())
    pixels = photo_decode.decode_srgb(data, as_uint8=True)
    assert pixels.rgb.dtype == np.uint8 and pixels.bit_depth == 8
    monkeypatch.setattr(photo_decode, 'to_uint8', lambda array: pytest.fail('float round trip on an 8-bit file'))
    image_io.decode_bgr(data, to_srgb=True)


@pytest.mark.parametrize('raises', [False, True], ids=['returns_none', 'raises_cv2_error'])
def test_corrupt_webp_raises_image_read_error_naming_the_file(tmp_path, monkeypatch, raises):
    """OpenCV builds differ: some return None for a truncated WebP, others raise cv2.error from its header reader."""
    path = tmp_path / 'cut.webp'
    path.write_bytes(encode_pil(smooth_rgb(32, 32), 'WEBP', quality=90)[:28])
    if raises:
        def imdecode(*args):
            raise cv2.error("OpenCV(4.9.0) grfmt_webp.cpp:131: error: (-2) in function 'readHeader'\n"
                            "> Buffer is too small (expected: 'm_buf.total() >= WEBP_HEADER_SIZE')")
        monkeypatch.setattr(image_io.cv2, 'imdecode', imdecode)
    with pytest.raises(photo_decode.PhotoReadError, match=f'^{re.escape(str(path))}: not a decodable image'):
        read_bgr(path)


def test_sixteen_bit_png_decodes_to_uint8_for_training():
    """The uint8 training path (memory cache) takes 16-bit files too, rounded as the float path rounds them."""
    rng = np.random.default_rng(0)
    bgr16 = rng.integers(0, 65536, size=(12, 20, 3), dtype=np.uint16)
    ok, encoded = cv2.imencode('.png', bgr16)
    assert ok
    pixels = photo_decode.decode_srgb(encoded.tobytes(), as_uint8=True)
    assert pixels.rgb.dtype == np.uint8 and pixels.bit_depth == 16
    expected = np.clip(np.rint(bgr16[:, :, ::-1] / 65535.0 * 255.0), 0, 255).astype(np.uint8)
    assert np.abs(pixels.rgb.astype(int) - expected).max() <= 1
