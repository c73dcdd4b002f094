import logging

import pytest
import torch

from realestate_sr.archs.checkpoint import CheckpointMismatchError
from realestate_sr.archs.nafnet_arch import NAFNetLocal
from realestate_sr.utils.weights import MissingWeightsError
from tests.conftest import TINY_NAFNET, randomize_

from basicsr.models import build_model


def model_opt(tmp_path, train=None, val=None, network=None):
    for sub in ('models', 'training_states', 'visualization'):
        (tmp_path / sub).mkdir(exist_ok=True)
    train_opt = {
        'ema_decay': 0.9,
        'optim_g': {'type': 'AdamW', 'lr': 2e-3, 'betas': [0.9, 0.9], 'weight_decay': 1e-4},
        'scheduler': {'type': 'CosineAnnealingRestartLR', 'periods': [100], 'restart_weights': [1], 'eta_min': 1e-7},
        'total_iter': 100,
        'pixel_opt': {'type': 'PixelL1Loss'},
    }
    train_opt.update(train or {})
    return {
        'name': 'unit', 'model_type': 'EnhanceModel', 'scale': 1, 'num_gpu': 0, 'dist': False, 'rank': 0,
        'world_size': 1, 'is_train': True,
        'network_g': dict(network or {'type': 'NAFNet', **TINY_NAFNET}),
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None,
                 'models': str(tmp_path / 'models'), 'training_states': str(tmp_path / 'training_states'),
                 'visualization': str(tmp_path / 'visualization')},
        'datasets': {'train': {'gt_size': 32}},
        'train': train_opt,
        'val': dict(val or {}),
    }


def fixed_batch(seed=0):
    generator = torch.Generator().manual_seed(seed)
    gt = torch.rand(2, 3, 32, 32, generator=generator)
    lq = (0.5 * gt + 0.1).clamp(0, 1)  # darker and flatter, a learnable global edit
    return {'lq': lq, 'gt': gt}


def test_optimisation_steps_lower_the_loss_on_a_fixed_batch(tmp_path):
    torch.manual_seed(0)
    model = build_model(model_opt(tmp_path))
    assert type(model.optimizer_g) is torch.optim.AdamW
    assert model.optimizer_g.param_groups[0]['betas'] == (0.9, 0.9)
    model.feed_data(fixed_batch())
    losses = []
    for step in range(1, 9):
        model.optimize_parameters(step)
        losses.append(model.log_dict['l_pix'])
    assert losses[-1] < 0.8 * losses[0], losses


def test_unknown_optimizer_is_refused(tmp_path):
    with pytest.raises(NotImplementedError, match='Lion'):
        build_model(model_opt(tmp_path, train={'optim_g': {'type': 'Lion', 'lr': 1e-3}}))


def test_bf16_path_runs_the_forward_in_bfloat16_and_still_learns(tmp_path):
    torch.manual_seed(0)
    model = build_model(model_opt(tmp_path, train={'bf16': True}))
    model.feed_data(fixed_batch())
    before = [p.detach().clone() for p in model.net_g.parameters()]
    conv_dtypes = []
    model.net_g.intro.register_forward_hook(lambda module, args, out: conv_dtypes.append(out.dtype))
    model.optimize_parameters(1)
    assert conv_dtypes == [torch.bfloat16]
    assert model.output.dtype == torch.float32  # the global residual adds the float32 input back
    assert all(p.dtype == torch.float32 for p in model.net_g.parameters())
    assert torch.isfinite(torch.tensor(model.log_dict['l_pix']))
    assert any((p - b).abs().max() > 0 for p, b in zip(model.net_g.parameters(), before))


def one_step_losses(tmp_path, bf16):
    """The logged loss terms of one optimisation step of a random tiny NAFNet with L1 + 0.1 x perceptual
    (random VGG) on the fixed batch."""
    torch.manual_seed(0)
    model = build_model(model_opt(tmp_path, train={'bf16': bf16, 'perceptual_opt': PERCEPTUAL_OPT}))
    randomize_(model.net_g, scale=0.1)
    model.feed_data(fixed_batch())
    model.optimize_parameters(1)
    return {name: float(value) for name, value in model.log_dict.items()}


