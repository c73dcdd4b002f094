"""tiled_infer.py sharded over processes (torchrun, Gloo on CPU): every photo exactly once, the same files as one
process writes, resumable with --skip-existing, one combined summary, a non-zero exit when any rank failed."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from realestate_sr.archs.network_loading import build_inference_network
from realestate_sr.inference.sharding import Shard, launcher_from_environment
from tests.conftest import TINY_NAFNET, randomize_
from tests.test_inference.conftest import TINY_FLAGS
from tests.test_inference.photo_makers import encode_pil, smooth_rgb, tree_digest

REPO = Path(__file__).resolve().parents[2]
RUN_FLAGS = [*TINY_FLAGS, '--tile-size', '64', '--overlap', '16', '--no-tlc', '--device', 'cpu']


def test_each_rank_takes_every_world_size_th_planned_photo():
    jobs = list(range(7))
    shares = [Shard(rank, 3, 'pytorch').take(jobs) for rank in range(3)]
    assert shares == [[0, 3, 6], [1, 4], [2, 5]]
    assert sorted(sum(shares, [])) == jobs and Shard().take(jobs) == jobs


def test_torchrun_with_several_processes_is_detected():
    assert launcher_from_environment(environ={'WORLD_SIZE': '2', 'LOCAL_RANK': '0'}) == 'pytorch'
    assert launcher_from_environment(environ={'WORLD_SIZE': '1', 'LOCAL_RANK': '0'}) == 'none'
    assert launcher_from_environment(environ={}) == 'none'
    assert launcher_from_environment('slurm', environ={}) == 'slurm'
    with pytest.raises(ValueError, match='launcher must be one of'):
        launcher_from_environment('mpi')


def make_delivery(root):
    (root / 'sub').mkdir(parents=True)
    for index, relative in enumerate(['a.jpg', 'e.jpg', 'sub/c.jpg', 'sub/d.jpg']):
        (root / relative).write_bytes(encode_pil(smooth_rgb(50 + 10 * index, 70, seed=index), 'JPEG', quality=92))
    rgba = np.dstack([smooth_rgb(40, 60, seed=9), np.full((40, 60), 200, np.uint8)])
    (root / 'b.png').write_bytes(encode_pil(rgba, 'PNG', mode='RGBA'))
    (root / 'broken.jpg').write_bytes(b'not a photo')
    (root / '.hidden.jpg').write_bytes(b'')
    (root / 'notes.txt').write_text('not a photo either')


def photos(folder):
    """{relative path: sha256} of the outputs, without the folder's hidden marker file."""
    return {path: digest for path, digest in tree_digest(folder).items() if not path.startswith('.')}


def run(command, **kwargs):
    # one thread per process in both runs (torchrun's default), so the arithmetic is the same
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=REPO, **kwargs)


@pytest.mark.slow
def test_two_processes_write_what_one_process_writes_and_resume(tmp_path):
    delivery = tmp_path / 'delivery'
    make_delivery(delivery)
    checkpoint = tmp_path / 'tiny.pth'
    net = randomize_(build_inference_network(dict(TINY_NAFNET, type='NAFNet')), scale=0.1)
    torch.save({'params': net.state_dict()}, checkpoint)
    script = str(REPO / 'scripts' / 'tiled_infer.py')
    common = ['-i', str(delivery), '--model', str(checkpoint), *RUN_FLAGS]
    torchrun = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', script]

    single = run([sys.executable, script, *common, '-o', str(tmp_path / 'single')])
    sharded = run([*torchrun, *common, '-o', str(tmp_path / 'sharded')])
    assert single.returncode == 1, single.stderr  # broken.jpg failed
    assert sharded.returncode != 0, sharded.stdout  # ... in one of the ranks: the launcher says so
    assert photos(tmp_path / 'sharded') == photos(tmp_path / 'single')
    assert len(photos(tmp_path / 'single')) == 5 and (tmp_path / 'sharded' / '.tiled_infer.json').is_file()
    done = re.findall(r'^\[rank (\d)/2\] \[\d+/\d+\] (?:enhanced|FAILED) (\S+) ', sharded.stdout, re.MULTILINE)
    sources = sorted(source for _, source in done)  # named inside the input folder, each exactly once
    assert sources == ['a.jpg', 'b.png', 'broken.jpg', 'e.jpg', 'sub/c.jpg', 'sub/d.jpg'], sharded.stdout
    assert {rank for rank, _ in done} == {'0', '1'}
    summaries = re.findall(r'^enhanced .*$', sharded.stdout, re.MULTILINE)
    assert len(summaries) == 1  # one combined summary, from rank 0
    assert summaries[0].startswith('enhanced 5, skipped 2 (1 hidden file, 1 not an image extension), failed 1 in ')
    assert ' by 2 processes ' in summaries[0] and 'failed: ' in sharded.stdout and 'broken.jpg' in sharded.stdout

    expected = photos(tmp_path / 'single')
    (tmp_path / 'sharded' / 'sub' / 'c.jpg').unlink()
    resumed = run([*torchrun, *common, '-o', str(tmp_path / 'sharded'), '--skip-existing'])
    assert re.search(r'^enhanced 1, skipped 6 \(1 hidden file, 1 not an image extension, 4 output exists\), '
                     'failed 1 ', resumed.stdout, re.MULTILINE), resumed.stdout + resumed.stderr
    assert photos(tmp_path / 'sharded') == expected
