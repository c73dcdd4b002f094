"""The source-only light-field augmentation: smooth, mean-free fields, one field for crop and thumbnail."""
import random

import numpy as np
import pytest
import torch

from realestate_sr.archs.whole_photo_ops import photo_thumbnail
from realestate_sr.data.light_field import FIELD_SIDE, LightField, relight_bgr, relight_thumbnail, window_gains
from realestate_sr.data.pair_transforms import bgr_uint8_to_tensor
from realestate_sr.data.paired_listing_dataset import DatasetOptionError, PairedListingDataset
from realestate_sr.data.whole_photo_dataset import WholePhotoDataset
from realestate_sr.utils.colour import linear_to_srgb, srgb_to_linear
from tests.test_data.synthetic_pairs import make_tar_image, write_pair_set

STRONG = {'exposure_ev': 1.0, 'white_balance': 0.3, 'cells': 4}


def test_a_field_has_mean_zero_varies_and_keeps_green_for_exposure_only():
    field = LightField(**STRONG)
    rng = random.Random(3)
    for _ in range(10):
        log_gains = field.draw(rng)
        assert log_gains.shape == (FIELD_SIDE, FIELD_SIDE, 3) and log_gains.dtype == np.float32
        np.testing.assert_allclose(log_gains.mean(axis=(0, 1)), 0.0, atol=1e-5)
        assert log_gains[..., 1].std() > 0.01  # exposure changes across the frame
        # control points within +-1 EV and +-0.3 red/blue; bicubic may overshoot them a little
        assert np.abs(log_gains[..., 1]).max() <= 2 * np.log(2.0) * 1.25
        assert np.abs(log_gains[..., [0, 2]] - log_gains[..., 1:2]).max() <= 2 * 0.3 * 1.25
        # smooth: neighbouring field samples (1/64 of the side apart) differ by a small part of the range
        step = max(np.abs(np.diff(log_gains, axis=axis)).max() for axis in (0, 1))
        assert step < 0.1 * np.ptp(log_gains, axis=(0, 1)).max()


def test_draws_repeat_with_the_seed_and_probability_gates_them():
    field = LightField(**STRONG)
    assert np.array_equal(field.draw(random.Random(5)), field.draw(random.Random(5)))
    assert LightField(prob=0.0, **STRONG).draw(random.Random(0)) is None
    assert LightField().draw(random.Random(0)) is None  # no amounts: nothing to draw
    half = LightField(prob=0.5, **STRONG)
    rng = random.Random(1)
    drawn = sum(half.draw(rng) is not None for _ in range(400))
    assert 160 < drawn < 240


def test_a_window_sees_the_same_field_as_the_whole_photo():
    log_gains = LightField(**STRONG).draw(random.Random(2))
    whole = window_gains(log_gains, 0, 0, 90, 140, 90, 140)
    assert whole.shape == (90, 140, 3)
    window = window_gains(log_gains, 30, 50, 40, 60, 90, 140)
    np.testing.assert_allclose(window, whole[30:70, 50:110], rtol=1e-5)


def test_relighting_multiplies_linear_light_and_unit_gains_change_nothing():
    img = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    assert np.array_equal(relight_bgr(img, np.ones((12, 16, 3), np.float32)), img)
    gains = np.full((12, 16, 3), 0.5, np.float32)
    expected = np.rint(linear_to_srgb(srgb_to_linear(img / 255.0) * 0.5) * 255.0)
    assert np.abs(relight_bgr(img, gains).astype(int) - expected).max() <= 1


def test_the_thumbnail_is_relit_as_the_thumbnail_of_the_relit_photo():
    photo = make_tar_image(96, 128, seed=4)
    log_gains = LightField(**STRONG).draw(random.Random(7))
    relit_photo = relight_bgr(photo, window_gains(log_gains, 0, 0, 96, 128, 96, 128))
    thumb_of_relit = photo_thumbnail(bgr_uint8_to_tensor(relit_photo)[None], 16)[0]
    relit_thumb = relight_thumbnail(photo_thumbnail(bgr_uint8_to_tensor(photo)[None], 16)[0], log_gains)
    plain = photo_thumbnail(bgr_uint8_to_tensor(photo)[None], 16)[0]
    change = (thumb_of_relit - plain).abs().mean()
    assert change > 0.03  # the field does change the photo
    # not exact (averaging and the sRGB curve do not commute on this noise photo), but a small part of it
    assert (relit_thumb - thumb_of_relit).abs().mean() < 0.2 * change


def test_the_dataset_relights_the_source_only(tmp_path):
    src = np.full((24, 32, 3), 128, dtype=np.uint8)
    tar = make_tar_image(24, 32, seed=2)
    manifest, _, _ = write_pair_set(tmp_path / 'pairs', [(src, tar)])
    data = WholePhotoDataset({'name': 'lit', 'phase': 'train', 'meta_file': str(manifest), 'gt_size': 16,
                              'thumb_size': 8, 'use_hflip': False, 'use_rot': False, 'src_light_field': STRONG})
    random.seed(0)
    for _ in range(4):
        item = data[0]
        x0, y0 = item['box'][:2].tolist()
        top, left = round(y0 * 24), round(x0 * 32)
        assert torch.equal(item['gt'], bgr_uint8_to_tensor(tar[top:top + 16, left:left + 16]))
        assert item['lq'].std() > 0.005 and item['lq_thumb'].std() > 0.005  # a flat grey source, relit
        assert item['lq_thumb'].shape == (3, 8, 8) and item['lq_thumb'].dtype == torch.float32


def test_patches_for_nafnet_get_the_field_of_their_window_and_plain_targets(tmp_path):
    src = np.full((24, 32, 3), 128, dtype=np.uint8)
    tar = make_tar_image(24, 32, seed=3)
    manifest, _, _ = write_pair_set(tmp_path / 'pairs', [(src, tar)])
    opt = {'name': 'lit', 'phase': 'train', 'meta_file': str(manifest), 'gt_size': 24}
    lit, plain = PairedListingDataset({**opt, 'src_light_field': STRONG}), PairedListingDataset(opt)
    random.seed(0)
    item = lit[0]  # a 24x24 crop at one of 9 left offsets
    assert item['lq'].std() > 0.005 and not torch.equal(item['lq'], plain[0]['lq'])
    assert torch.equal(plain[0]['lq'], bgr_uint8_to_tensor(src[:, :24]))
    # the target crop is cut from the unchanged target
    matches = [left for left in range(9) if torch.equal(item['gt'], bgr_uint8_to_tensor(tar[:, left:left + 24]))]
    assert len(matches) == 1


@pytest.mark.parametrize('option, message', [
    ({'contrast': 0.1}, 'src_light_field takes'),
    ({'prob': 1.5, 'exposure_ev': 0.5}, 'probability'),
    ({'exposure_ev': -0.5}, '>= 0'),
    ({'exposure_ev': 0.5, 'cells': 1}, 'cells must be >= 2'),
])
def test_bad_options_are_refused_with_the_dataset_named(tmp_path, option, message):
    manifest, _, _ = write_pair_set(tmp_path / 'pairs', [(make_tar_image(24, 32, seed=1),) * 2])
    with pytest.raises(DatasetOptionError, match=message):
        WholePhotoDataset({'name': 'lit', 'phase': 'train', 'meta_file': str(manifest), 'gt_size': 16,
                           'src_light_field': option})