PERCEPTUAL_OPT = {'type': 'VGGPerceptualLoss', 'perceptual_weight': 0.1, 'use_random_vgg_weights_for_testing': True}


def test_bf16_step_loss_matches_the_float32_step(tmp_path):
    full, low = one_step_losses(tmp_path, bf16=False), one_step_losses(tmp_path, bf16=True)
    assert set(full) == set(low) == {'l_pix', 'l_percep'}
    # Only the network's bf16 convolutions may move the loss: measured relative differences 2.8e-4 (L1),
    # 5.0e-4 (perceptual). With the VGG features in bfloat16 the perceptual term moved 2.1e-3.
    for name in full:
        assert low[name] == pytest.approx(full[name], rel=1e-3), (name, full[name], low[name])


def test_pixel_and_perceptual_losses_are_logged_as_each_returns_them(tmp_path):
    """l_pix is pixel_opt's value, l_percep perceptual_opt's (weights included), the step minimises their sum."""
    torch.manual_seed(0)
    model = build_model(model_opt(tmp_path, train={'pixel_opt': {'type': 'PixelL1Loss', 'loss_weight': 2.0},
                                                   'perceptual_opt': PERCEPTUAL_OPT}))
    randomize_(model.net_g, scale=0.1)
    batch = fixed_batch()
    model.feed_data(batch)
    model.optimize_parameters(1)
    output = model.output.detach()
    assert model.log_dict['l_pix'] == pytest.approx(2.0 * (output - batch['gt']).abs().mean().item(), rel=1e-5)
    assert model.log_dict['l_percep'] == pytest.approx(model.cri_perceptual(output, batch['gt'])[0].item(), rel=1e-5)
    total, terms = model.compute_losses(output, batch['gt'])
    assert list(terms) == ['l_pix', 'l_percep']
    torch.testing.assert_close(total, terms['l_pix'] + terms['l_percep'])


def test_gradient_clipping_bounds_the_update(tmp_path):
    model = build_model(model_opt(tmp_path, train={'grad_clip_norm': 1e-3}))
    model.feed_data(fixed_batch())
    model.optimize_parameters(1)
    total = torch.norm(torch.stack([p.grad.norm() for p in model.net_g.parameters() if p.grad is not None]))
    assert total <= 1e-3 * 1.001
    assert model.log_dict['grad_norm'] > 1e-3  # the unclipped norm is logged


def test_channels_last_training_matches_default_layout(tmp_path):
    outputs = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = build_model(model_opt(tmp_path, train={'channels_last': channels_last}))
        model.feed_data(fixed_batch())
        model.optimize_parameters(1)
        outputs.append(model.output.detach().contiguous())
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-4, atol=1e-5)


def test_tiled_tlc_validation_stays_close_to_whole_image_and_uses_ema_weights(tmp_path):
    whole_model = build_model(model_opt(tmp_path, val={'tlc': True}))
    randomize_(whole_model.net_g_ema, scale=0.05)
    tiled_model = build_model(model_opt(tmp_path, val={'tlc': True, 'tile': {'size': 96, 'overlap': 32,
                                                                             'batch': 3}}))
    tiled_model.net_g_ema.load_state_dict(whole_model.net_g_ema.state_dict())
    image = {'lq': torch.rand(1, 3, 150, 190)}
    for model in (whole_model, tiled_model):
        model.feed_data(image)
        model.test()
    assert isinstance(whole_model.inference_network(), NAFNetLocal)
    assert whole_model.net_g.training  # validation leaves the training network in training mode
    difference = (tiled_model.output - whole_model.output).abs()
    # NAFNet's receptive field exceeds any overlap, so tiles differ a little from the whole image.
    # Stated tolerance for this random tiny net (measured: mean 1.3e-3, max 0.067 at the right border,
    # where the whole image is zero-padded to a multiple of 4 and the tiles are not)
    assert difference.mean() < 3e-3 and difference.max() < 0.1, (difference.mean(), difference.max())


