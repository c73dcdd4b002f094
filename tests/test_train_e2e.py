"""realestate_sr/train.py end to end: data -> training -> tiled validation -> checkpoints -> auto-resume."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from realestate_sr import training
from realestate_sr.utils.weights import MissingWeightsError
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
    assert {'params', 'params_ema'} <= set(checkpoint)
    assert (root / 'e2e.yml').is_file()  # the option file is copied into the experiment
    assert f'the options as resolved (--force_yml applied, ~ keys deleted): {root}/options_resolved.yml' in log
    assert yaml.safe_load((root / 'options_resolved.yml').read_text())['name'] == experiment_name
    assert (f'Saving models and training states at iter 2: {root}/models/net_g_2.pth, '
            f'{root}/training_states/2.state') in log
    assert 'Validation tiny_val' in log and '# psnr:' in log
    # progress: the data sets, the first iteration, each validation image and which weights it validates
    assert 'data sets built (tiny_train: ' in log and 'first iteration (iter 1) done' in log
    assert 'validating tiny_val at iter 4 with the params_ema weights' in log
    assert 'validating tiny_val: image 1/' in log
    # the last validation runs once, at iter 4 (BasicSR's final call came with the loop counter, 5)
    assert log.count('Validation tiny_val') == 2, log[-3000:]
    assert 'at iter 5 ' not in log
    assert list((root / 'visualization').rglob('*_4.png')), 'validation images are saved'
    events = list((REPO / 'tb_logger' / experiment_name).glob('events.out.tfevents.*'))
    assert events
    accumulator = EventAccumulator(str(events[0].parent)).Reload()
    assert 'metrics/tiny_val/psnr' in accumulator.Tags()['scalars']  # BasicSR's metric curves
    assert [event.step for event in accumulator.Scalars('metrics/tiny_val/psnr')] == [2, 4]
    learning_rates = accumulator.Scalars('train/lr')
    assert [event.step for event in learning_rates] == [1, 2, 3, 4]
    assert learning_rates[0].value == pytest.approx(1e-3, rel=1e-3)
    assert learning_rates[-1].value < learning_rates[0].value  # cosine decay
    image_tags = accumulator.Tags()['images']
    assert image_tags and all(tag.startswith('val/') for tag in image_tags)  # our validation images

    write_options(opt_path, data_dir, experiment_name, total_iter=6)
    log = train(opt_path, tmp_path, '--auto_resume')
    assert 'Resuming training from epoch' in log and 'iter: 4.' in log
    assert log.count('Validation tiny_val') == 1 and 'validating tiny_val at iter 6 ' in log
    assert (root / 'models' / 'net_g_6.pth').is_file()
    assert (root / 'training_states' / '6.state').is_file()


@pytest.mark.parametrize('missing', ['vgg', 'pretrained'])
def test_missing_weights_stop_with_one_message_and_exit_code_2(tmp_path, experiment_name, missing):
    data_dir = tmp_path / 'demo'
    make_data(data_dir)
    opt_path = tmp_path / 'missing.yml'
    write_options(opt_path, data_dir, experiment_name, total_iter=2, perceptual_weight=0.1 if missing == 'vgg' else 0)
    if missing == 'pretrained':
        options = yaml.safe_load(opt_path.read_text())
        options['path']['pretrain_network_g'] = 'experiments/pretrained_models/NAFNet-SIDD-width64.pth'
        opt_path.write_text(yaml.safe_dump(options))
    env = {**os.environ, 'TORCH_HOME': str(tmp_path / 'empty_torch_home')}
    result = run_train(opt_path, tmp_path, env=env)
    assert result.returncode == 2, result.stderr[-3000:]
    assert 'Traceback' not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith('realestate_sr/train.py: error: ')]
    assert len(errors) == 1, result.stderr[-3000:]
    if missing == 'vgg':
        assert 'vgg19-dcbb9e9d.pth' in errors[0] and 'https://download.pytorch.org/models/' in errors[0]
    else:
        assert 'NAFNet-SIDD-width64.pth not found' in errors[0] and 'megvii-research' in errors[0]
    assert not list((REPO / 'experiments' / experiment_name).rglob('*.pth'))


def test_a_missing_option_file_is_one_message(tmp_path):
    result = run_train('nowhere.yml', tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert f'realestate_sr/train.py: error: -opt nowhere.yml: no such option file ({tmp_path / "nowhere.yml"})' \
        in result.stderr


def test_only_our_clear_errors_lose_their_traceback(monkeypatch, capsys):
    def fail(error):
        def run_training():
            raise error
        return run_training

    monkeypatch.setattr(training, 'run_training', fail(MissingWeightsError('vgg19-dcbb9e9d.pth not found')))
    assert training.main() == 2
    assert capsys.readouterr().err == 'realestate_sr/train.py: error: vgg19-dcbb9e9d.pth not found\n'
    monkeypatch.setattr(training, 'run_training', fail(RuntimeError('CUDA out of memory')))
    with pytest.raises(RuntimeError, match='CUDA out of memory'):
        training.main()


def gb10_cpu_check(lmdb_dir, name, option_file='nafnet_gb10_cpu_check.yml'):
    """``options/<option_file>`` (a GB10 recipe shrunk for a CPU) as written, pointed at ``lmdb_dir``."""
    text = (REPO / 'options' / option_file).read_text()
    opt = yaml.safe_load(text.replace('datasets/listings_lmdb', str(lmdb_dir)))
    opt['name'] = name
    return opt


@pytest.mark.slow
@pytest.mark.parametrize('option_file, losses', [('nafnet_gb10_cpu_check.yml', ('l_pix', 'l_percep')),
                                                 ('bilateral_grid_gb10_cpu_check.yml', ('l_pix', 'l_whole', 'l_lut'))])
def test_the_gb10_recipe_trains_from_make_lmdb_output(tmp_path, experiment_name, option_file, losses):
    """The documented path: make_lmdb.py -> options/*_gb10_cpu_check.yml, a GB10 recipe shrunk (LMDB splits,
    memory cache shared with 2 workers, uint8 batches, EMA, AdamW; NAFNet: grad clipping, channels_last, L1 +
    perceptual, tiled validation; the grid: thumbnails, crop boxes, whole_opt and lut_opt, whole-photo validation;
    PSNR/SSIM/LPIPS/L1); tests/test_options.py and tests/test_whole_photo_options.py check that each differs from
    its recipe only in sizes and device."""
    data_dir = tmp_path / 'demo'
    make_data(data_dir)
    lmdb_dir = tmp_path / 'listings_lmdb'
    all_pairs = data_dir / 'all.jsonl'
    all_pairs.write_text((data_dir / 'train.jsonl').read_text() + (data_dir / 'val.jsonl').read_text())
    make_lmdb = subprocess.run([sys.executable, str(REPO / 'scripts' / 'make_lmdb.py'), '--pairs', str(all_pairs),
                                '-o', str(lmdb_dir), '--val-fraction', '0.3', '--no-checks'],
                               capture_output=True, text=True)
    assert make_lmdb.returncode == 0, make_lmdb.stdout + make_lmdb.stderr
    opt_path = tmp_path / 'gb10_cpu.yml'
    opt_path.write_text(yaml.safe_dump(gb10_cpu_check(lmdb_dir, experiment_name, option_file)))

    log = train(opt_path, cwd=tmp_path)
    assert 'Validation listings_val' in log
    for metric in ('psnr', 'ssim', 'lpips', 'l1'):
        assert f'# {metric}:' in log, metric
    for loss in losses:  # the recipe's loss terms, as the loss lines log them
        assert f'{loss}: ' in log, loss
    assert (REPO / 'experiments' / experiment_name / 'models' / 'net_g_4.pth').is_file()


def test_missing_training_data_is_one_message(tmp_path, experiment_name):
    opt = gb10_cpu_check(tmp_path / 'not_built_yet', experiment_name)
    opt_path = tmp_path / 'no_data.yml'
    opt_path.write_text(yaml.safe_dump(opt))
    result = run_train(opt_path, tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith('realestate_sr/train.py: error: ')]
    assert len(errors) == 1 and 'not_built_yet' in errors[0], result.stderr[-3000:]


@pytest.mark.parametrize('force_yml, expected', [
    ('val:val_frq=4', "unknown key 'val_frq' in val (did you mean 'val_freq'?)"),
    ('num_gpu=1', 'num_gpu: 1 but this machine has no CUDA device: set num_gpu: 0 to train on the CPU'),
])
def test_an_option_mistake_is_one_line_before_any_data_is_read(tmp_path, experiment_name, force_yml, expected):
    if expected.startswith('num_gpu') and torch.cuda.is_available():
        pytest.skip('this machine has CUDA')
    opt_path = tmp_path / 'typo.yml'
    opt_path.write_text(yaml.safe_dump(gb10_cpu_check(tmp_path / 'not_built_yet', experiment_name)))
    result = run_train(opt_path, tmp_path, '--force_yml', force_yml)
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith('realestate_sr/train.py: error: ')]
    assert errors == [f'realestate_sr/train.py: error: {opt_path}: {expected}'], result.stderr[-3000:]
    assert not (REPO / 'experiments' / experiment_name).exists()  # stopped before the experiment folder
