"""Backend choice, SLURM environment (realestate_sr.distributed), resume agreement (realestate_sr.resume) and the
training entry point (realestate_sr.training), in one process (world size 1)."""
import os
import stat

import pytest
import torch
import torch.distributed as dist

from realestate_sr import distributed, resume, training
from realestate_sr.options import read_option_file
from tests.conftest import free_port

DIST_ENV = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')


@pytest.fixture
def clean_dist_env(monkeypatch):
    """Whatever init_dist exports is undone after the test, and the process group destroyed."""
    for name in DIST_ENV:
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch
    if dist.is_initialized():
        dist.destroy_process_group()
    for name in DIST_ENV:  # init_dist wrote some through os.environ, which monkeypatch does not track
        os.environ.pop(name, None)


def slurm_task(monkeypatch, **extra):
    env = {'SLURM_PROCID': '0', 'SLURM_NTASKS': '1', 'SLURM_LOCALID': '0', 'SLURM_NODELIST': 'node[07-08]', **extra}
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_slurm_launcher_exports_the_torch_variables_and_uses_gloo_on_cpu(clean_dist_env):
    slurm_task(clean_dist_env, MASTER_ADDR='127.0.0.1')
    distributed.init_dist('slurm', num_gpu=0, port=free_port(), timeout_minutes=1)
    assert dist.get_backend() == 'gloo'
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK']) == ('0', '1', '0')


