"""WholePhotoDataset: whole-photo thumbnails + a full-resolution crop + its box, transformed as one sample."""
import random

import cv2
import numpy as np
import pytest
import torch

from realestate_sr.archs.whole_photo_ops import photo_thumbnail
from realestate_sr.data.pair_transforms import bgr_uint8_to_tensor
from realestate_sr.data.paired_listing_dataset import DatasetOptionError
from realestate_sr.data.whole_photo_dataset import WholePhotoDataset, collage_pairs, exposure_wb_table
from tests.test_data.synthetic_pairs import make_tar_image, write_pair_set


def dataset(manifest, phase='train', **extra):
    opt = {'name': 'whole', 'phase': phase, 'meta_file': str(manifest), 'gt_size': 16, 'thumb_size': 8,
           'use_hflip': True, 'use_rot': True, **extra}
    return WholePhotoDataset(opt)


def dihedral_variants(img):
    """The 8 orientations augment_pair can produce, keyed by (hflip, vflip, transpose)."""
    variants = {}
    for hflip in (False, True):
        for vflip in (False, True):
            for transpose in (False, True):
                out = img[:, ::-1] if hflip else img
                out = out[::-1] if vflip else out
                variants[(hflip, vflip, transpose)] = out.transpose(1, 0, 2) if transpose else out
    return variants


@pytest.fixture
def noise_pairs(tmp_path):
    tar = make_tar_image(30, 44, seed=1)
    manifest, _, _ = write_pair_set(tmp_path / 'pairs', [(255 - tar, tar)])
    return manifest, 255 - tar, tar


def test_thumbnails_crop_and_box_describe_the_same_oriented_photo(noise_pairs):
    manifest, src, tar = noise_pairs
    data = dataset(manifest)
    random.seed(0)
    seen = set()
    for _ in range(24):
        item = data[0]
        assert item['lq'].shape == (3, 16, 16) and item['lq_thumb'].shape == (3, 8, 8)
        x0, y0, x1, y1 = item['box'].tolist()
        matches = []
        for key, oriented in dihedral_variants(src).items():
            height, width = oriented.shape[:2]
            top, left = round(y0 * height), round(x0 * width)
            if (round(y1 * height) - top, round(x1 * width) - left) != (16, 16):
                continue  # the box is normalised in the other (transposed) frame
            crop = bgr_uint8_to_tensor(oriented[top:top + 16, left:left + 16])
            thumb = photo_thumbnail(bgr_uint8_to_tensor(oriented)[None], 8)[0]
            tar_crop = bgr_uint8_to_tensor(dihedral_variants(tar)[key][top:top + 16, left:left + 16])
            if torch.equal(crop, item['lq']) and torch.allclose(thumb, item['lq_thumb'], atol=1e-6) \
                    and torch.equal(tar_crop, item['gt']):
                matches.append(key)
        assert len(matches) == 1, matches  # noise pixels: exactly one orientation and place fit
        seen.add(matches[0])
        expected_gt_thumb = photo_thumbnail(bgr_uint8_to_tensor(dihedral_variants(tar)[matches[0]])[None], 8)[0]
        torch.testing.assert_close(item['gt_thumb'], expected_gt_thumb)
    assert len(seen) >= 5  # the orientations do vary


def test_source_jitter_changes_the_whole_source_alike_and_never_the_target(tmp_path):
    src = np.full((24, 32, 3), (60, 120, 180), dtype=np.uint8)
    tar = make_tar_image(24, 32, seed=2)
    manifest, _, _ = write_pair_set(tmp_path / 'pairs', [(src, tar)])
    data = dataset(manifest, src_jitter={'exposure_ev': 0.5, 'white_balance': 0.1}, use_hflip=False,
                   use_rot=False)
    plain = dataset(manifest, use_hflip=False, use_rot=False)
    random.seed(1)
    colours = set()
    for _ in range(6):
        item = data[0]
        colour = item['lq'][:, 0, 0]
        # one colour everywhere: the crop and the thumbnail of the source got the same jitter
        assert torch.equal(item['lq'], colour.view(3, 1, 1).expand(3, 16, 16))
        torch.testing.assert_close(item['lq_thumb'], colour.view(3, 1, 1).expand(3, 8, 8), atol=1e-6, rtol=0)
        x0, y0 = item['box'][:2].tolist()
        top, left = round(y0 * 24), round(x0 * 32)
        assert torch.equal(item['gt'], bgr_uint8_to_tensor(tar[top:top + 16, left:left + 16]))
        colours.add(tuple(colour.tolist()))
    assert len(colours) == 6
    assert torch.equal(plain[0]['lq'][:, 0, 0], bgr_uint8_to_tensor(src)[:, 0, 0])


def test_exposure_table_brightens_in_linear_light_and_zero_is_the_identity():
    identity = exposure_wb_table(0.0, 1.0, 1.0)
    assert identity.shape == (1, 256, 3)
    assert np.array_equal(identity[0, :, 0], np.arange(256))
    brighter = exposure_wb_table(1.0, 1.0, 1.0)
    # sRGB 118 is linear 0.18; one stop up is linear 0.36: sRGB 163
    assert abs(int(brighter[0, 118, 1]) - 163) <= 1
    warm = exposure_wb_table(0.0, 1.2, 1.0)  # red gain in BGR order: channel 2
    assert warm[0, 100, 2] > 100 and warm[0, 100, 0] == 100
    img = np.full((2, 2, 3), 100, dtype=np.uint8)
    assert cv2.LUT(img, warm)[0, 0, 2] == warm[0, 100, 2]


