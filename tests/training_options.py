"""A tiny, complete training option file for tests that run realestate_sr/train.py."""
import json

import yaml

from tests.conftest import TINY_NAFNET
from tests.test_data.synthetic_pairs import good_photo_pairs, write_pair_set


def tiny_training_options(name, data_dir, total_iter, train_dataset=None, perceptual_weight=0, tile=None):
    """Option dict: tiny NAFNet on CPU, L1 loss (+ VGG perceptual when ``perceptual_weight``), validation and
    checkpoints every 2 iterations.

    ``train_dataset`` overrides keys of ``datasets.train``; validation datasets are named ``tiny_val``.
    """
    dataset = {'type': 'PairedListingDataset', 'dataroot': str(data_dir), 'io_backend': {'type': 'disk'}}
    losses = {'pixel_opt': {'type': 'PixelL1Loss'}}
    if perceptual_weight:
        losses['perceptual_opt'] = {'type': 'VGGPerceptualLoss', 'perceptual_weight': perceptual_weight}
    return {
        'name': name, 'model_type': 'EnhanceModel', 'scale': 1, 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {
            'train': {**dataset, 'name': 'tiny_train', 'meta_file': str(data_dir / 'train.jsonl'), 'gt_size': 64,
                      'use_hflip': True, 'use_rot': True, 'use_shuffle': True, 'num_worker_per_gpu': 0,
                      'batch_size_per_gpu': 2, 'dataset_enlarge_ratio': 1, 'prefetch_mode': None,
                      **(train_dataset or {})},
            'val': {**dataset, 'name': 'tiny_val', 'meta_file': str(data_dir / 'val.jsonl')},
        },
        'network_g': {'type': 'NAFNet', **TINY_NAFNET},
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None},
        'train': {'ema_decay': 0.9, 'optim_g': {'type': 'AdamW', 'lr': 1e-3, 'betas': [0.9, 0.9]},
                  'scheduler': {'type': 'CosineAnnealingRestartLR', 'periods': [100], 'restart_weights': [1],
                                'eta_min': 1e-7},
                  'total_iter': total_iter, 'warmup_iter': -1, **losses},
        'val': {'val_freq': 2, 'save_img': True, 'tile': tile,
                'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 0, 'test_y_channel': False}}},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 2, 'use_tb_logger': True,
                   'wandb': {'project': None, 'resume_id': None}},
    }


def write_tiny_training_options(path, *args, **kwargs):
    path.write_text(yaml.safe_dump(tiny_training_options(*args, **kwargs), sort_keys=False))
    return path


def write_held_out_pairs(data_dir, count, size):
    """``count`` good photo pairs of ``size`` (H, W): all but the last listed in ``data_dir/train.jsonl``, the last
    stored under ``data_dir/held_out/`` and listed in ``data_dir/val.jsonl`` (validation outside the training
    files' folder)."""
    pairs = good_photo_pairs(count, size=size)
    write_pair_set(data_dir, pairs[:-1], manifest_name='train.jsonl')
    write_pair_set(data_dir / 'held_out', pairs[-1:], manifest_name='val.jsonl')
    lines = [json.loads(line) for line in (data_dir / 'held_out' / 'val.jsonl').read_text().splitlines()]
    (data_dir / 'val.jsonl').write_text(''.join(
        json.dumps({side: f'held_out/{path}' for side, path in line.items()}) + '\n' for line in lines))
