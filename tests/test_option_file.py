"""realestate_sr.options: an option file read once, and what its network_g, gt_size, val.tile and val.tlc mean."""
from pathlib import Path

import pytest
import yaml

from realestate_sr.inference.settings import InferenceSettings
from realestate_sr.options import (
    OptionFile,
    OptionFileError,
    inference_values,
    network_opt,
    read_option_file,
    training_patch_size,
    validation_tile,
)

OPTION_DIR = Path(__file__).resolve().parents[1] / 'options'
SHIPPED = sorted(OPTION_DIR.glob('*.yml')) + sorted((OPTION_DIR / 'bench').glob('*.yml'))


def test_the_file_is_read_once_and_later_changes_do_not_show(tmp_path):
    path = tmp_path / 'opt.yml'
    path.write_text('network_g: {type: NAFNet, width: 8}\ndatasets: {train: {gt_size: 64}}\nval: {tile: {size: 96}}\n')
    option_file = read_option_file(path)
    path.write_text('network_g: {type: BilateralGridNet}\nval: {tile: ~}\n')
    assert option_file.network_opt() == {'type': 'NAFNet', 'width': 8}
    assert training_patch_size(option_file.options) == (1, 3, 64, 64)
    assert inference_values(option_file.options)['tile_size'] == 96
    assert read_option_file(option_file) is option_file  # a function may take a path or what was read
    assert option_file.text.startswith('network_g: {type: NAFNet, width: 8}\n')  # what was parsed, not the file now


def test_the_accessors_read_the_gb10_recipes_as_documented():
    nafnet = read_option_file(OPTION_DIR / 'nafnet_gb10.yml')
    assert nafnet.network_opt() == {'type': 'NAFNet', 'img_channel': 3, 'width': 64, 'middle_blk_num': 12,
                                    'enc_blk_nums': [2, 2, 4, 8], 'dec_blk_nums': [2, 2, 2, 2]}
    assert training_patch_size(nafnet.options) == (1, 3, 512, 512)
    assert validation_tile(nafnet.options['val']) == {'size': 512, 'overlap': 64, 'batch': 8, 'border_pad': 0}
    assert inference_values(nafnet.options) == {'precision': 'bf16', 'channels_last': True,
                                                'train_size': (1, 3, 512, 512), 'tlc': False, 'tile_size': 512,
                                                'overlap': 64, 'tile_batch': 8, 'border_pad': 0}
    grid = inference_values(read_option_file(OPTION_DIR / 'bilateral_grid_gb10.yml').options)
    assert (grid['tile_size'], grid['precision'], grid['channels_last']) == (None, 'bf16', False)


@pytest.mark.parametrize('val_opt, expected', [
    ({'tile': None}, None),
    ({'tile': {'size': 0}}, None),  # evaluate.py reads size 0 as whole photos: training must agree
    ({'tile': {'size': 256}}, {'size': 256, 'overlap': 64, 'batch': 4, 'border_pad': 0}),
    ({'tile': {'size': 128, 'overlap': 16, 'batch': 2}}, {'size': 128, 'overlap': 16, 'batch': 2, 'border_pad': 0}),
])
def test_validation_tile_fills_the_defaults_and_reads_size_0_as_whole_photos(val_opt, expected):
    assert validation_tile(val_opt) == expected


def test_inference_values_without_val_block_leave_tiling_and_tlc_to_the_defaults():
    assert inference_values({'network_g': {'type': 'NAFNet'}}) == {'precision': 'fp32', 'channels_last': False,
                                                                  'train_size': None}
    assert inference_values({}) == {'precision': 'fp32', 'channels_last': False}


@pytest.mark.parametrize('path', SHIPPED, ids=lambda p: p.name)
def test_inference_values_are_the_settings_the_option_file_implies(path):
    opt = yaml.safe_load(path.read_text())
    assert InferenceSettings(**inference_values(opt)) == InferenceSettings.from_options(opt)


def test_patch_size_follows_the_network_channels_and_is_none_without_gt_size():
    assert training_patch_size({'network_g': {'img_channel': 1}, 'datasets': {'train': {'gt_size': 32}}}) == \
        (1, 1, 32, 32)
    assert training_patch_size({'network_g': {}, 'datasets': {'train': {}}}) is None


def test_network_opt_is_a_copy_and_its_absence_names_the_source():
    opt = {'network_g': {'type': 'NAFNet'}}
    network_opt(opt)['width'] = 8
    assert opt == {'network_g': {'type': 'NAFNet'}}
    with pytest.raises(KeyError, match='x.yml has no network_g block'):
        network_opt({'name': 'nothing'}, 'x.yml')


@pytest.mark.parametrize('text, problem', [
    (None, 'cannot read it'),
    ('network_g: {type: NAFNet\n', 'is not valid YAML'),
    ('- a list\n', 'is not a YAML mapping of options'),
    ('', 'is not a YAML mapping of options'),
])
def test_a_missing_or_invalid_file_is_one_clear_error_naming_it(tmp_path, text, problem):
    path = tmp_path / 'opt.yml'
    if text is not None:
        path.write_text(text)
    with pytest.raises(OptionFileError, match=problem) as error:
        read_option_file(path)
    assert str(path) in str(error.value) and '\n' not in str(error.value)
    assert isinstance(error.value, OSError)  # the tools' handlers of an unreadable file catch it


def test_option_file_is_frozen():
    option_file = OptionFile(Path('x.yml'), {})
    with pytest.raises(AttributeError):
        option_file.options = {'name': 'other'}
