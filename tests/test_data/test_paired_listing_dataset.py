"""PairedListingDataset from disk: alignment of crops and augmentations, sources, errors, EXIF."""
import json
import random

import numpy as np
import pytest
import torch
from PIL import Image

from realestate_sr.data.image_io import PairSizeMismatchError
from realestate_sr.data.paired_listing_dataset import DatasetOptionError, PairedListingDataset
from tests.test_data.synthetic_pairs import make_tar_image, write_image

from basicsr.data import build_dataset


def train_opt(manifest, **extra):
    opt = dict(name='t', type='PairedListingDataset', phase='train', dataroot=str(manifest.parent),
               meta_file=str(manifest), io_backend={'type': 'disk'}, gt_size=16, use_hflip=True, use_rot=True)
    opt.update(extra)
    return opt


def dihedral_variants(img):
    """The 8 flips/transposes of an H,W,C array, as the dataset can produce them."""
    out = []
    for hflip in (False, True):
        for vflip in (False, True):
            for rot in (False, True):
                x = img[:, ::-1] if hflip else img
                x = x[::-1] if vflip else x
                out.append(((hflip, vflip, rot), x.transpose(1, 0, 2) if rot else x))
    return out


def locate_patch(full_rgb, patch):
    """Which (transform, top, left) of ``full_rgb`` (H,W,3 uint8) gives ``patch``; None if none does."""
    size = patch.shape[0]
    for name, variant in dihedral_variants(full_rgb):
        h, w = variant.shape[:2]
        for top in range(h - size + 1):
            for left in range(w - size + 1):
                if np.array_equal(variant[top:top + size, left:left + size], patch):
                    return name, top, left
    return None


def to_uint8_hwc(tensor):
    return (tensor.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def test_crop_and_augmentation_keep_the_pixelwise_relation(pair_set):
    manifest, _, _ = pair_set
    dataset = PairedListingDataset(train_opt(manifest))
    random.seed(3)
    seen_transforms = set()
    for step in range(40):
        index = step % len(dataset)
        item = dataset[index]
        lq, gt = item['lq'], item['gt']
        assert lq.dtype == torch.float32 and lq.shape == gt.shape == (3, 16, 16)
        assert 0.0 <= float(gt.min()) and float(gt.max()) <= 1.0
        # src = 255 - tar pixel by pixel, so any misaligned crop or unequal flip breaks this
        torch.testing.assert_close(lq, 1.0 - gt, atol=1e-6, rtol=0)
        full_tar_rgb = np.asarray(Image.open(item['gt_path']).convert('RGB'))
        where = locate_patch(full_tar_rgb, to_uint8_hwc(gt))
        assert where is not None, 'gt patch is not a flip/rotation of a window of the target'
        seen_transforms.add(where[0])
    assert len(seen_transforms) == 8  # every dihedral transform occurs, so augmentation is really on


def test_no_augmentation_when_disabled(pair_set):
    manifest, _, _ = pair_set
    dataset = PairedListingDataset(train_opt(manifest, use_hflip=False, use_rot=False))
    random.seed(0)
    for index in range(len(dataset)):
        item = dataset[index]
        full_tar_rgb = np.asarray(Image.open(item['gt_path']).convert('RGB'))
        assert locate_patch(full_tar_rgb, to_uint8_hwc(item['gt']))[0] == (False, False, False)


@pytest.mark.parametrize('phase', ['val', 'test'])
def test_validation_returns_whole_rgb_images(pair_set, phase):
    manifest, _, _ = pair_set
    dataset = PairedListingDataset(train_opt(manifest, phase=phase, gt_size=None))
    item = dataset[1]
    tar_rgb = np.asarray(Image.open(item['gt_path']).convert('RGB'))
    assert item['gt'].shape == (3, 36, 52)
    np.testing.assert_array_equal(to_uint8_hwc(item['gt']), tar_rgb)  # channel order is RGB
    assert item['lq_path'].endswith('1_src.png') and item['gt_path'].endswith('1_tar.png')


def test_folders_and_manifest_give_the_same_samples(pair_set):
    manifest, src_dir, tar_dir = pair_set
    from_manifest = PairedListingDataset(train_opt(manifest))
    from_folders = PairedListingDataset(dict(train_opt(manifest, meta_file=None, dataroot=None),
                                             dataroot_lq=str(src_dir), dataroot_gt=str(tar_dir)))
    assert len(from_manifest) == len(from_folders) == 3
    for index in range(3):
        random.seed(index)
        a = from_manifest[index]
        random.seed(index)
        b = from_folders[index]
        assert torch.equal(a['lq'], b['lq']) and torch.equal(a['gt'], b['gt'])


def test_size_mismatch_names_the_pair(tmp_path):
    write_image(tmp_path / 'a_src.png', make_tar_image(20, 30, 0))
    write_image(tmp_path / 'a_tar.png', make_tar_image(20, 31, 0))
    (tmp_path / 'm.jsonl').write_text(json.dumps({'src': 'a_src.png', 'tar': 'a_tar.png'}) + '\n')
    dataset = PairedListingDataset(train_opt(tmp_path / 'm.jsonl', gt_size=8))
    with pytest.raises(PairSizeMismatchError, match='a_src.png.*30x20.*31x20'):
        dataset[0]


def test_exif_orientation_is_applied_to_both_images(tmp_path):
    """A phone JPEG stored sideways with an EXIF rotation tag pairs with an upright edited export."""
    upright = np.zeros((24, 40, 3), np.uint8)
    upright[:, :20] = 255
    stored_sideways = np.ascontiguousarray(np.rot90(upright, k=1))  # EXIF 6 = rotate 90 clockwise to display
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored_sideways).save(tmp_path / 'p_src.jpg', exif=exif.tobytes(), quality=98)
    Image.fromarray(upright).save(tmp_path / 'p_tar.jpg', quality=98)
    (tmp_path / 'm.jsonl').write_text(json.dumps({'src': 'p_src.jpg', 'tar': 'p_tar.jpg'}) + '\n')
    item = PairedListingDataset(train_opt(tmp_path / 'm.jsonl', phase='val'))[0]
    assert item['lq'].shape == item['gt'].shape == (3, 24, 40)
    assert float((item['lq'] - item['gt']).abs().mean()) < 0.02


