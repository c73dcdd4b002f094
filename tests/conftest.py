"""Shared fixtures: tiny networks that run in milliseconds on a CPU, a tiny pair set, and experiment names cleaned
up after."""
import shutil
import socket
import uuid
from pathlib import Path

import pytest
import torch

import realestate_sr  # noqa: F401  (registers our classes, installs the torchvision alias)
from tests.test_data.synthetic_pairs import make_pair_set

TINY_NAFNET = dict(img_channel=3, width=8, middle_blk_num=1, enc_blk_nums=[1, 1], dec_blk_nums=[1, 1])


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def experiment_name(request):
    """A fresh experiment name (``pytest_<test module>_<hex>``); its experiments/ and tb_logger/ folders go after
    the test."""
    name = f'pytest_{request.module.__name__.rsplit(".", 1)[-1]}_{uuid.uuid4().hex[:8]}'
    yield name
    for folder in (REPO / 'experiments' / name, REPO / 'tb_logger' / name):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pair_set(tmp_path):
    """A tiny synthetic pair set (three pairs of a few dozen pixels): (manifest, src folder, tar folder)."""
    return make_pair_set(tmp_path / 'pairs')


@pytest.fixture
def tiny_nafnet_opt():
    return dict(TINY_NAFNET)


def randomize_(net, scale=0.2, seed=0):
    """Give every parameter random values (the official init leaves NAFBlocks as identities)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in net.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * scale)
    return net


def free_port():
    """A TCP port of 127.0.0.1 free at the time of asking (for process groups and services in tests)."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]
