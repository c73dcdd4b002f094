"""Pretrained files are checked at start-up, before any data set is built (realestate_sr/models/weights_checks.py)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from realestate_sr.losses.vgg_features import VGG19_FILE
from realestate_sr.metrics.lpips_metric import LPIPS_BACKBONES
from realestate_sr.models.option_checks import OptionKeyError, check_training_options
from realestate_sr.models.weights_checks import missing_weights_problems
from realestate_sr.utils.weights import MissingWeightsError
from tests.test_options import SHIPPED_OPTION_FILES
from tests.training_options import tiny_training_options

REPO = Path(__file__).resolve().parents[1]
TORCHVISION_FILES = (VGG19_FILE, *LPIPS_BACKBONES.values())
LPIPS_ON_CPU = {'type': 'calculate_lpips', 'net': 'alex', 'device': 'cpu', 'better': 'lower'}


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """An empty torch hub cache, the current directory a fresh folder (relative paths resolve there)."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.chdir(tmp_path)
    return tmp_path / 'torch_home' / 'hub' / 'checkpoints'


def put_files(folder, *names):
    """Placeholder files: the check looks for files, the loaders read them later."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b'')


def options_needing_weights(tmp_path, **path):
    """A tiny option file with a VGG perceptual loss and an LPIPS validation metric (on the CPU)."""
    opt = tiny_training_options('weights', tmp_path / 'data', total_iter=2, perceptual_weight=0.1)
    opt['val']['metrics']['lpips'] = dict(LPIPS_ON_CPU)
    opt['path'].update(path)
    return opt


def test_each_missing_file_is_one_line_naming_the_key_the_file_where_and_the_url(tmp_path, empty_hub):
    opt = options_needing_weights(tmp_path, pretrain_network_g='nowhere/net_g.pth')
    problems = missing_weights_problems(opt)
    assert len(problems) == 3, problems
    vgg, lpips, pretrained = problems
    assert vgg.startswith('train.perceptual_opt (VGGPerceptualLoss): Pretrained weights vgg19-dcbb9e9d.pth not found')
    assert f'looked in: {empty_hub / VGG19_FILE}' in vgg and 'https://download.pytorch.org/models/' in vgg
    assert 'train.perceptual_opt.vgg_weights' in vgg
    assert lpips.startswith('val.metrics.lpips (calculate_lpips, net: alex): Pretrained weights '
                            'alexnet-owt-7be5be79.pth not found')
    assert str(empty_hub / 'alexnet-owt-7be5be79.pth') in lpips and 'val.metrics.lpips.weights' in lpips
    assert pretrained.startswith('path.pretrain_network_g: nowhere/net_g.pth not found')
    put_files(empty_hub, *TORCHVISION_FILES)
    put_files(tmp_path / 'nowhere', 'net_g.pth')
    assert missing_weights_problems(opt) == []


def test_a_file_given_by_path_is_looked_for_there(tmp_path, empty_hub):
    put_files(empty_hub, *TORCHVISION_FILES)  # the hub copy does not count when a path is given
    opt = options_needing_weights(tmp_path)
    opt['train']['perceptual_opt']['vgg_weights'] = str(tmp_path / 'mine' / 'vgg19.pth')
    opt['val']['metrics']['lpips'].update(net='vgg', weights='mine/vgg16.pth')
    problems = missing_weights_problems(opt)
    assert len(problems) == 2
    assert f'looked in: {tmp_path / "mine" / "vgg19.pth"}' in problems[0]
    assert 'vgg16-397923af.pth not found (looked in: mine/vgg16.pth)' in problems[1]
    put_files(tmp_path / 'mine', 'vgg19.pth', 'vgg16.pth')
    assert missing_weights_problems(opt) == []


def test_an_lpips_metric_on_cuda_is_checked_without_building_it(tmp_path, empty_hub):
    opt = options_needing_weights(tmp_path)
    opt['val']['metrics']['lpips']['device'] = 'cuda'
    assert any('alexnet-owt-7be5be79.pth' in line for line in missing_weights_problems(opt))


@pytest.mark.parametrize('edit', [
    lambda opt: opt['train']['perceptual_opt'].update(perceptual_weight=0),
    lambda opt: opt['train']['perceptual_opt'].update(use_random_vgg_weights_for_testing=True),
    lambda opt: opt['train'].pop('perceptual_opt'),
], ids=['weight_0', 'random_vgg', 'no_perceptual_opt'])
def test_no_vgg_is_needed_without_a_vgg(tmp_path, empty_hub, edit):
    opt = options_needing_weights(tmp_path)
    opt['val']['metrics']['lpips']['random_backbone_for_testing'] = True
    edit(opt)
    assert missing_weights_problems(opt) == []


def test_basicsrs_perceptual_loss_needs_its_vgg_file_or_the_hub_copy(tmp_path, empty_hub):
    opt = options_needing_weights(tmp_path)
    opt['train']['perceptual_opt'] = {'type': 'PerceptualLoss', 'layer_weights': {'conv5_4': 1.0}}
    del opt['val']['metrics']['lpips']
    [problem] = missing_weights_problems(opt)
    assert problem.startswith("train.perceptual_opt (PerceptualLoss, BasicSR's): pretrained weights "
                              'vgg19-dcbb9e9d.pth not found') and 'VGGPerceptualLoss' in problem
    put_files(tmp_path / 'experiments' / 'pretrained_models', VGG19_FILE)  # BasicSR's own place, under the cwd
    assert missing_weights_problems(opt) == []


def test_a_pretrained_network_that_is_a_training_state_or_a_missing_discriminator_is_named(tmp_path, empty_hub):
    opt = tiny_training_options('weights', tmp_path, total_iter=2)
    put_files(tmp_path, '4.state')
    opt['path'].update(pretrain_network_g='4.state', pretrain_network_d='net_d_4.pth')
    g, d = missing_weights_problems(opt)
    assert g.startswith('path.pretrain_network_g: ') and 'training state' in g
    assert d.startswith('path.pretrain_network_d: net_d_4.pth not found')


def test_a_resumed_run_loads_its_own_checkpoints_instead(tmp_path, empty_hub):
    opt = tiny_training_options('weights', tmp_path, total_iter=2)
    opt['path'].update(pretrain_network_g='gone.pth', training_states=str(tmp_path / 'states'))
    opt['auto_resume'] = True
    assert len(missing_weights_problems(opt)) == 1  # nothing to resume from yet: the file is needed
    put_files(tmp_path / 'states', '2.state')
    assert missing_weights_problems(opt) == []
    opt['auto_resume'] = False
    opt['path']['resume_state'] = str(tmp_path / 'states' / '2.state')
    assert missing_weights_problems(opt) == []


def test_check_training_options_raises_missing_weights_with_every_file(tmp_path, empty_hub):
    opt = options_needing_weights(tmp_path)
    with pytest.raises(MissingWeightsError) as error:
        check_training_options(opt, 'w.yml', cuda_available=False)
    message = str(error.value)
    assert message.startswith('w.yml: train.perceptual_opt (VGGPerceptualLoss): ') and '\n' not in message
    assert VGG19_FILE in message and 'alexnet-owt-7be5be79.pth' in message
    opt['val']['val_frq'] = 2  # an option mistake too: one line with both
    with pytest.raises(OptionKeyError, match=r"unknown key 'val_frq' in val.*; train\.perceptual_opt"):
        check_training_options(opt, 'w.yml', cuda_available=False)


@pytest.mark.parametrize('path', SHIPPED_OPTION_FILES, ids=lambda p: str(p.relative_to(REPO / 'options')))
def test_shipped_option_files_need_only_the_torchvision_files_and_the_sidd_checkpoint(path, empty_hub):
    opt = yaml.safe_load(path.read_text())
    put_files(empty_hub, *TORCHVISION_FILES)
    problems = missing_weights_problems(opt)
    if path.name == 'nafnet_gb10_finetune_sidd.yml':
        assert len(problems) == 1 and problems[0].startswith(
            'path.pretrain_network_g: experiments/pretrained_models/NAFNet-SIDD-width64.pth not found')
    else:
        assert problems == []


def run_train(opt_path, torch_home):
    env = {**os.environ, 'TORCH_HOME': str(torch_home), 'OMP_NUM_THREADS': '1'}
    result = subprocess.run([sys.executable, str(REPO / 'realestate_sr' / 'train.py'), '-opt', str(opt_path)],
                            cwd=opt_path.parent, capture_output=True, text=True, timeout=600, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 2 and 'Traceback' not in output, output[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith('realestate_sr/train.py: error: ')]
    assert len(errors) == 1, output[-3000:]
    return errors[0], output


def options_reading_missing_photos(tmp_path, name):
    """The option file of :func:`options_needing_weights` whose manifests name photos that do not exist, so that
    building a data set would stop the run with that error."""
    data_dir = tmp_path / 'data'
    data_dir.mkdir()
    missing_pair = json.dumps({'src': 'missing_src.jpg', 'tar': 'missing_tar.jpg'}) + '\n'
    for split in ('train', 'val'):
        (data_dir / f'{split}.jsonl').write_text(missing_pair)
    opt = tiny_training_options(name, data_dir, total_iter=2, perceptual_weight=0.1)
    opt['val']['metrics']['lpips'] = dict(LPIPS_ON_CPU)
    opt_path = tmp_path / 'weights.yml'
    opt_path.write_text(yaml.safe_dump(opt, sort_keys=False))
    return opt_path


def test_train_py_stops_for_missing_weights_before_building_any_data_set(tmp_path, experiment_name):
    error, output = run_train(options_reading_missing_photos(tmp_path, experiment_name), tmp_path / 'empty_torch_home')
    assert VGG19_FILE in error and 'alexnet-owt-7be5be79.pth' in error
    assert str(tmp_path / 'empty_torch_home' / 'hub' / 'checkpoints') in error
    assert 'missing_src.jpg' not in output and 'building the data sets' not in output


@pytest.mark.slow
def test_with_the_weights_in_place_the_same_run_stops_at_the_data_set_build(tmp_path, experiment_name):
    """The control of the test above: its data sets would have said so had they been built."""
    put_files(tmp_path / 'torch_home' / 'hub' / 'checkpoints', *TORCHVISION_FILES)
    error, output = run_train(options_reading_missing_photos(tmp_path, experiment_name), tmp_path / 'torch_home')
    assert 'missing_src.jpg' in error and 'building the data sets' in output
