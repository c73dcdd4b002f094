"""val.best end to end: a tiny training validating every iteration keeps the best iteration in
models/net_g_best.pth, stops early once patience runs out, and the tools take the experiment folder."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tests.training_options import write_held_out_pairs, write_tiny_training_options

REPO = Path(__file__).resolve().parents[1]
VALIDATING = re.compile(r'validating tiny_val at iter (\d+) with')
PSNR_LINE = re.compile(r'# psnr: ([-\d.]+)')


def write_options(opt_path, data_dir, name, total_iter, best, lr=1e-3):
    """The tiny NAFNet recipe, validating every iteration (no images, no tensorboard), with ``val.best``."""
    write_tiny_training_options(opt_path, name, data_dir, total_iter)
    opt = yaml.safe_load(opt_path.read_text())
    opt['val'].update(val_freq=1, save_img=False, best=best)
    opt['logger'].update(save_checkpoint_freq=100, use_tb_logger=False)
    opt['train']['optim_g']['lr'] = lr
    opt['train']['scheduler']['eta_min'] = 0  # lr 0 stays 0: the network, and its metric, stay put
    opt_path.write_text(yaml.safe_dump(opt, sort_keys=False))


def train(opt_path, cwd):
    command = [sys.executable, str(REPO / 'realestate_sr' / 'train.py'), '-opt', str(opt_path)]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def validations(log):
    """{iteration: psnr} as BasicSR's validation lines print it (4 decimals)."""
    iterations = [int(found) for found in VALIDATING.findall(log)]
    values = [float(found) for found in PSNR_LINE.findall(log)]
    assert len(iterations) == len(values), log[-3000:]
    return dict(zip(iterations, values))


def run_tool(*command):
    result = subprocess.run([sys.executable, *map(str, command)], cwd=REPO, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.mark.slow
def test_net_g_best_holds_the_best_validation_and_the_tools_take_the_experiment_folder(tmp_path, experiment_name):
    write_held_out_pairs(tmp_path / 'data', 4, (64, 64))
    opt_path = tmp_path / 'best.yml'
    write_options(opt_path, tmp_path / 'data', experiment_name, total_iter=5, best={'metric': 'psnr'})
    log = train(opt_path, tmp_path)

    values = validations(log)
    assert sorted(values) == [1, 2, 3, 4, 5]
    best_iter = max(values, key=lambda iteration: (values[iteration], -iteration))  # the first of equals
    models = REPO / 'experiments' / experiment_name / 'models'
    saved = torch.load(models / 'net_g_best.pth', weights_only=True)
    assert saved['best']['iter'] == best_iter, values
    assert saved['best']['metric'] == 'psnr' and saved['best']['dataset'] == 'tiny_val'
    assert round(saved['best']['value'], 4) == values[best_iter]
    assert f'new best psnr {values[best_iter]:.4f} on tiny_val at iter {best_iter}: saved {models}/net_g_best.pth' \
        in log
    assert {'params', 'params_ema', 'trained_with'} <= set(saved)

    # the tools, given the experiment folder, run its best checkpoint and say so
    experiment = models.parent
    said = f'--model {experiment}: using {models}/net_g_best.pth (best validation, psnr '
    out = tmp_path / 'enhanced'
    output = run_tool(REPO / 'scripts' / 'tiled_infer.py', '-i', tmp_path / 'data' / 'held_out', '-o', out,
                      '--model', experiment, '--tile-size', '0', '--device', 'cpu')
    assert said in output and list(out.rglob('*.jpg')), output
    report = tmp_path / 'report'
    output = run_tool(REPO / 'scripts' / 'evaluate.py', '--pairs', tmp_path / 'data' / 'val.jsonl', '--model',
                      experiment, '--skip-lpips', '--no-html', '--baselines', '', '--device', 'cpu', '-o', report)
    assert said in output and (report / 'metrics.json').is_file(), output
    assert f'{experiment_name}/net_g_best' in (report / 'summary.md').read_text()


@pytest.mark.slow
def test_patience_stops_a_run_that_stopped_improving_and_exits_0(tmp_path, experiment_name):
    write_held_out_pairs(tmp_path / 'data', 4, (64, 64))
    opt_path = tmp_path / 'flat.yml'
    write_options(opt_path, tmp_path / 'data', experiment_name, total_iter=6, best={'patience': 1}, lr=0)
    log = train(opt_path, tmp_path)

    root = REPO / 'experiments' / experiment_name
    values = validations(log)
    assert sorted(values) == [1, 2] and values[1] == values[2], values  # lr 0: the metric stays put
    stops = [line for line in log.splitlines() if 'early stop at iter' in line]
    assert len(stops) == 1, log[-3000:]
    assert stops[0].endswith(f'early stop at iter 2: psnr on tiny_val did not improve in 1 validation(s) '
                             f'(val.best.patience: 1); best psnr {values[1]:.4f} on tiny_val at iter 1, in '
                             f'{root}/models/net_g_best.pth')
    # saved as at any periodic save, and as at the end of any training
    assert f'Saving models and training states at iter 2: {root}/models/net_g_2.pth, ' \
           f'{root}/training_states/2.state' in log
    assert (root / 'training_states' / '2.state').is_file() and (root / 'models' / 'net_g_latest.pth').is_file()
    assert not (root / 'models' / 'net_g_3.pth').exists() and not re.search(r'iter:\s*3, lr:', log)
    assert torch.load(root / 'models' / 'net_g_best.pth', weights_only=True)['best']['iter'] == 1