def test_validation_items_are_whole_photos_without_thumbnails(noise_pairs):
    manifest, src, _ = noise_pairs
    item = dataset(manifest, phase='val')[0]
    assert 'lq_thumb' not in item and item['lq'].shape == (3, 30, 44)


def test_unknown_or_negative_jitter_is_refused(noise_pairs):
    manifest = noise_pairs[0]
    with pytest.raises(DatasetOptionError, match='src_jitter takes'):
        dataset(manifest, src_jitter={'contrast': 0.1})
    with pytest.raises(DatasetOptionError, match='>= 0'):
        dataset(manifest, src_jitter={'exposure_ev': -0.1})


def test_uint8_output_keeps_crops_8_bit_and_thumbnails_float(noise_pairs):
    item = dataset(noise_pairs[0], output_dtype='uint8')[0]
    assert item['lq'].dtype == torch.uint8 and item['gt'].dtype == torch.uint8
    assert item['lq_thumb'].dtype == torch.float32 and item['box'].dtype == torch.float32


def test_a_collage_keeps_each_side_an_exact_pair_of_its_own_photo():
    rng = np.random.default_rng(0)
    pair = tuple(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8) for _ in range(2))
    other = tuple(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8) for _ in range(2))
    resized = [cv2.resize(img, (60, 40), interpolation=cv2.INTER_AREA) for img in other]
    cuts = set()
    for seed in range(40):
        src, tar = collage_pairs(pair, other, random.Random(seed))
        for out, own, theirs in ((src, pair[0], resized[0]), (tar, pair[1], resized[1])):
            own_pixels = (out == own).all(-1)
            assert (own_pixels | (out == theirs).all(-1)).all()  # every pixel from one of the two pairs
        from_other = ~(src == pair[0]).all(-1)
        assert ((tar == resized[1]).all(-1) | ~from_other).all()  # source and target cut alike
        rows, cols = np.nonzero(from_other)
        share = from_other.mean()
        assert 0.25 < share < 0.75, share  # 30-70 % of a side
        whole_cols = from_other[:, cols.min():cols.max() + 1].all()
        whole_rows = from_other[rows.min():rows.max() + 1].all()
        assert whole_cols or whole_rows  # one straight cut
        cuts.add((bool(whole_cols and rows.min() == 0 and rows.max() == 39), int(cols.min()), int(rows.min())))
    assert len(cuts) > 10  # the cut's direction, place and side vary
    assert (pair[0] == collage_pairs(pair, other, random.Random(1))[0]).any()  # inputs untouched (copies)


def test_pair_mix_collages_training_samples_and_is_a_probability(tmp_path):
    tars = [make_tar_image(30, 44, seed=seed) for seed in (1, 2)]
    manifest, _, _ = write_pair_set(tmp_path / 'pairs', [(255 - tar, tar) for tar in tars])
    with pytest.raises(DatasetOptionError, match='probability'):
        dataset(manifest, pair_mix=1.5)
    mixed = dataset(manifest, pair_mix=1.0, use_hflip=False, use_rot=False, thumb_size=4)
    plain = dataset(manifest, use_hflip=False, use_rot=False, thumb_size=4)
    random.seed(3)
    thumbs = [mixed[0]['gt_thumb'] for _ in range(6)]
    own = plain[0]['gt_thumb']
    assert all((thumb - own).abs().max() > 0.05 for thumb in thumbs)  # part of every sample is the other photo


def test_the_source_thumbnail_gets_the_field_the_sample_drew(tmp_path, monkeypatch):
    from realestate_sr.data.light_field import LightField
    from realestate_sr.utils.colour import srgb_to_linear

    drawn = []
    draw = LightField.draw
    monkeypatch.setattr(LightField, 'draw', lambda self, rng=random: drawn.append(draw(self, rng)) or drawn[-1])
    src = np.full((48, 64, 3), 90, dtype=np.uint8)  # one colour: the relit thumbnail is the field itself
    manifest, _, _ = write_pair_set(tmp_path / 'pairs', [(src, make_tar_image(48, 64, seed=3))])
    field = {'exposure_ev': 0.75, 'white_balance': 0.25}
    data = dataset(manifest, src_light_field=field, thumb_size=8)
    plain = srgb_to_linear(bgr_uint8_to_tensor(src)[:, :8, :8])
    random.seed(6)
    for _ in range(4):
        item = data[0]
        log_gains = torch.from_numpy(drawn[-1][..., ::-1].transpose(2, 0, 1).copy())  # BGR -> RGB, 3,64,64
        assert log_gains.abs().max() > 0.05
        measured = torch.log(srgb_to_linear(item['lq_thumb']) / plain)
        expected = torch.nn.functional.adaptive_avg_pool2d(log_gains[None], 8)[0]
        torch.testing.assert_close(measured, expected, atol=0.03, rtol=0)
    none_drawn = dataset(manifest, src_light_field={**field, 'prob': 0.0}, thumb_size=8)[0]
    torch.testing.assert_close(srgb_to_linear(none_drawn['lq_thumb']), plain, atol=1e-5, rtol=0)
