"""WholePhotoDataset: whole-photo thumbnails + a full-resolution crop + its box, transformed as one sample."""
import random

import pytest
import torch

from realestate_sr.archs.whole_photo_ops import photo_thumbnail
from realestate_sr.data.pair_transforms import bgr_uint8_to_tensor
from realestate_sr.data.whole_photo_dataset import WholePhotoDataset
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


def test_validation_items_are_whole_photos_without_thumbnails(noise_pairs):
    manifest, src, _ = noise_pairs
    item = dataset(manifest, phase='val')[0]
    assert 'lq_thumb' not in item and item['lq'].shape == (3, 30, 44)


def test_uint8_output_keeps_crops_8_bit_and_thumbnails_float(noise_pairs):
    item = dataset(noise_pairs[0], output_dtype='uint8')[0]
    assert item['lq'].dtype == torch.uint8 and item['gt'].dtype == torch.uint8
    assert item['lq_thumb'].dtype == torch.float32 and item['box'].dtype == torch.float32
