"""SIGTERM / SIGINT during training: the state of the current iteration is saved, one line says where and how to
resume, the exit code is the shell's (143 / 130), and ``--auto_resume`` continues from that state."""
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tests.training_options import write_held_out_pairs, write_tiny_training_options

REPO = Path(__file__).resolve().parents[1]
LOSS_LINE = re.compile(r'iter:\s*([\d,]+), lr:')
STOP_LINE = re.compile(r'(SIG\w+): stopped at iter (\d+); saved (\S+) and (\S+); resume with: (.+)$')
NEVER = 10 ** 6  # no periodic checkpoint or validation: the stop writes the only state


def write_long_run(opt_path, data_dir, name, total_iter=NEVER):
    write_tiny_training_options(opt_path, name, data_dir, total_iter)
    opt = yaml.safe_load(opt_path.read_text())
    opt['logger']['save_checkpoint_freq'] = NEVER
    opt['val']['val_freq'] = NEVER
    opt['train']['scheduler']['periods'] = [NEVER]  # the cosine schedule fails past its period
    opt_path.write_text(yaml.safe_dump(opt, sort_keys=False))


def train_until_logged(opt_path, cwd, signum, logged_iters=2):
    """Start train.py, send ``signum`` once ``logged_iters`` loss lines are out; return (exit code, output)."""
    command = [sys.executable, str(REPO / 'realestate_sr' / 'train.py'), '-opt', str(opt_path)]
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if len(LOSS_LINE.findall(''.join(lines))) >= logged_iters:
                process.send_signal(signum)
                break
        rest, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, ''.join(lines) + rest


@pytest.mark.slow
def test_sigterm_saves_the_current_iteration_and_auto_resume_continues_from_it(tmp_path, experiment_name):
    write_held_out_pairs(tmp_path / 'data', 4, (96, 96))
    opt_path = tmp_path / 'long.yml'
    write_long_run(opt_path, tmp_path / 'data', experiment_name)

    code, output = train_until_logged(opt_path, tmp_path, signal.SIGTERM)
    assert code == 143, output[-3000:]
    assert 'Traceback' not in output, output[-3000:]
    stops = [match for match in map(STOP_LINE.search, output.splitlines()) if match]
    assert len(stops) == 1, output[-3000:]
    name, iteration, weights, state_path, command = stops[0].groups()
    iteration = int(iteration)
    assert name == 'SIGTERM' and iteration >= 2
    assert max(int(it.replace(',', '')) for it in LOSS_LINE.findall(output)) == iteration  # no step after the stop
    root = REPO / 'experiments' / experiment_name
    assert Path(weights) == root / 'models' / f'net_g_{iteration}.pth' and Path(weights).is_file()
    assert Path(state_path) == root / 'training_states' / f'{iteration}.state'
    assert torch.load(state_path, weights_only=True)['iter'] == iteration
    assert [path.name for path in (root / 'training_states').iterdir()] == [f'{iteration}.state']

    # the command as logged, run from elsewhere, continues from that state
    write_long_run(opt_path, tmp_path / 'data', experiment_name, total_iter=iteration + 2)
    assert '--auto_resume' in shlex.split(command)
    resumed = subprocess.run(shlex.split(command), cwd=REPO.parent, capture_output=True, text=True, timeout=300)
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-3000:]
    assert re.search(rf'Resuming training from epoch: \d+, iter: {iteration}\.', log), log[-3000:]
    assert sorted(int(it.replace(',', '')) for it in LOSS_LINE.findall(log)) == [iteration + 1, iteration + 2]
    assert (root / 'models' / 'net_g_latest.pth').is_file()
