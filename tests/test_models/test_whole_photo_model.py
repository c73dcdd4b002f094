"""WholePhotoModel: thumbnail + box training steps, LUT regulariser, one-pass whole-photo validation."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from realestate_sr.archs.network_loading import build_inference_network
from realestate_sr.archs.whole_photo_ops import crop_box, photo_thumbnail
from tests.training_options import tiny_training_options, write_held_out_pairs

from basicsr.models import build_model

REPO = Path(__file__).resolve().parents[2]
GRID = {'type': 'BilateralGridNet', 'thumb_size': 32, 'width': 4, 'levels': 2, 'max_width': 8, 'grid_depth': 4,
        'lut_basis': 2, 'lut_size': 5}


def model_opt(tmp_path, val=None):
    for sub in ('models', 'training_states', 'visualization'):
        (tmp_path / sub).mkdir(exist_ok=True)
    return {
        'name': 'unit', 'model_type': 'WholePhotoModel', 'scale': 1, 'num_gpu': 0, 'dist': False, 'rank': 0,
        'world_size': 1, 'is_train': True, 'network_g': dict(GRID),
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None,
                 'models': str(tmp_path / 'models'), 'training_states': str(tmp_path / 'training_states'),
                 'visualization': str(tmp_path / 'visualization')},
        'datasets': {'train': {'gt_size': 24}},
        'train': {'ema_decay': 0.9, 'grad_clip_norm': 1.0,
                  'optim_g': {'type': 'AdamW', 'lr': 1e-2, 'betas': [0.9, 0.9], 'weight_decay': 1e-4},
                  'scheduler': {'type': 'CosineAnnealingRestartLR', 'periods': [100], 'restart_weights': [1],
                                'eta_min': 1e-7},
                  'total_iter': 100, 'pixel_opt': {'type': 'PixelL1Loss'},
                  'lut_opt': {'type': 'LUTRegularizationLoss', 'smoothness_weight': 1e-3,
                              'monotonicity_weight': 1.0}},
        'val': dict(val or {}),
    }


def crop_batch(seed=0):
    generator = torch.Generator().manual_seed(seed)
    photos = torch.rand(2, 3, 48, 64, generator=generator)
    targets = (0.6 * photos + 0.3).clamp(0, 1)  # a global edit a LUT or grid learns quickly
    boxes = [(10, 20), (0, 40)]
    return {'lq': torch.stack([photos[i, :, t:t + 24, left:left + 24] for i, (t, left) in enumerate(boxes)]),
            'gt': torch.stack([targets[i, :, t:t + 24, left:left + 24] for i, (t, left) in enumerate(boxes)]),
            'lq_thumb': photo_thumbnail(photos, 32),
            'box': torch.stack([crop_box(t, left, 24, 24, 48, 64) for t, left in boxes])}


def test_training_steps_with_thumbnails_and_boxes_lower_the_loss_and_log_the_regulariser(tmp_path):
    torch.manual_seed(0)
    model = build_model(model_opt(tmp_path))
    model.feed_data(crop_batch())
    assert model.lq_thumb.shape == (2, 3, 32, 32) and model.box.shape == (2, 4)
    losses = []
    for step in range(1, 13):
        model.optimize_parameters(step)
        losses.append(model.log_dict['l_pix'])
    assert 'l_lut' in model.log_dict and 'grad_norm' in model.log_dict
    assert losses[-1] < 0.7 * losses[0], losses


def test_the_whole_photo_loss_scores_the_edit_of_each_whole_thumbnail_in_the_same_step(tmp_path):
    torch.manual_seed(0)
    opt = model_opt(tmp_path)
    opt['train']['whole_opt'] = {'type': 'PixelL1Loss', 'loss_weight': 0.5}
    model = build_model(opt)
    batch = crop_batch()
    photos = torch.rand(2, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    batch['gt_thumb'] = photo_thumbnail((0.6 * photos + 0.3).clamp(0, 1), 32)
    model.feed_data(batch)
    net = model.get_bare_model(model.net_g)
    with torch.no_grad():  # what the step must score: each source thumbnail at crop size, edited as a whole photo
        whole_src = torch.nn.functional.interpolate(batch['lq_thumb'], size=(24, 24), mode='area')
        whole_tar = torch.nn.functional.interpolate(batch['gt_thumb'], size=(24, 24), mode='area')
        expected = 0.5 * (net(whole_src, thumb=batch['lq_thumb']) - whole_tar).abs().mean()
    calls = []
    net.register_forward_hook(lambda module, args, output: calls.append(output.shape[0]))
    model.optimize_parameters(1)
    assert calls == [4]  # crops and whole photos in one forward
    assert model.log_dict['l_whole'] == pytest.approx(expected.item(), rel=1e-4)
    assert model.output.shape == model.lq.shape == (2, 3, 24, 24) and model.box.shape == (2, 4)
    wholes = []
    for step in range(2, 14):
        model.optimize_parameters(step)
        wholes.append(model.log_dict['l_whole'])
    assert wholes[-1] < 0.7 * expected.item(), wholes


def test_validation_runs_each_whole_photo_in_one_pass_even_when_tiles_are_asked(tmp_path, caplog):
    torch.manual_seed(0)
    model = build_model(model_opt(tmp_path, val={'tile': {'size': 16, 'overlap': 4}}))
    model.feed_data(crop_batch())
    for step in range(1, 4):
        model.optimize_parameters(step)
    photo = torch.rand(1, 3, 40, 56)
    model.feed_data({'lq': photo, 'gt': photo})
    assert model.lq_thumb is None and model.box is None
    model.test()
    with torch.no_grad():
        expected = model.net_g_ema(photo)
    torch.testing.assert_close(model.output, expected)
    assert (expected - photo).abs().max() > 1e-3  # trained: not the identity any more


@pytest.mark.slow
def test_train_py_trains_and_validates_a_bilateral_grid_from_an_option_file(tmp_path, experiment_name):
    data_dir = tmp_path / 'data'
    write_held_out_pairs(data_dir, 4, size=(96, 128))
    opt = tiny_training_options(experiment_name, data_dir, total_iter=4,
                                train_dataset={'type': 'WholePhotoDataset', 'thumb_size': 32, 'gt_size': 48})
    opt['model_type'] = 'WholePhotoModel'
    opt['network_g'] = {**GRID, 'gain_cells': 2}
    opt['train']['lut_opt'] = {'type': 'LUTRegularizationLoss'}
    opt['train']['bf16'] = True
    opt_path = tmp_path / 'whole_photo.yml'
    opt_path.write_text(yaml.safe_dump(opt, sort_keys=False))
    result = subprocess.run([sys.executable, str(REPO / 'realestate_sr' / 'train.py'), '-opt', str(opt_path)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'l_lut:' in log and '# psnr:' in log
    checkpoint = REPO / 'experiments' / experiment_name / 'models' / 'net_g_latest.pth'
    net = build_inference_network(opt['network_g'], checkpoint)
    photo = torch.rand(1, 3, 50, 70)
    with torch.no_grad():
        assert net(photo).shape == photo.shape


def test_the_demo_option_file_passes_the_start_up_checks_and_builds_an_identity_network():
    from realestate_sr.models.option_checks import training_option_problems

    from basicsr.archs import build_network

    opt = yaml.safe_load((REPO / 'options' / 'demo.yml').read_text())
    assert training_option_problems(opt, cuda_available=False) == []
    assert opt['datasets']['train']['thumb_size'] == opt['network_g']['thumb_size']
    net = build_network(dict(opt['network_g'])).eval()
    photo = torch.rand(1, 3, 60, 80)
    with torch.no_grad():
        torch.testing.assert_close(net(photo), photo, atol=1e-6, rtol=0)
