"""Fixtures for the inference tests (the service tests use them too): a tiny random NAFNet, its checkpoint and
Enhancers, and the CLIs loaded in-process."""
import importlib.util
from pathlib import Path

import pytest
import torch

from realestate_sr.archs.network_loading import build_inference_network
from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.inference.settings import InferenceSettings
from tests.conftest import TINY_NAFNET, randomize_

REPO = Path(__file__).resolve().parents[2]
TINY_FLAGS = ['--width', str(TINY_NAFNET['width']), '--middle-blk-num', str(TINY_NAFNET['middle_blk_num']),
              '--enc-blks', *map(str, TINY_NAFNET['enc_blk_nums']),
              '--dec-blks', *map(str, TINY_NAFNET['dec_blk_nums'])]
# small tiles and a small TLC window keep every case to a fraction of a second on a CPU
FAST_FLAGS = ['--tile-size', '128', '--overlap', '32', '--train-size', '64', '--workers', '2']
# small tiles keep a photo to a few network calls of milliseconds each on a CPU
TILED = InferenceSettings(tile_size=64, overlap=16, tile_batch=4, tlc=False, device='cpu')
WHOLE = InferenceSettings(tile_size=None, tlc=False, device='cpu')


def load_script(name):
    spec = importlib.util.spec_from_file_location(f'script_{name}', REPO / 'scripts' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def tiled_infer():
    return load_script('tiled_infer')


@pytest.fixture(scope='session')
def export_onnx_script():
    return load_script('export_onnx')


@pytest.fixture(scope='session')
def tiny_net():
    net = build_inference_network(dict(TINY_NAFNET, type='NAFNet'))
    return randomize_(net, scale=0.1)


@pytest.fixture(scope='session')
def tiled_enhancer(tiny_net):
    return Enhancer.from_module(tiny_net, TILED)


@pytest.fixture(scope='session')
def whole_enhancer(tiny_net):
    return Enhancer.from_module(tiny_net, WHOLE)


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory, tiny_net):
    path = tmp_path_factory.mktemp('ckpt') / 'tiny_random.pth'
    torch.save({'params': tiny_net.state_dict()}, path)
    return path


@pytest.fixture
def run_infer(tiled_infer, tiny_checkpoint, capsys):
    """Run tiled_infer.main in-process with the tiny checkpoint; returns (exit code, stdout)."""

    def run(input_path, output_path, *extra):
        argv = ['-i', str(input_path), '-o', str(output_path), '--model', str(tiny_checkpoint), *TINY_FLAGS,
                *FAST_FLAGS, *map(str, extra)]
        code = tiled_infer.main(argv)
        return code, capsys.readouterr().out

    return run