def test_built_through_basicsr_registry(pair_set):
    manifest, _, _ = pair_set
    dataset = build_dataset(train_opt(manifest))
    assert isinstance(dataset, PairedListingDataset) and len(dataset) == 3


@pytest.mark.parametrize('change, message', [
    (dict(gt_size=None), 'gt_size is required'),
    (dict(phase='training'), 'phase must be one of'),
    (dict(meta_file=None), 'give either meta_file'),
    (dict(io_backend={'type': 'ftp'}), "unknown io_backend type 'ftp'"),
])
def test_option_errors_are_precise(pair_set, change, message):
    manifest, _, _ = pair_set
    with pytest.raises(DatasetOptionError, match=message):
        PairedListingDataset(train_opt(manifest, **change))


def test_patch_larger_than_image_names_the_pair(pair_set):
    manifest, _, _ = pair_set
    with pytest.raises(ValueError, match='0_src.png.*smaller than gt_size 64'):
        PairedListingDataset(train_opt(manifest, gt_size=64))[0]


def test_uint8_output_carries_the_same_pixels_and_the_model_converts_them(pair_set, tmp_path):
    from tests.test_models.test_enhance_model import model_opt

    from basicsr.models import build_model

    manifest, _, _ = pair_set
    as_float = PairedListingDataset(train_opt(manifest, phase='val', gt_size=None))[0]
    as_uint8 = PairedListingDataset(train_opt(manifest, phase='val', gt_size=None, output_dtype='uint8'))[0]
    assert as_uint8['lq'].dtype == torch.uint8 and as_uint8['lq'].shape == as_float['lq'].shape
    model = build_model(model_opt(tmp_path))
    model.feed_data({'lq': as_uint8['lq'][None], 'gt': as_uint8['gt'][None]})
    assert model.lq.dtype == torch.float32
    torch.testing.assert_close(model.lq, as_float['lq'][None], rtol=0, atol=0)
    torch.testing.assert_close(model.gt, as_float['gt'][None], rtol=0, atol=0)
    with pytest.raises(DatasetOptionError, match='output_dtype'):
        PairedListingDataset(train_opt(manifest, output_dtype='float16'))
