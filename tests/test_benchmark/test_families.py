"""Each pair family: deterministic for a seed, its parameters recorded, and the physics it claims."""
import json

import numpy as np
import pytest

from realestate_sr.benchmark import capture_camera, capture_camera_jpeg, capture_mixed_light, style_listing_hdr
from realestate_sr.benchmark.capture_amateur import CaptureParams, simulate_amateur_capture
from realestate_sr.benchmark.families import DEFAULT_HELD_OUT, FAMILIES, capture_families, family


@pytest.mark.parametrize('name', sorted(FAMILIES))
def test_same_seed_same_pair_and_params_are_plain_json(name, photo):
    module = family(name)
    src_a, tar_a, params_a = module.make_pair(photo, np.random.default_rng(3))
    src_b, tar_b, params_b = module.make_pair(photo, np.random.default_rng(3))
    np.testing.assert_array_equal(src_a, src_b)
    np.testing.assert_array_equal(tar_a, tar_b)
    assert params_a == params_b
    assert json.loads(json.dumps(params_a)) == params_a  # what the manifest stores is what came out
    assert 'jpeg_quality' in params_a
    for img in (src_a, tar_a):
        assert img.dtype == np.float32 and img.ndim == 3 and img.shape[2] == 3
        assert 0.0 <= img.min() and img.max() <= 1.0
    assert src_a.shape == tar_a.shape
    # a pair, not two copies; camera_jpeg's source differs by noise and sharpening only (its JPEG comes later)
    assert np.abs(src_a - tar_a).mean() > (0.002 if name == capture_camera_jpeg.NAME else 0.01)


@pytest.mark.parametrize('name', capture_families())
def test_capture_families_draw_new_parameters_per_seed_and_keep_the_photo_as_target(name, photo):
    module = family(name)
    src_a, tar_a, params_a = module.make_pair(photo, np.random.default_rng(1))
    src_b, _, params_b = module.make_pair(photo, np.random.default_rng(2))
    assert params_a != params_b and not np.array_equal(src_a, src_b)
    if name != capture_camera.NAME:  # the camera family crops: its target is a crop of the photo
        np.testing.assert_allclose(tar_a, photo, atol=1e-6)


def test_families_are_four_captures_and_one_style_and_the_default_held_out_is_a_capture():
    kinds = sorted(module.KIND for module in FAMILIES.values())
    assert kinds == ['capture', 'capture', 'capture', 'capture', 'style']
    assert DEFAULT_HELD_OUT in capture_families()
    with pytest.raises(KeyError, match='known'):
        family('no_such_family')


