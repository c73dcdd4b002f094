"""GANEnhanceModel with EditUNet / PatchGAN: G and D steps, warm-up, BF16, checkpoints of both, resume."""
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from realestate_sr.archs.patchgan_arch import PatchGANDiscriminator, patch_size
from realestate_sr.models.option_checks import OptionKeyError, training_option_problems
from tests.conftest import TINY_NAFNET, randomize_
from tests.training_options import tiny_training_options, write_held_out_pairs

from basicsr.archs import build_network
from basicsr.models import build_model

REPO = Path(__file__).resolve().parents[2]
UNET = {'type': 'EditUNet', 'width': 8, 'levels': 2, 'max_width': 16, 'num_res_blocks': 1}
PATCHGAN = {'type': 'PatchGANDiscriminator', 'width': 8, 'num_layers': 2}
GAN_TRAIN = {'optim_d': {'type': 'AdamW', 'lr': 1e-3, 'betas': [0.5, 0.999]},
             'gan_opt': {'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.1}}


def model_opt(tmp_path, network_g=None, **train):
    for sub in ('models', 'training_states', 'visualization'):
        (tmp_path / sub).mkdir(exist_ok=True)
    return {
        'name': 'unit', 'model_type': 'GANEnhanceModel', 'scale': 1, 'num_gpu': 0, 'dist': False, 'rank': 0,
        'world_size': 1, 'is_train': True, 'network_g': dict(network_g or UNET), 'network_d': dict(PATCHGAN),
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None,
                 'models': str(tmp_path / 'models'), 'training_states': str(tmp_path / 'training_states'),
                 'visualization': str(tmp_path / 'visualization')},
        'datasets': {'train': {'gt_size': 32}},
        'train': {'ema_decay': 0.9, 'optim_g': {'type': 'AdamW', 'lr': 1e-3, 'betas': [0.9, 0.99]},
                  'scheduler': {'type': 'CosineAnnealingRestartLR', 'periods': [100], 'restart_weights': [1],
                                'eta_min': 1e-7},
                  'total_iter': 100, 'pixel_opt': {'type': 'PixelL1Loss'},
                  **copy.deepcopy(GAN_TRAIN), **train},
        'val': {},
    }


def batch(seed=0):
    generator = torch.Generator().manual_seed(seed)
    lq = torch.rand(2, 3, 32, 32, generator=generator)
    return {'lq': lq, 'gt': (0.7 * lq + 0.25).clamp(0, 1)}


def flat(net):
    return torch.cat([p.detach().flatten().clone() for p in net.parameters()])


def test_the_patchgan_defaults_see_70x70_patches():
    assert patch_size(3) == 70 and patch_size(2) == 34
    net = randomize_(PatchGANDiscriminator(width=4, norm='none'), 0.3)
    x = torch.rand(1, 3, 128, 128, requires_grad=True)
    logits = net(x)
    logits[0, 0, logits.shape[2] // 2, logits.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0].abs().sum((0, 2))).flatten()
    cols = torch.nonzero(x.grad[0].abs().sum((0, 1))).flatten()
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70


def test_edit_unet_starts_as_the_identity_and_keeps_any_size():
    net = build_network(dict(UNET, num_res_blocks=9))
    assert len(net.bottleneck) == 9
    x = torch.rand(1, 3, 29, 43)
    torch.testing.assert_close(net(x), x)
    randomize_(net, 0.1)
    out = net(x)
    assert out.shape == x.shape and (out - x).abs().max() > 1e-3


@pytest.mark.parametrize('network_g', [UNET, {'type': 'NAFNet', **TINY_NAFNET},
                                       {'type': 'ImageAdaptiveLUT', 'num_basis': 2, 'lut_size': 9, 'thumb_size': 32,
                                        'width': 8, 'levels': 2, 'max_width': 16}],
                         ids=['edit_unet', 'nafnet', 'image_adaptive_lut'])
def test_generator_and_discriminator_both_learn(tmp_path, network_g):
    torch.manual_seed(0)
    model = build_model(model_opt(tmp_path, network_g))
    g_before, d_before = flat(model.net_g), flat(model.net_d)
    logs = []
    for step in range(1, 5):
        model.feed_data(batch(step))
        model.optimize_parameters(step)
        logs.append(dict(model.log_dict))
    assert {'l_pix', 'l_g_gan', 'l_d_real', 'l_d_fake', 'out_d_real', 'out_d_fake'} <= set(logs[-1])
    for name in ('l_g_gan', 'l_d_real', 'l_d_fake'):
        assert len({round(log[name], 6) for log in logs}) > 1, (name, logs)
    assert not torch.equal(flat(model.net_g), g_before) and not torch.equal(flat(model.net_d), d_before)
    assert all(p.requires_grad for p in model.net_d.parameters())


def test_net_d_init_iters_train_only_the_discriminator_first(tmp_path):
    torch.manual_seed(0)
    model = build_model(model_opt(tmp_path, net_d_init_iters=2))
    g_before, d_before = flat(model.net_g), flat(model.net_d)
    for step in (1, 2):
        model.feed_data(batch(step))
        model.optimize_parameters(step)
    assert torch.equal(flat(model.net_g), g_before) and not torch.equal(flat(model.net_d), d_before)
    assert 'l_g_gan' not in model.log_dict and 'l_d_real' in model.log_dict
    model.feed_data(batch(3))
    model.optimize_parameters(3)
    assert not torch.equal(flat(model.net_g), g_before) and 'l_g_gan' in model.log_dict


def test_bf16_steps_give_finite_float32_losses(tmp_path):
    torch.manual_seed(0)
    model = build_model(model_opt(tmp_path, bf16=True))
    dtypes = []
    model.net_d.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    for step in (1, 2):
        model.feed_data(batch(step))
        model.optimize_parameters(step)
    assert dtypes == [torch.bfloat16] * 6  # G's verdict, real and fake, per step: all under autocast
    assert all(torch.isfinite(torch.tensor(value)) for value in model.log_dict.values())


def test_checkpoints_of_both_networks_and_resume(tmp_path):
    torch.manual_seed(0)
    opt = model_opt(tmp_path)
    model = build_model(opt)
    for step in (1, 2):
        model.feed_data(batch(step))
        model.optimize_parameters(step)
    model.save(epoch=0, current_iter=2)
    net_g = torch.load(tmp_path / 'models' / 'net_g_2.pth', weights_only=True)
    net_d = torch.load(tmp_path / 'models' / 'net_d_2.pth', weights_only=True)
    assert set(net_g) == {'params', 'params_ema', 'trained_with'} and set(net_d) == {'params'}
    state = torch.load(tmp_path / 'training_states' / '2.state', weights_only=True)
    assert len(state['optimizers']) == 2 and len(state['schedulers']) == 2

    resumed_opt = model_opt(tmp_path)
    resumed_opt['path'].update(pretrain_network_g=str(tmp_path / 'models' / 'net_g_2.pth'),
                               pretrain_network_d=str(tmp_path / 'models' / 'net_d_2.pth'))
    resumed = build_model(resumed_opt)
    resumed.resume_training(state)
    torch.testing.assert_close(flat(resumed.net_d), flat(model.net_d))
    torch.testing.assert_close(flat(resumed.net_g), flat(model.net_g))
    torch.testing.assert_close(flat(resumed.net_g_ema), flat(model.net_g_ema))
    for resumed_optimizer, optimizer in zip(resumed.optimizers, model.optimizers):
        for resumed_slot, slot in zip(resumed_optimizer.state.values(), optimizer.state.values()):
            torch.testing.assert_close(resumed_slot['exp_avg'], slot['exp_avg'])
    # the same next step from both
    for m in (model, resumed):
        torch.manual_seed(1)
        m.feed_data(batch(3))
        m.optimize_parameters(3)
    torch.testing.assert_close(flat(resumed.net_d), flat(model.net_d))


def test_a_discriminator_checkpoint_of_another_layout_is_one_line(tmp_path):
    torch.save({'params': PatchGANDiscriminator(width=4, num_layers=2).state_dict()}, tmp_path / 'd.pth')
    opt = model_opt(tmp_path)
    opt['path']['pretrain_network_d'] = str(tmp_path / 'd.pth')
    with pytest.raises(ValueError, match=r'path.pretrain_network_d: .*does not fit network_d'):
        build_model(opt)


def test_option_checks_know_the_gan_keys_and_check_their_blocks(tmp_path):
    opt = model_opt(tmp_path, net_d_iters=1, net_d_init_iters=0)
    opt['path'].update(strict_load_d=True, param_key_d='params')
    assert training_option_problems(opt, cuda_available=False) == []
    opt['network_d']['widht'] = 8
    opt['train']['gan_opt']['gan_tpye'] = 'vanilla'
    problems = training_option_problems(opt, cuda_available=False)
    assert any("'widht' in network_d" in line for line in problems), problems
    assert any("'gan_tpye' in train.gan_opt" in line for line in problems), problems


@pytest.mark.parametrize('missing', ['network_d', 'train.optim_d', 'train.gan_opt'])
def test_a_missing_gan_block_is_named_at_start_up_and_by_the_model(tmp_path, missing):
    opt = model_opt(tmp_path)
    if missing == 'network_d':
        del opt['network_d']
    else:
        del opt['train'][missing.split('.')[1]]
    assert f'model_type GANEnhanceModel needs {missing}' in training_option_problems(opt, cuda_available=False)
    with pytest.raises(OptionKeyError, match=f'needs {missing}'):
        build_model(opt)




def run_train(opt, tmp_path, *extra):
    opt_path = tmp_path / 'gan.yml'
    opt_path.write_text(yaml.safe_dump(opt, sort_keys=False))
    result = subprocess.run([sys.executable, str(REPO / 'realestate_sr' / 'train.py'), '-opt', str(opt_path), *extra],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    return log


@pytest.mark.slow
def test_train_py_trains_g_and_d_from_an_option_file_and_resumes_both(tmp_path, experiment_name):
    data_dir = tmp_path / 'data'
    write_held_out_pairs(data_dir, 3, size=(48, 64))
    opt = tiny_training_options(experiment_name, data_dir, total_iter=2, train_dataset={'gt_size': 32})
    opt['model_type'] = 'GANEnhanceModel'
    opt['network_g'] = dict(UNET)
    opt['network_d'] = dict(PATCHGAN)
    opt['train'].update(copy.deepcopy(GAN_TRAIN), bf16=True, pixel_opt={'type': 'PixelL1Loss'})
    log = run_train(opt, tmp_path)
    assert 'l_g_gan:' in log and 'l_d_real:' in log and '# psnr:' in log
    root = REPO / 'experiments' / experiment_name
    for name in ('net_g_2.pth', 'net_d_2.pth'):
        assert (root / 'models' / name).is_file()
    opt['train']['total_iter'] = 4
    log = run_train(opt, tmp_path, '--auto_resume')
    assert 'Resuming training from epoch' in log and 'iter: 2.' in log
    assert (root / 'models' / 'net_d_4.pth').is_file() and (root / 'training_states' / '4.state').is_file()


def test_whole_photo_networks_train_adversarially_with_their_thumbnails(tmp_path):
    from tests.test_models.test_whole_photo_model import GRID, crop_batch

    torch.manual_seed(0)
    opt = model_opt(tmp_path, network_g=GRID, lut_opt={'type': 'LUTRegularizationLoss'})
    opt['model_type'] = 'WholePhotoGANModel'
    opt['datasets']['train']['gt_size'] = 24
    assert training_option_problems(opt, cuda_available=False) == []
    model = build_model(opt)
    thumbs = []
    model.get_bare_model(model.net_g).register_forward_hook(  # after the model's own pre-hook
        lambda module, args, kwargs, out: thumbs.append(kwargs.get('thumb') is not None), with_kwargs=True)
    d_before = flat(model.net_d)
    model.feed_data(crop_batch())
    for step in (1, 2):
        model.optimize_parameters(step)
    assert {'l_pix', 'l_lut', 'l_g_gan', 'l_d_real', 'l_d_fake'} <= set(model.log_dict)
    assert thumbs == [True, True] and not torch.equal(flat(model.net_d), d_before)
    del opt['network_d']
    assert 'model_type WholePhotoGANModel needs network_d' in training_option_problems(opt, cuda_available=False)

