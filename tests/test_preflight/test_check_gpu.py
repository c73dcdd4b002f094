"""scripts/check_gpu.py: the pre-flight check of each GB10 recipe runs (--quick on this CPU) and prints its table;
anything that would stop the real run is one error line and a non-zero exit."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from realestate_sr.preflight.recipe import (
    PreflightError,
    load_recipe,
    point_at_storage,
    quick_plan,
    training_options,
)
from realestate_sr.preflight.report import ROWS
from realestate_sr.preflight.synthetic_data import Storage

REPO = Path(__file__).resolve().parents[2]
GB10_RECIPES = ['nafnet_gb10.yml', 'nafnet_gb10_finetune_sidd.yml', 'bilateral_grid_gb10.yml']


def check_gpu(*args, env=None):
    return subprocess.run([sys.executable, str(REPO / 'scripts' / 'check_gpu.py'), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=900, env=env)


def no_weights_env(tmp_path):
    return {**os.environ, 'TORCH_HOME': str(tmp_path / 'empty_torch_home')}


def table(stdout):
    """{row name: value} of the Markdown table check_gpu prints."""
    lines = [line for line in stdout.splitlines() if line.startswith('| ')][1:]
    return dict(tuple(cell.strip() for cell in line.strip('|').split(' | ', 1)) for line in lines)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith('check_gpu: error: ')]


def load(name):
    return yaml.safe_load((REPO / 'options' / name).read_text())


@pytest.mark.slow
@pytest.mark.parametrize('name', GB10_RECIPES)
def test_the_quick_check_of_each_gb10_recipe_prints_its_table(name, tmp_path):
    result = check_gpu('--quick', '--random-weights', '--opt', f'options/{name}', env=no_weights_env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = table(result.stdout)
    assert list(rows) == list(ROWS), result.stdout
    recipe = load(name)
    assert rows['recipe'].startswith(f'options/{name} ({recipe["model_type"]}, {recipe["network_g"]["type"]})')
    assert rows['check'].startswith('quick') and 'random LPIPS trunk' in rows['check']
    assert float(rows['training'].split(' it/s')[0]) > 0
    assert float(rows['data pipeline'].split(' samples/s')[0]) > 0
    assert rows['GPU starved?'].split(':')[0] in ('yes', 'no')
    assert f'of {recipe["train"]["total_iter"]} iterations' in rows['projected run']
    assert 's/photo' in rows['validation'] and 's per 330x220 photo' in rows['inference']
    if 'pretrain_network_g' in (recipe['path'] or {}) and recipe['path']['pretrain_network_g']:
        assert 'path.pretrain_network_g not loaded' in rows['check']


@pytest.mark.parametrize('name, missing', [
    ('nafnet_gb10_finetune_sidd.yml', ('NAFNet-SIDD-width64.pth', 'megvii-research')),
    ('nafnet_gb10.yml', ('vgg19-dcbb9e9d.pth', 'https://download.pytorch.org/models/')),
    ('bilateral_grid_gb10.yml', ('alexnet-owt-7be5be79.pth',)),
])
def test_missing_weights_without_the_random_weights_option_are_one_line_and_exit_1(name, missing, tmp_path):
    result = check_gpu('--quick', '--opt', f'options/{name}', env=no_weights_env(tmp_path))
    assert result.returncode == 1 and not result.stdout.strip(), result.stdout + result.stderr[-3000:]
    assert 'Traceback' not in result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr[-3000:]
    for text in missing:
        assert text in errors[0]


def test_a_cuda_recipe_on_a_machine_without_cuda_asks_for_quick():
    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA')
    result = check_gpu('--opt', 'options/bilateral_grid_gb10.yml')
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and 'no CUDA device' in errors[0] and 'num_gpu: 1' in errors[0]
    assert '--quick' in errors[0]


def test_a_typo_in_the_recipe_is_one_line(tmp_path):
    recipe = load('bilateral_grid_gb10.yml')
    recipe['val']['val_frq'] = recipe['val'].pop('val_freq')
    path = tmp_path / 'typo.yml'
    path.write_text(yaml.safe_dump(recipe))
    result = check_gpu('--quick', '--random-weights', '--opt', str(path))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert error_lines(result.stderr) == [f"check_gpu: error: {path}: unknown key 'val_frq' in val "
                                          "(did you mean 'val_freq'?)"]


# --- the option dict the check trains --------------------------------------------------------------------------------
@pytest.mark.parametrize('name', GB10_RECIPES)
def test_quick_keeps_the_recipes_model_data_layout_losses_and_metrics(name, tmp_path):
    recipe = load(name)
    opt, notes = training_options(recipe, quick_plan(random_weights=True), tmp_path, REPO)
    assert opt['model_type'] == recipe['model_type'] and opt['network_g']['type'] == recipe['network_g']['type']
    for phase, block in recipe['datasets'].items():
        assert opt['datasets'][phase]['type'] == block['type']
        assert opt['datasets'][phase]['io_backend'] == block['io_backend']
        assert opt['datasets'][phase].get('cache') == block.get('cache')
    for key in ('pixel_opt', 'perceptual_opt', 'whole_opt', 'lut_opt', 'optim_g', 'scheduler', 'total_iter'):
        assert (key in opt['train']) == (key in recipe['train'])
    assert set(opt['val']['metrics']) == set(recipe['val']['metrics'])
    assert opt['train']['channels_last'] == recipe['train']['channels_last']
    assert opt['num_gpu'] == 0 and opt['datasets']['train']['prefetch_mode'] is None
    assert notes  # every change is said


def test_random_trunks_only_with_the_option(tmp_path):
    recipe = load('nafnet_gb10.yml')
    opt, notes = training_options(recipe, quick_plan(random_weights=False), tmp_path, REPO)
    assert not opt['train']['perceptual_opt'].get('use_random_vgg_weights_for_testing')
    assert not opt['val']['metrics']['lpips'].get('random_backbone_for_testing')
    assert not [note for note in notes if 'random' in note]
    opt, notes = training_options(recipe, quick_plan(random_weights=True), tmp_path, REPO)
    assert opt['train']['perceptual_opt']['use_random_vgg_weights_for_testing'] is True
    assert opt['val']['metrics']['lpips']['random_backbone_for_testing'] is True
    assert 'random VGG19 trunk: the perceptual loss means nothing' in notes


def test_the_full_check_keeps_every_size_of_the_recipe(tmp_path):
    from realestate_sr.preflight.recipe import CheckPlan

    recipe = load('bilateral_grid_gb10.yml')
    opt, notes = training_options(recipe, CheckPlan(), tmp_path, REPO)
    assert notes == []
    assert opt['network_g'] == recipe['network_g'] and opt['train'] == recipe['train']
    assert opt['datasets']['train']['batch_size_per_gpu'] == 16 and opt['num_gpu'] == 1


def test_datasets_are_pointed_at_the_synthetic_storage_of_their_kind(tmp_path):
    opt = load('nafnet_gb10.yml')
    opt['datasets']['val'] = {'name': 'v', 'type': 'PairedListingDataset', 'meta_file': 'datasets/x/val.jsonl',
                              'io_backend': {'type': 'disk'}}
    storage = Storage(root=tmp_path, lmdb=tmp_path / 'lmdb', manifests={'val': tmp_path / 'val.jsonl'})
    point_at_storage(opt, storage)
    assert opt['datasets']['train']['dataroot_lq'] == str(tmp_path / 'lmdb' / 'src.lmdb')
    assert opt['datasets']['train']['split_file'] == str(tmp_path / 'lmdb' / 'train.txt')
    assert opt['datasets']['val']['meta_file'] == str(tmp_path / 'val.jsonl')
    opt['datasets']['val'] = {'name': 'v', 'type': 'PairedListingDataset', 'dataroot_lq': 'a', 'dataroot_gt': 'b'}
    with pytest.raises(PreflightError, match='datasets.val: the check makes LMDB .* this block reads paired folders'):
        point_at_storage(opt, storage)


@pytest.mark.parametrize('text, problem', [(None, 'cannot read it'), ('- a list\n', 'not a YAML mapping of options')])
def test_a_recipe_that_cannot_be_read_is_one_line_naming_it(tmp_path, text, problem):
    path = tmp_path / 'recipe.yml'
    if text is not None:
        path.write_text(text)
    with pytest.raises(PreflightError, match=f'--opt: option file .*recipe.yml.*{problem}'):
        load_recipe(path)
