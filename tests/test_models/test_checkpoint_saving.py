"""Checkpoints and training states survive a kill mid-write; auto-resume skips a state that does not load."""
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from realestate_sr import resume, training
from tests.test_models.test_enhance_model import fixed_batch, model_opt

from basicsr.models import build_model

REPO = Path(__file__).resolve().parents[2]


def trained_model(tmp_path, iterations):
    """A tiny EnhanceModel that saved its networks and state at each of ``iterations``."""
    torch.manual_seed(0)
    model = build_model(model_opt(tmp_path))
    model.feed_data(fixed_batch())
    for iteration in iterations:
        model.optimize_parameters(iteration)
        model.save(epoch=0, current_iter=iteration)
    return model


def resume_opt(tmp_path):
    opt = model_opt(tmp_path)
    opt['auto_resume'] = True
    return opt


def test_auto_resume_skips_a_truncated_newest_state_and_resumes_from_the_one_before(tmp_path, capsys):
    trained_model(tmp_path, [2, 4])
    newest = tmp_path / 'training_states' / '4.state'
    newest.write_bytes(newest.read_bytes()[:200])
    opt = resume_opt(tmp_path)
    state = resume.load_resume_state(opt)
    assert state['iter'] == 2
    assert opt['path']['resume_state'] == str(tmp_path / 'training_states' / '2.state')
    assert opt['path']['pretrain_network_g'] == str(tmp_path / 'models' / 'net_g_2.pth')
    lines = capsys.readouterr().err.strip().splitlines()
    skipped = [line for line in lines if line.startswith('auto_resume: skipping')]
    assert len(skipped) == 1 and str(newest) in skipped[0] and 'Error' in skipped[0], lines


def test_auto_resume_skips_a_state_whose_network_weights_are_truncated(tmp_path, capsys):
    trained_model(tmp_path, [2, 4])
    weights = tmp_path / 'models' / 'net_g_4.pth'
    weights.write_bytes(weights.read_bytes()[:300])
    assert resume.load_resume_state(resume_opt(tmp_path))['iter'] == 2
    assert str(tmp_path / 'training_states' / '4.state') in capsys.readouterr().err


def test_auto_resume_without_any_loadable_state_starts_afresh(tmp_path, capsys):
    trained_model(tmp_path, [2])
    (tmp_path / 'training_states' / '2.state').write_bytes(b'')
    opt = resume_opt(tmp_path)
    assert resume.load_resume_state(opt) is None
    assert opt['path']['resume_state'] is None
    assert capsys.readouterr().err.count('auto_resume: skipping') == 1


def test_an_explicit_resume_state_that_does_not_load_is_one_clear_error(tmp_path):
    trained_model(tmp_path, [2])
    broken = tmp_path / 'training_states' / '2.state'
    broken.write_bytes(broken.read_bytes()[:100])
    opt = model_opt(tmp_path)
    opt['auto_resume'] = False
    opt['path']['resume_state'] = str(broken)
    try:
        resume.load_resume_state(opt)
    except resume.ResumeStateError as error:
        assert str(broken) in str(error) and '\n' not in str(error)
    else:
        raise AssertionError('a truncated resume_state loaded')
    assert resume.ResumeStateError in training.CLEAR_ERRORS


KILLED_SAVE = '''
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
import torch
import realestate_sr  # noqa: F401  (compat alias + registrations)
from basicsr.models import build_model
from tests.test_models.test_enhance_model import fixed_batch, model_opt

class KillWhilePickled:
    def __reduce__(self):
        os.kill(os.getpid(), signal.SIGKILL)

model = build_model(model_opt(Path({tmp!r})))
model.feed_data(fixed_batch())
model.optimize_parameters(1)
model.save(epoch=0, current_iter=2)
model.optimizers[0].state_dict = lambda: {{'state': {{0: torch.zeros(1 << 20)}}, 'killer': KillWhilePickled()}}
model.save(epoch=0, current_iter=4)
'''


@pytest.mark.slow  # a fresh Python process importing torch and basicsr: ~9 s here
def test_a_save_killed_mid_write_leaves_no_file_under_the_final_name(tmp_path):
    script = textwrap.dedent(KILLED_SAVE.format(repo=str(REPO), tmp=str(tmp_path)))
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert (tmp_path / 'models' / 'net_g_4.pth').is_file()  # the networks are saved before the state
    assert not (tmp_path / 'training_states' / '4.state').exists()
    assert sorted(p.name for p in (tmp_path / 'training_states').glob('*.state')) == ['2.state']
    state = resume.load_resume_state(resume_opt(tmp_path))
    assert state['iter'] == 2
