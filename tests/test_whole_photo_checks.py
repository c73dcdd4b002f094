"""Start-up checks of a whole-photo recipe's blocks against each other (realestate_sr/models/whole_photo_checks.py).

Each case is an edit of options/demo.yml that the key checks alone let through and that used to fail at the first
iteration (or trained something else than asked) once the data sets were built.
"""
from pathlib import Path

import pytest
import torch
import yaml

from realestate_sr.archs.whole_photo_ops import WholePhotoInputError
from realestate_sr.data.paired_listing_dataset import PairedListingDataset
from realestate_sr.data.whole_photo_dataset import DEFAULT_THUMB_SIZE, WholePhotoDataset
from realestate_sr.models.option_checks import OptionKeyError, check_training_options, training_option_problems
from realestate_sr.models.whole_photo_checks import whole_photo_archs

from basicsr.archs import build_network

OPTIONS = Path(__file__).resolve().parents[1] / 'options'


def demo_with(edit):
    opt = yaml.safe_load((OPTIONS / 'demo.yml').read_text())
    edit(opt)
    return opt


def block(opt, dotted):
    for key in dotted.split('.'):
        opt = opt[key]
    return opt


def set_keys(dotted, **values):
    return lambda opt: block(opt, dotted).update(values)


def drop_key(dotted, key):
    return lambda opt: block(opt, dotted).pop(key)


def thumbnails_of(size):
    """Both thumbnail sizes (the network's and the training set's) set to ``size``."""
    def edit(opt):
        opt['network_g']['thumb_size'] = opt['datasets']['train']['thumb_size'] = size
    return edit


MISMATCHES = [  # (edit of options/demo.yml, the one line it must give)
    (set_keys('datasets.train', thumb_size=256),
     'datasets.train.thumb_size: 256 but network_g.thumb_size: 128: the network encodes the thumbnails the training '
     'set makes, so both must be the same; write thumb_size: 128 in datasets.train (or 256 in network_g)'),
    (drop_key('datasets.train', 'thumb_size'),
     'datasets.train.thumb_size: 256 (its default) but network_g.thumb_size: 128: the network encodes the thumbnails '
     'the training set makes, so both must be the same; write thumb_size: 128 in datasets.train (or 256 in network_g)'),
    (set_keys('datasets.val', type='WholePhotoDataset', thumb_size=64),
     'datasets.val.thumb_size: 64 but network_g.thumb_size: 128: validation passes whole photos and the network makes '
     'its own thumbnails; write thumb_size: 128 in datasets.val or leave the key out'),
    (set_keys('network_g', levels=7),
     'network_g.thumb_size: 128 and network_g.levels: 7: the grid is thumb_size / 2**levels cells a side, a whole '
     'number and at least 2; write thumb_size: 256, or levels: 6 or less'),
    (thumbnails_of(100),
     'network_g.thumb_size: 100 and network_g.levels: 3: the grid is thumb_size / 2**levels cells a side, a whole '
     'number and at least 2; write thumb_size: 96 or 104, or levels: 2 or less'),
    (set_keys('network_g', gain_cells=32),
     "network_g.gain_cells: 32 is finer than the grid, network_g.thumb_size 128 / 2**network_g.levels 3 = 16 cells "
     "a side: the light map is spread over the grid's cells; write gain_cells: 16 or less"),
    (lambda opt: opt['network_g'].clear() or opt['network_g'].update(type='ImageAdaptiveLUT', thumb_size=128,
                                                                      levels=8),
     'network_g.thumb_size: 128 is smaller than 2**network_g.levels = 256 (levels: 8): each level halves the '
     'thumbnail; write thumb_size: 256 or more, or levels: 7 or less'),
    (lambda opt: opt.update(model_type='EnhanceModel'),
     'datasets.train.type: WholePhotoDataset makes whole-photo thumbnails that model_type: EnhanceModel never passes '
     'to the network: write model_type: WholePhotoModel'),
    (lambda opt: opt.update(network_g={'type': 'NAFNet', 'width': 8}),
     "model_type: WholePhotoModel passes each crop's thumbnail and box to network_g, which network_g.type: NAFNet "
     "does not take: write model_type: EnhanceModel, or a whole-photo network_g.type ({whole_photo_archs})"),
    (lambda opt: opt['datasets'].update(train={key: value for key, value in opt['datasets']['train'].items()
                                               if key in PairedListingDataset.OPTION_KEYS | {'batch_size_per_gpu'}}
                                        | {'type': 'PairedListingDataset'}),
     "network_g.type: BilateralGridNet decides its edit from the whole photo's thumbnail, but datasets.train.type: "
     "PairedListingDataset gives crops only (each would be taken for a whole photo): write datasets.train.type: "
     "WholePhotoDataset"),
]


