"""realestate_sr/train.py end to end: data -> training -> tiled validation -> checkpoints -> auto-resume."""
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.training_options import write_tiny_training_options

REPO = Path(__file__).resolve().parents[1]


def write_options(path, data_dir, name, total_iter, perceptual_weight=0):
    write_tiny_training_options(path, name, data_dir, total_iter, perceptual_weight=perceptual_weight,
                                tile={'size': 128, 'overlap': 32, 'batch': 2})


def run_train(opt_path, cwd, *extra, env=None):
    command = [sys.executable, str(REPO / 'realestate_sr' / 'train.py'), '-opt', str(opt_path), *extra]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def train(opt_path, cwd, *extra):
    result = run_train(opt_path, cwd, *extra)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def make_data(data_dir):
    subprocess.run([sys.executable, str(REPO / 'scripts' / 'make_demo_data.py'), '-o', str(data_dir),
                    '--train-variants', '1', '--val-variants', '1'], check=True, capture_output=True)


@pytest.fixture
def experiment_name():
    name = f'pytest_e2e_{uuid.uuid4().hex[:8]}'
    yield name
    for folder in (REPO / 'experiments' / name, REPO / 'tb_logger' / name):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_train_validate_checkpoint_and_auto_resume_from_another_directory(tmp_path, experiment_name):
    data_dir = tmp_path / 'demo'
    make_data(data_dir)
    opt_path = tmp_path / 'e2e.yml'
    write_options(opt_path, data_dir, experiment_name, total_iter=4)

    log = train(opt_path, cwd=tmp_path)  # not the repo root: outputs still go to the repo's experiments/
    root = REPO / 'experiments' / experiment_name
    for iteration in (2, 4):
        assert (root / 'models' / f'net_g_{iteration}.pth').is_file()
        assert (root / 'training_states' / f'{iteration}.state').is_file()
    checkpoint = torch.load(root / 'models' / 'net_g_latest.pth', weights_only=True)
    assert set(checkpoint) == {'params', 'params_ema'}
    assert (root / 'e2e.yml').is_file()  # the option file is copied into the experiment
    assert 'Validation tiny_val' in log and '# psnr:' in log
    assert list((root / 'visualization').rglob('*_4.png')), 'validation images are saved'
    events = list((REPO / 'tb_logger' / experiment_name).glob('events.out.tfevents.*'))
    assert events
    accumulator = EventAccumulator(str(events[0].parent)).Reload()
    assert 'metrics/tiny_val/psnr' in accumulator.Tags()['scalars']  # BasicSR's metric curves
    image_tags = accumulator.Tags()['images']
    assert image_tags and all(tag.startswith('val/') for tag in image_tags)  # our validation images

    write_options(opt_path, data_dir, experiment_name, total_iter=6)
    log = train(opt_path, tmp_path, '--auto_resume')
    assert 'Resuming training from epoch' in log and 'iter: 4.' in log
    assert (root / 'models' / 'net_g_6.pth').is_file()
    assert (root / 'training_states' / '6.state').is_file()


def test_run_without_vgg_weights_stops_with_the_file_name_and_url(tmp_path, experiment_name):
    data_dir = tmp_path / 'demo'
    make_data(data_dir)
    opt_path = tmp_path / 'percep.yml'
    write_options(opt_path, data_dir, experiment_name, total_iter=2, perceptual_weight=0.1)
    env = {**os.environ, 'TORCH_HOME': str(tmp_path / 'empty_torch_home')}
    result = run_train(opt_path, tmp_path, env=env)
    assert result.returncode != 0
    assert 'MissingWeightsError' in result.stderr
    assert 'vgg19-dcbb9e9d.pth' in result.stderr and 'https://download.pytorch.org/models/' in result.stderr
    assert not list((REPO / 'experiments' / experiment_name).rglob('*.pth'))