def test_slurm_master_address_is_the_first_host_of_the_node_list(clean_dist_env, tmp_path):
    fake = tmp_path / 'scontrol'
    fake.write_text('#!/bin/sh\n[ "$1 $2 $3" = "show hostnames node[07-08]" ] && printf "node07\\nnode08\\n"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    clean_dist_env.setenv('PATH', f'{tmp_path}{os.pathsep}{os.environ["PATH"]}')
    slurm_task(clean_dist_env, MASTER_PORT='12345')
    assert distributed.export_slurm_environment() == 0
    assert (os.environ['MASTER_ADDR'], os.environ['MASTER_PORT']) == ('node07', '12345')


def test_missing_launcher_variables_are_named(clean_dist_env):
    for name in ('SLURM_PROCID', 'SLURM_NTASKS'):
        clean_dist_env.delenv(name, raising=False)
    with pytest.raises(distributed.DistributedSetupError, match='torchrun'):
        distributed.init_dist('pytorch')
    with pytest.raises(distributed.DistributedSetupError, match='SLURM_PROCID.*srun'):
        distributed.init_dist('slurm')


@pytest.mark.parametrize('num_gpu, expected', [(0, False), (1, torch.cuda.is_available()),
                                               ('auto', torch.cuda.is_available())])
def test_gpus_are_used_only_when_asked_for_and_present(num_gpu, expected):
    assert distributed.wants_cuda(num_gpu) is expected


def test_launch_settings_read_num_gpu_and_refuse_unknown_dist_params(tmp_path):
    good = tmp_path / 'good.yml'
    good.write_text('num_gpu: auto\ndist_params:\n  backend: gloo\n  timeout_minutes: 60\n')
    assert distributed.launch_settings(good) == {'num_gpu': 'auto', 'backend': 'gloo', 'timeout_minutes': 60}
    assert distributed.launch_settings(read_option_file(good)) == distributed.launch_settings(good)  # the file read
    bad = tmp_path / 'bad.yml'
    bad.write_text('num_gpu: 1\ndist_params:\n  master_port: 1234\n')
    with pytest.raises(distributed.DistributedSetupError, match='master_port'):
        distributed.launch_settings(bad)


def test_ranks_resuming_from_different_states_are_described():
    assert resume.resume_mismatch([(0, 'a', 4), (1, 'b', 4)]) is None
    assert resume.resume_mismatch([(0, 'a', None), (1, 'b', None)]) is None
    message = resume.resume_mismatch([(0, 'a', 4), (1, 'b', None)])
    assert 'rank 0 on a: iter 4' in message and 'rank 1 on b: no state' in message and 'shared filesystem' in message


def test_load_resume_state_in_a_process_group(clean_dist_env, tmp_path):
    clean_dist_env.setenv('LOCAL_RANK', '0')
    for name, value in (('RANK', '0'), ('WORLD_SIZE', '1'), ('MASTER_ADDR', '127.0.0.1'),
                        ('MASTER_PORT', str(free_port()))):
        clean_dist_env.setenv(name, value)
    distributed.init_dist('pytorch', num_gpu=0)
    states = tmp_path / 'training_states'
    states.mkdir()
    (tmp_path / 'models').mkdir()
    for iteration in (2, 10):
        torch.save({'iter': iteration, 'epoch': 0, 'optimizers': [], 'schedulers': []}, states / f'{iteration}.state')
        torch.save({'params': {}}, tmp_path / 'models' / f'net_g_{iteration}.pth')  # resume loads it too
    opt = {'auto_resume': True, 'network_g': {}, 'path': {'training_states': str(states), 'resume_state': None,
                                                          'models': str(tmp_path / 'models')}}
    assert resume.load_resume_state(opt)['iter'] == 10
    assert opt['path']['pretrain_network_g'].endswith('net_g_10.pth')


def test_each_process_gets_its_own_gpu():
    assert distributed.gpu_index('pytorch', 3, 4) == 3
    assert distributed.gpu_index('slurm', 3, 4) == 3
    assert distributed.gpu_index('slurm', 3, 1) == 0  # srun --gpus-per-task=1: each task sees one GPU
    with pytest.raises(distributed.DistributedSetupError, match='one process per GPU'):
        distributed.gpu_index('pytorch', 2, 2)


@pytest.mark.parametrize('opt_args', [['-opt', 'opts/run.yml'], ['-opt=opts/run.yml']])
def test_both_opt_forms_become_an_absolute_separate_opt(tmp_path, monkeypatch, opt_args):
    (tmp_path / 'opts').mkdir()
    (tmp_path / 'opts' / 'run.yml').write_text('num_gpu: 0\n')
    monkeypatch.chdir(tmp_path)
    argv, opt_path = training.canonical_argv(['train.py', *opt_args, '--auto_resume', '--force_yml', 'a:b=1', 'c=2'])
    assert opt_path == tmp_path / 'opts' / 'run.yml'
    assert argv == ['train.py', '-opt', str(opt_path), '--launcher', 'none', '--local_rank', '0', '--auto_resume',
                    '--force_yml', 'a:b=1', 'c=2']


def test_a_missing_option_file_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(training.OptionFileError, match='-opt nowhere.yml: no such option file'):
        training.canonical_argv(['train.py', '-opt=nowhere.yml'])


def test_run_training_with_opt_equals_joins_with_our_init_dist_and_an_absolute_path(tmp_path, monkeypatch):
    """``-opt=path --launcher pytorch`` on a CPU: the process group is joined through our init_dist (Gloo, the
    file's num_gpu and dist_params), not BasicSR's CUDA-only one, from the repository root, with the file's
    absolute path recorded in the command line."""
    (tmp_path / 'cpu.yml').write_text('num_gpu: 0\ndist_params:\n  timeout_minutes: 5\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(training.sys, 'argv', ['train.py', '-opt=cpu.yml', '--launcher', 'pytorch'])
    seen = {}

    class Stop(Exception):
        pass

    def init_dist(launcher, **settings):
        seen.update(argv=list(training.sys.argv), cwd=os.getcwd(), launcher=launcher, settings=settings)
        raise Stop

    monkeypatch.setattr(training, 'init_dist', init_dist)
    with pytest.raises(Stop):
        training.run_training(root=tmp_path.parent)
    assert seen['argv'][1:3] == ['-opt', str(tmp_path / 'cpu.yml')]
    assert seen['cwd'] == str(tmp_path.parent)
    assert seen['launcher'] == 'pytorch' and seen['settings'] == {'num_gpu': 0, 'timeout_minutes': 5}