@pytest.mark.parametrize('edit, expected', MISMATCHES, ids=range(len(MISMATCHES)))
def test_a_whole_photo_mismatch_is_one_line_naming_both_keys_and_what_to_write(edit, expected):
    opt = demo_with(edit)
    # the registry's list, read when the test runs: other test modules register whole-photo networks of their own
    assert training_option_problems(opt, cuda_available=False) == [expected.replace('{whole_photo_archs}',
                                                                                     whole_photo_archs())]
    with pytest.raises(OptionKeyError, match=r'^demo\.yml: '):
        check_training_options(opt, 'demo.yml', cuda_available=False)


def test_the_thumbnail_mismatch_is_the_one_that_crashed_the_first_iteration():
    """What the check stops: the training set's 256 px thumbnails in a network of 128 px."""
    opt = demo_with(set_keys('datasets.train', thumb_size=256))
    net = build_network(dict(opt['network_g']))
    crops, thumbs = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 256, 256)
    box = torch.tensor([[0.0, 0.0, 0.5, 0.5]] * 2)
    with pytest.raises(WholePhotoInputError):
        net(crops, thumb=thumbs, box=box)


@pytest.mark.parametrize('value, other', [(128, 128), (64, 64)])
def test_following_the_thumbnail_advice_passes(value, other):
    opt = demo_with(set_keys('datasets.train', thumb_size=256))
    opt['datasets']['train']['thumb_size'], opt['network_g']['thumb_size'] = value, other
    assert training_option_problems(opt, cuda_available=False) == []


def test_the_grid_sizes_the_check_allows_build_and_those_it_refuses_do_not():
    for thumb, levels in ((128, 3), (96, 4), (120, 3), (128, 7), (100, 4)):
        opt = demo_with(thumbnails_of(thumb))
        opt['network_g']['levels'] = levels
        refused = bool(training_option_problems(opt, cuda_available=False))
        try:
            build_network(dict(opt['network_g']))
            built = True
        except ValueError:
            built = False
        assert built != refused, (thumb, levels)


def test_a_dataset_without_thumb_size_makes_the_thumbnails_the_checks_assume(pair_set):
    manifest, _, _ = pair_set
    dataset = WholePhotoDataset({'name': 'd', 'phase': 'train', 'meta_file': str(manifest), 'gt_size': 16,
                                 'io_backend': {'type': 'disk'}, 'thumb_cache': False})
    assert dataset.thumb_size == DEFAULT_THUMB_SIZE


def test_a_crop_larger_or_smaller_than_the_thumbnail_is_allowed():
    for gt_size in (16, 512):
        opt = demo_with(set_keys('datasets.train', gt_size=gt_size))
        assert training_option_problems(opt, cuda_available=False) == []


def test_a_train_set_without_a_type_is_left_to_the_key_checks():
    opt = demo_with(lambda o: o['datasets'].update(train={'gt_size': 24}))
    assert training_option_problems(opt, cuda_available=False) == []


def test_the_package_whole_photo_networks_are_named_in_the_mismatch_line():
    named = whole_photo_archs().split(', ')
    assert {'BilateralGridNet', 'ImageAdaptiveLUT'} <= set(named) and 'NAFNet' not in named
