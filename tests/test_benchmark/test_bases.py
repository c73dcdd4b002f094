"""Base models of a benchmark run: which recipes can be a base or start from one, which photos a base sees, when a
stored base is reused, and how its pieces are named and labelled."""
import json

import pytest

from realestate_sr.benchmark.bases import (
    BASE_CHECKPOINT,
    base_folder,
    base_houses,
    base_photos,
    check_fine_tune_recipe,
    houses_per_photo,
    record_base,
    reusable_base,
)
from realestate_sr.benchmark.cv_report import recipe_label
from realestate_sr.benchmark.folds import fold_photos
from realestate_sr.benchmark.pieces import PieceKey
from realestate_sr.benchmark.recipes import RecipeError
from realestate_sr.options import read_option_file

NETWORK = {'type': 'BilateralGridNet', 'thumb_size': 32, 'stats_input': True}
BASE = {'network_g': {**NETWORK, 'style_codes': {'count': 6, 'dim': 4}}, 'bench': {'houses_per_photo': 3}}


def scenes(count):
    return {f'photo{i:02d}': f'scene{i // 2}' for i in range(count)}


def test_a_base_needs_statistics_and_house_codes():
    assert base_houses('b', BASE) == (6, 4) and houses_per_photo(BASE) == 3
    assert houses_per_photo({'network_g': {}}) == 6
    with pytest.raises(RecipeError, match='stats_input: true and style_codes'):
        base_houses('b', {'network_g': dict(NETWORK)})
    with pytest.raises(RecipeError, match='stats_input: true and style_codes'):
        base_houses('b', {'network_g': {**BASE['network_g'], 'stats_input': False}})
    with pytest.raises(RecipeError, match='base recipe b: .*count: K, dim: d'):
        base_houses('b', {'network_g': {**NETWORK, 'style_codes': {'count': 6}}})


def test_a_fine_tune_recipe_is_the_bases_network_with_one_house_and_the_error_names_each_difference():
    check_fine_tune_recipe('f', {'network_g': {**NETWORK, 'style_codes': {'count': 1, 'dim': 4}}}, 'b', BASE)
    with pytest.raises(RecipeError, match=r"style_codes: \{'count': 6, 'dim': 4\} \(the base needs \{'count': 1"):
        check_fine_tune_recipe('f', BASE, 'b', BASE)
    with pytest.raises(RecipeError, match='stats_input: None .*thumb_size: 64'):
        check_fine_tune_recipe('f', {'network_g': {'type': 'BilateralGridNet', 'thumb_size': 64,
                                                   'style_codes': {'count': 1, 'dim': 4}}}, 'b', BASE)


def test_the_shipped_recipes_fit_each_other():
    base = read_option_file('options/bench/base_houses.yml').options
    fine_tune = read_option_file('options/bench/bilateral_grid_whole_base.yml').options
    stats = read_option_file('options/bench/bilateral_grid_whole_stats.yml').options
    check_fine_tune_recipe('bilateral_grid_whole_base', fine_tune, 'base_houses', base)
    assert {key: value for key, value in fine_tune['network_g'].items() if key != 'style_codes'} == stats['network_g']
    assert base_houses('base_houses', base)[0] > houses_per_photo(base)


@pytest.mark.parametrize('fold', [0, 1, 2])
def test_a_base_never_sees_the_folds_test_photos_nor_its_val_photos(fold):
    scene_of = scenes(30)
    photos = base_photos(scene_of, 3, fold)
    _, test = fold_photos(scene_of, 3, fold, 'test')
    val_train, val = fold_photos(scene_of, 3, fold, 'val')
    assert photos == val_train and photos and not set(photos) & (set(test) | set(val))


def test_a_stored_base_is_reused_only_with_equal_settings_and_its_checkpoint(tmp_path):
    folder = base_folder(tmp_path, 'base_houses', 2)
    assert folder == tmp_path / 'bases' / 'base_houses__fold2'
    settings = {'fold': 2, 'photos': ['a', 'b']}
    assert reusable_base(folder, settings) is None
    record_base(folder, settings, {'train_s': 1.0})
    assert reusable_base(folder, settings) is None  # no checkpoint: a training that failed after the settings
    (folder / BASE_CHECKPOINT).write_bytes(b'weights')
    assert reusable_base(folder, settings) == folder / BASE_CHECKPOINT
    assert reusable_base(folder, {**settings, 'photos': ['a']}) is None
    assert json.loads((folder / 'base_settings.json').read_text())['cost'] == {'train_s': 1.0}


def test_a_piece_from_a_base_has_its_own_file_and_row_and_a_scratch_piece_keeps_its_name():
    scratch = PieceKey('grid', 'listing_hdr', 'val', 1, 0)
    based = PieceKey('grid', 'listing_hdr', 'val', 1, 0, base='base_houses')
    assert scratch.file_name() == 'grid__listing_hdr__val1__seed0__demo__photos-all.json'
    assert based.file_name() == 'grid__listing_hdr__val1__seed0__demo__photos-all__from-base_houses.json'
    assert recipe_label(scratch.as_dict()) == 'grid' and recipe_label(based.as_dict()) == 'grid [from base_houses]'
    old_piece_key = {key: value for key, value in scratch.as_dict().items() if key != 'base'}
    assert recipe_label(old_piece_key) == 'grid'  # pieces written before --base
