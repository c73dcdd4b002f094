"""Two Gloo processes on the CPU train a tiny NAFNet through realestate_sr/train.py under torchrun.

One module-scoped run of 4 iterations (checkpoint and validation at 2 and 4), an ``--auto_resume``
continuation to 6, and a single-process run with the same total batch. Training pairs are exactly
``gt_size`` and unaugmented, so a batch's content depends only on the sampler: the single process's
batch of 4 is the union of the two ranks' batches of 2, and its losses must match.
Each rank dumps its final weights and optimizer states (``train_and_dump_rank_state.py``, train.py's
``main`` plus the dump) and, through the audit hook in ``rank_writes/``, the list of files it opened for writing.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import free_port
from tests.training_options import write_tiny_training_options

REPO = Path(__file__).resolve().parents[2]
TRAIN_AND_DUMP = Path(__file__).resolve().parent / 'train_and_dump_rank_state.py'
RANK_WRITES_SITE = Path(__file__).resolve().parent / 'rank_writes'
PATCH = 32
TRAIN_PAIRS = 8
LOSS_LINE = re.compile(r'iter:\s*([\d,]+), lr:.*? l_pix: (\S+)')

pytestmark = pytest.mark.slow


def write_pairs(root):
    """8 training pairs of PATCH x PATCH and one larger validation pair: the edit is a tone curve."""
    rng = np.random.default_rng(0)
    (root / 'images').mkdir(parents=True)
    manifests = {'train': [], 'val': []}
    shapes = [('train', (PATCH, PATCH))] * TRAIN_PAIRS + [('val', (40, 56))]
    for index, (split, shape) in enumerate(shapes):
        tar = cv2.GaussianBlur(rng.integers(0, 256, (*shape, 3), dtype=np.uint8), (5, 5), 0)
        src = (0.6 * tar + 30).astype(np.uint8)
        for role, image in (('src', src), ('tar', tar)):
            cv2.imwrite(str(root / 'images' / f'{index}_{role}.png'), image)
        manifests[split].append({'src': f'images/{index}_src.png', 'tar': f'images/{index}_tar.png'})
    for split, rows in manifests.items():
        (root / f'{split}.jsonl').write_text(''.join(json.dumps(row) + '\n' for row in rows))


def write_options(path, data_dir, name, batch_size_per_gpu, total_iter):
    # exact-size, unaugmented pairs: a batch's content depends only on the sampler
    write_tiny_training_options(path, name, data_dir, total_iter, train_dataset={
        'gt_size': PATCH, 'use_hflip': False, 'use_rot': False, 'batch_size_per_gpu': batch_size_per_gpu,
        'dataset_enlarge_ratio': 2})


def train(opt_path, run_dir, nproc, *extra):
    """Run train.py's main (under torchrun when nproc > 1); return the combined output. Per-rank dumps go to
    run_dir."""
    run_dir.mkdir()
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'RANK_STATE_DIR': str(run_dir),
           'RANK_WRITES_DIR': str(run_dir), 'PYTHONPATH': str(RANK_WRITES_SITE)}
    if nproc > 1:
        launcher = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(nproc),
                    '--master_addr', '127.0.0.1', '--master_port', str(free_port())]
        extra = ('--launcher', 'pytorch', *extra)
    else:
        launcher = [sys.executable]
        env['RANK'] = '0'  # only for the write recorder and the dump; train.py runs without a process group
    command = [*launcher, str(TRAIN_AND_DUMP), '-opt', str(opt_path), *extra]
    result = subprocess.run(command, cwd=run_dir, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def losses(output):
    return {int(it.replace(',', '')): float(value) for it, value in LOSS_LINE.findall(output)}


def written(run_dir, rank):
    return (run_dir / f'rank{rank}.txt').read_text().split()


def assert_same_tensors(first, second, atol=0.0):
    assert first.keys() == second.keys()
    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0, atol=atol, msg=f'{key} differs')


def first_adam_state(rank_state):
    return next(iter(rank_state['optimizers'][0]['state'].values()))


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """The three trainings the tests look at; their experiment folders are removed afterwards."""
    tmp = tmp_path_factory.mktemp('ddp')
    write_pairs(tmp / 'data')
    names = {kind: f'pytest_ddp_{kind}_{uuid.uuid4().hex[:8]}' for kind in ('two', 'one')}
    two_opt, one_opt = tmp / 'two_ranks.yml', tmp / 'one_rank.yml'
    try:
        write_options(two_opt, tmp / 'data', names['two'], batch_size_per_gpu=2, total_iter=4)
        first = train(two_opt, tmp / 'first', 2)
        write_options(two_opt, tmp / 'data', names['two'], batch_size_per_gpu=2, total_iter=6)
        resumed = train(two_opt, tmp / 'resumed', 2, '--auto_resume')
        write_options(one_opt, tmp / 'data', names['one'], batch_size_per_gpu=4, total_iter=4)
        single = train(one_opt, tmp / 'single', 1)
        yield {'tmp': tmp, 'experiment': REPO / 'experiments' / names['two'], 'first': first, 'resumed': resumed,
               'single': single, 'names': names}
    finally:
        for name in names.values():
            for folder in (REPO / 'experiments' / name, REPO / 'tb_logger' / name):
                shutil.rmtree(folder, ignore_errors=True)


def load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def test_both_ranks_end_with_identical_weights_and_optimizer_states(runs):
    for run in ('first', 'resumed'):
        rank0, rank1 = (load(runs['tmp'] / run / f'rank{rank}.pth') for rank in (0, 1))
        assert_same_tensors(rank0['params'], rank1['params'])
        assert_same_tensors(rank0['params_ema'], rank1['params_ema'])
        for state0, state1 in zip(rank0['optimizers'][0]['state'].values(), rank1['optimizers'][0]['state'].values()):
            assert_same_tensors(state0, state1)
    # and rank 0's weights are what it saved
    saved = load(runs['experiment'] / 'models' / 'net_g_latest.pth')
    assert_same_tensors(saved['params'], load(runs['tmp'] / 'resumed' / 'rank0.pth')['params'])


def test_rank_0_writes_checkpoints_logs_and_validation_rank_1_writes_nothing(runs):
    experiment = runs['experiment']
    for iteration in (2, 4, 6):
        assert (experiment / 'models' / f'net_g_{iteration}.pth').is_file()
        assert (experiment / 'training_states' / f'{iteration}.state').is_file()
    assert list((experiment / 'visualization').rglob('*_6.png')), 'rank 0 validated and saved images'
    for run in ('first', 'resumed'):
        rank0 = written(runs['tmp'] / run, 0)
        final = 'net_g_4.pth' if run == 'first' else 'net_g_6.pth'
        # written through a temporary name beside it (.net_g_4.pth.partial), then renamed
        assert any(os.path.basename(path) == final or os.path.basename(path).startswith(f'.{final}.')
                   for path in rank0)
        assert any(path.endswith('.log') for path in rank0)
        outputs = [path for path in written(runs['tmp'] / run, 1) if '/experiments/' in path or '/tb_logger/' in path]
        assert outputs == [], f'rank 1 wrote {outputs}'
    # iterations 2 and 4, rank 0 only: the end-of-training validation does not repeat iteration 4
    assert runs['first'].count('Validation tiny_val') == 2


def test_auto_resume_continues_at_the_saved_iteration_on_both_ranks(runs):
    assert 'Resuming training from epoch' in runs['resumed'] and 'iter: 4.' in runs['resumed']
    assert sorted(losses(runs['resumed'])) == [5, 6]
    for rank in (0, 1):
        # AdamW counts its steps in the state it saved at 4 and reloaded: 6 only if this rank resumed
        assert first_adam_state(load(runs['tmp'] / 'resumed' / f'rank{rank}.pth'))['step'].item() == 6
        assert first_adam_state(load(runs['tmp'] / 'first' / f'rank{rank}.pth'))['step'].item() == 4


def test_one_process_with_the_same_total_batch_gives_the_same_losses_and_weights(runs):
    two, one = losses(runs['first']), losses(runs['single'])
    assert sorted(two) == sorted(one) == [1, 2, 3, 4]
    # the log prints 5 significant digits; the first step sees identical weights and the same 4 pairs
    assert two[1] == pytest.approx(one[1], rel=2e-4)
    assert [two[it] for it in (2, 3, 4)] == pytest.approx([one[it] for it in (2, 3, 4)], rel=1e-3)
    distributed = load(runs['tmp'] / 'first' / 'rank0.pth')
    single = load(runs['tmp'] / 'single' / 'rank0.pth')
    assert_same_tensors(distributed['params'], single['params'], atol=1e-5)  # measured: 3e-8