def test_amateur_family_is_the_demo_capture_model(photo):
    _, _, params = family('amateur').make_pair(photo, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    from realestate_sr.benchmark.capture_amateur import sample_capture_params
    drawn = sample_capture_params(rng)
    assert set(params) == set(drawn.as_dict())
    for key, value in drawn.as_dict().items():
        np.testing.assert_allclose(params[key], value, atol=1e-6)  # recorded to 6 decimals
    expected = simulate_amateur_capture(photo, CaptureParams(**drawn.as_dict()), rng)
    src, _, _ = family('amateur').make_pair(photo, np.random.default_rng(5))
    np.testing.assert_allclose(src, expected, atol=1e-6)


def test_camera_colour_matrix_keeps_white_and_the_target_is_the_recorded_crop(photo):
    src, tar, params = capture_camera.make_pair(photo, np.random.default_rng(0))
    matrix = np.asarray(params['colour_matrix'])
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(matrix - np.eye(3)).max() > 0.01  # it mixes channels
    top, left, height, width = params['crop_top_left_height_width']
    np.testing.assert_allclose(tar, photo[top:top + height, left:left + width], atol=1e-6)
    assert height >= 0.7 * photo.shape[0] - 2 and width >= 0.7 * photo.shape[1] - 2
    # the filmic shoulder: white point maps to 1, and it never clips below it
    assert capture_camera.filmic(np.array([params['white_point']]), params['white_point'])[0] == pytest.approx(1.0)
    assert capture_camera.filmic(np.array([1.0]), 3.0)[0] < 1.0


def test_mixed_light_is_warmer_on_the_tungsten_side_than_on_the_daylight_side():
    params = capture_mixed_light.sample_params(np.random.default_rng(0))
    params.update(daylight_direction_rad=0.0, blend_centre=0.0, blend_width=0.1, shadow_ev=0.0, vignetting_k=0.2)
    field = capture_mixed_light.light_field(60, 90, params)
    red_over_blue = field[..., 0] / field[..., 2]
    assert red_over_blue[:, :10].mean() > 1.3 * red_over_blue[:, -10:].mean()  # tungsten left, daylight right
    vignetting = field[..., 1]
    assert vignetting[30, 45] > vignetting[0, 0]  # corners darker


def test_mixed_light_darkens_the_recorded_region():
    params = capture_mixed_light.sample_params(np.random.default_rng(1))
    params.update(shadow_centre_yx=(0.0, -0.5), shadow_sigma=0.25, shadow_ev=-1.5, vignetting_k=0.0)
    field = capture_mixed_light.light_field(64, 128, params)[..., 1]
    assert field[32, 32] < 0.5 * field[32, 120]  # -1.5 EV at the centre of the blob, little at the far side


def test_style_edit_is_fixed_lifts_shadows_and_neutralises_a_cast(photo):
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(99)
    _, tar_a, params_a = style_listing_hdr.make_pair(photo, rng_a)
    _, tar_b, params_b = style_listing_hdr.make_pair(photo, rng_b)
    np.testing.assert_array_equal(tar_a, tar_b)  # no randomness: one recipe for every photo
    assert params_a == params_b and params_a['base_compression'] == style_listing_hdr.RECIPE['base_compression']
    # a grey room with a warm cast: left half dark, right half bright
    room = np.full((64, 96, 3), 0.5, np.float32) * np.array([1.0, 0.95, 0.9], np.float32)
    room[:, :48] *= 0.15
    src, tar, params = style_listing_hdr.make_pair(room, None)
    assert params['wb_gains_rgb'][2] > params['wb_gains_rgb'][0]  # blue up, red down
    spread_before = np.ptp(src[:, 60:].mean(axis=(0, 1)))
    spread_after = np.ptp(tar[:, 60:].mean(axis=(0, 1)))
    assert spread_after < 0.6 * spread_before
    assert tar[:, :40].mean() > 1.3 * src[:, :40].mean()  # shadows lifted
    ratio_dark = tar[:, :40].mean() / src[:, :40].mean()
    ratio_bright = tar[:, 60:].mean() / src[:, 60:].mean()
    assert ratio_dark > ratio_bright  # local: the dark half gains more than the bright one


def test_a_family_refuses_what_is_not_an_rgb_photo():
    with pytest.raises(ValueError, match='H,W,3'):
        family('amateur').make_pair(np.zeros((32, 32)), np.random.default_rng(0))
    with pytest.raises(ValueError, match='too small'):
        family('listing_hdr').make_pair(np.zeros((8, 8, 3)), np.random.default_rng(0))


def test_camera_crops_vary_in_size_but_always_hold_a_256_px_training_patch():
    rng = np.random.default_rng(0)
    boxes = [capture_camera.sample_crop(1000, 1500, rng) for _ in range(20)]
    for top, left, height, width in boxes:
        assert 700 <= height <= 1000 and 1050 <= width <= 1500
        assert top + height <= 1000 and left + width <= 1500
    assert len({box[2:] for box in boxes}) > 10  # varied sizes and aspect ratios
    for _ in range(20):
        _, _, height, width = capture_camera.sample_crop(300, 451, rng)
        assert 288 <= height <= 300 and 288 <= width <= 451


def test_camera_jpeg_is_a_mild_capture_sharpened_or_not_and_written_at_high_quality(photo):
    drawn = [capture_camera_jpeg.sample_params(np.random.default_rng(seed)) for seed in range(30)]
    assert all(85 <= params['jpeg_quality'] <= 95 for params in drawn)
    unsharpened = sum(params['sharpen_amount'] == 0.0 for params in drawn)
    assert 0 < unsharpened < len(drawn)  # some cameras sharpen, some do not
    src, tar, _ = capture_camera_jpeg.make_pair(photo, np.random.default_rng(0))
    assert np.abs(src - tar).mean() < 0.03  # well exposed: close to the photo, unlike amateur
    assert abs(float(src.mean() - tar.mean())) < 0.01
