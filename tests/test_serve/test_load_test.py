"""scripts/load_test.py against a server on loopback: the table, the answer checks and the loopback rule."""
import re

import numpy as np
import pytest
import torch

from tests.test_inference.conftest import TINY_FLAGS, load_script


@pytest.fixture(scope='module')
def load_test():
    return load_script('load_test')


def test_the_load_test_checks_every_answer_and_prints_the_table(load_test, serve, tiled_enhancer, capsys):
    with serve(tiled_enhancer, max_batch=4, max_wait_ms=50) as url:
        code = load_test.main(['--url', url, '--concurrency', '1', '3', '--requests', '8', '--bad-share', '0.25',
                               '--sizes', '96x64', '50x70'])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = re.findall(r'^\| 4 \| (\d+) \| 8 \| 6 \| 2 \| 0 \|', out, re.MULTILINE)
    assert rows == ['1', '3']  # max batch 4 (from /readyz), 8 sent: 6 photos right, 2 bad files refused, no errors


def test_a_wrong_answer_size_is_an_error(load_test):
    job = load_test.Job('good', b'', (10, 10))
    result = load_test.RunResult(clients=1)

    class Answer:
        status_code = 200
        content = load_test.photo_jpeg(12, 10, np.random.default_rng(0))

    load_test.check_answer(job, Answer, result, 0.1)
    assert result.errors == {'answer is 12x10, photo 10x10': 1} and not result.latencies


@pytest.mark.parametrize('url', ['http://192.0.2.1:8000', 'http://example.com'])
def test_only_loopback_targets(load_test, url, capsys):
    assert load_test.main(['--url', url]) == 2
    assert 'not on this machine' in capsys.readouterr().err


@pytest.mark.slow
def test_the_load_test_starts_serve_py_per_max_batch(load_test, tmp_path, tiny_net, capsys):
    """scripts/serve.py end to end: started as a process with a checkpoint, batching on and off."""
    checkpoint = tmp_path / 'tiny.pth'
    torch.save({'params': tiny_net.state_dict()}, checkpoint)
    code = load_test.main(['--model', str(checkpoint), *TINY_FLAGS, '--tile-size', '64', '--overlap', '16',
                           '--no-tlc', '--device', 'cpu', '--max-batch', '1', '4', '--concurrency', '2',
                           '--requests', '5', '--bad-share', '0.2', '--sizes', '64x48', '--ready-timeout', '120'])
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.findall(r'^\| (\d) \| 2 \| 5 \| 4 \| 1 \| 0 \|', out, re.MULTILINE) == ['1', '4']