@pytest.fixture
def basicsr_log(caplog):
    """Records of BasicSR's logger, which does not propagate to the root logger caplog listens to."""
    logger = logging.getLogger('basicsr')
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.mark.parametrize('tile, warned', [({'size': 48}, True), ({'size': 64}, False), (None, False)])
def test_tlc_validation_on_tiles_inside_the_window_is_warned_about(tmp_path, basicsr_log, tile, warned):
    # gt_size 32: the TLC window is 48x48; NAFNetLocal on 48 px tiles pools each tile globally
    build_model(model_opt(tmp_path, val={'tlc': True, 'tile': tile}))
    warnings = [r.getMessage() for r in basicsr_log.records if r.levelno == logging.WARNING]
    assert bool(warnings) is warned, warnings
    if warned:
        assert 'val.tlc: true has no effect' in warnings[0] and '48x48' in warnings[0]
        assert 'equals plain NAFNet' in warnings[0]


def test_checkpoints_and_training_states_load_with_weights_only(tmp_path):
    model = build_model(model_opt(tmp_path))
    model.feed_data(fixed_batch())
    model.optimize_parameters(1)
    model.update_learning_rate(1)
    model.save(epoch=0, current_iter=1)
    checkpoint = torch.load(tmp_path / 'models' / 'net_g_1.pth', weights_only=True)
    assert set(checkpoint) == {'params', 'params_ema', 'trained_with'}  # test_trained_with.py checks the record
    state = torch.load(tmp_path / 'training_states' / '1.state', weights_only=True)
    assert state['iter'] == 1 and len(state['optimizers']) == 1
    resumed = build_model(model_opt(tmp_path))
    resumed.resume_training(state)
    assert resumed.optimizer_g.state_dict()['state'].keys() == model.optimizer_g.state_dict()['state'].keys()


def test_missing_pretrained_checkpoint_names_the_file(tmp_path):
    opt = model_opt(tmp_path)
    opt['path']['pretrain_network_g'] = 'experiments/pretrained_models/NAFNet-SIDD-width64.pth'
    with pytest.raises(MissingWeightsError, match='NAFNet-SIDD-width64.pth.*megvii-research'):
        build_model(opt)


def test_a_training_state_as_pretrained_network_is_refused(tmp_path):
    opt = model_opt(tmp_path)
    opt['path']['pretrain_network_g'] = 'experiments/w8/training_states/2000.state'
    with pytest.raises(CheckpointMismatchError, match='2000.state is a training state.*'
                       'load experiments/w8/models/net_g_2000.pth'):
        build_model(opt)


def test_unknown_validation_metric_fails_at_start_up(tmp_path):
    opt = model_opt(tmp_path, val={'metrics': {'psnr': {'type': 'calculate_psnr'}, 'sharp': {'type': 'no_such'}}})
    with pytest.raises(KeyError, match="val.metrics.sharp: unknown type 'no_such'.*calculate_psnr"):
        build_model(opt)


def test_missing_lpips_weights_fail_at_start_up(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'empty_torch_home'))
    opt = model_opt(tmp_path, val={'metrics': {'lpips': {'type': 'calculate_lpips', 'net': 'alex'}}})
    with pytest.raises(MissingWeightsError, match='alexnet-owt-7be5be79.pth'):
        build_model(opt)


@pytest.mark.parametrize('total_iter, ema_decay, warned', [(30, 0.999, True), (2999, 0.999, True),
                                                           (3000, 0.999, False), (40, 0.9, False), (30, 0, False)])
def test_a_run_too_short_for_its_ema_decay_is_warned_about_at_start(tmp_path, basicsr_log, total_iter, ema_decay,
                                                                    warned):
    build_model(model_opt(tmp_path, train={'total_iter': total_iter, 'ema_decay': ema_decay}))
    warnings = [r.getMessage() for r in basicsr_log.records if 'the EMA weights' in r.getMessage()]
    assert len(warnings) == int(warned), warnings
    if warned:  # 0.999 ** 30 = 0.970: the EMA is 97 % the initial weights
        assert f'{0.999 ** total_iter:.0%} the initial weights' in warnings[0]
        assert 'at least 3000 iterations' in warnings[0]
