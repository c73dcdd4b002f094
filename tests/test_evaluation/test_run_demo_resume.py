"""The demo resumes its own interrupted training, and starts anew over an experiment of another network (an
earlier default recipe) instead of failing on its checkpoint."""
import importlib
import sys
from pathlib import Path

import pytest
import torch

from realestate_sr.archs.checkpoint import TRAINED_WITH_KEY

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'scripts'))
run_demo = importlib.import_module('run_demo')

OPT = {'name': 'demo_experiment', 'network_g': {'type': 'BilateralGridNet', 'thumb_size': 128}}


def experiment_with_checkpoint(root, network_g):
    models = root / 'experiments' / OPT['name'] / 'models'
    models.mkdir(parents=True)
    record = {TRAINED_WITH_KEY: {'network_g': network_g}} if network_g else {}
    torch.save({'params': {}, **record}, models / 'net_g_325.pth')


def test_no_experiment_yet_or_the_same_network_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(run_demo, 'REPO', tmp_path)
    assert run_demo.resume_flags(OPT) == ['--auto_resume']
    experiment_with_checkpoint(tmp_path, dict(OPT['network_g']))
    assert run_demo.resume_flags(OPT) == ['--auto_resume']


def test_a_checkpoint_without_its_network_record_resumes_as_before(tmp_path, monkeypatch):
    monkeypatch.setattr(run_demo, 'REPO', tmp_path)
    experiment_with_checkpoint(tmp_path, None)
    assert run_demo.resume_flags(OPT) == ['--auto_resume']


def test_another_network_starts_anew_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_demo, 'REPO', tmp_path)
    experiment_with_checkpoint(tmp_path, dict(OPT['network_g'], stats_input=True))
    assert run_demo.resume_flags(OPT) == []
    assert 'trained another network (net_g_325.pth)' in capsys.readouterr().out


def test_a_failed_step_raises_one_line_with_its_exit_code():
    with pytest.raises(run_demo.StepFailed, match=r'^step 2/4 training failed \(exit code 3\)'):
        run_demo.run_step('2/4 training', [sys.executable, '-c', 'import sys; sys.exit(3)'])
    assert run_demo.run_step('1/4 data', [sys.executable, '-c', 'pass']) >= 0
