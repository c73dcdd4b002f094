"""Fixtures of the evaluation tests: a few tiny listing-like pairs and tiny random NAFNet checkpoints."""

import cv2
import numpy as np
import pytest
import torch
import yaml

from tests.conftest import TINY_NAFNET, randomize_
from tests.test_data.synthetic_pairs import write_pair_set

from basicsr.archs import build_network

PAIR_SIZES = ((48, 64), (40, 56), (52, 44))


def make_target(height, width, seed):
    """A smooth scene with a bright 'window' and a dark corner, uint8 BGR."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.2, 0.7, size=(6, 6, 3)).astype(np.float32)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    img[height // 6:height // 3, width // 2:width // 2 + width // 4] = 0.97
    img[-height // 5:, :width // 5] *= 0.15
    img += rng.normal(0, 0.02, size=img.shape).astype(np.float32)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def amateur_version(tar_bgr):
    """Darker, flatter and with a blue cast: something both baselines and models can be scored on."""
    img = tar_bgr.astype(np.float32) / 255.0
    img = 0.08 + 0.7 * img * np.array([1.1, 0.95, 0.85], np.float32)  # BGR gains: blue up, red down
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


@pytest.fixture
def eval_pairs(tmp_path):
    """A data root with images/, val.jsonl and src/ + tar/ folders of the same pairs.

    Returns a dict: root, manifest, src_dir, tar_dir, names (folder file names).
    """
    root = tmp_path / 'data'
    targets = [make_target(height, width, index) for index, (height, width) in enumerate(PAIR_SIZES)]
    names = [f'room{index}.png' for index in range(len(targets))]
    manifest, src_dir, tar_dir = write_pair_set(root, [(amateur_version(tar), tar) for tar in targets],
                                                folder_names=names, manifest_name='val.jsonl')
    return {'root': root, 'manifest': manifest, 'src_dir': src_dir, 'tar_dir': tar_dir, 'names': names}


def save_random_checkpoint(path, seed):
    """A tiny NAFNet with random weights (the official init is an identity) saved as BasicSR saves it."""
    net = randomize_(build_network({'type': 'NAFNet', **TINY_NAFNET}), scale=0.1, seed=seed)
    state = net.state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'params': state, 'params_ema': state}, path)
    return path


@pytest.fixture
def tiny_model(tmp_path):
    """Option file and two checkpoints laid out like BasicSR experiments: returns (yaml, [ckpt_a, ckpt_b])."""
    opt_file = tmp_path / 'tiny.yml'
    opt_file.write_text(yaml.safe_dump({'name': 'tiny', 'network_g': {'type': 'NAFNet', **TINY_NAFNET},
                                        'datasets': {'train': {'gt_size': 32}}}))
    checkpoints = [save_random_checkpoint(tmp_path / 'experiments' / f'fold{k}' / 'models' / 'net_g_latest.pth', k)
                   for k in range(2)]
    return opt_file, checkpoints
