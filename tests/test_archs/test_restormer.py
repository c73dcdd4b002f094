"""Restormer: the released key layout, MDTA against its formula, padding, BF16 statistics, inference, ONNX."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from realestate_sr.archs import restormer_arch
from realestate_sr.archs.restormer_arch import ChannelAttentionWeights, ChannelLayerNorm, Restormer
from realestate_sr.inference import onnx_export, onnx_runner
from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.inference.settings import InferenceSettings
from tests.conftest import randomize_

from basicsr.archs import build_network

TINY = dict(dim=8, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1, heads=[1, 2, 4, 8], ffn_expansion_factor=2.66)


def official_block_keys(prefix, dim, heads, factor, bias, layer_norm_type):
    """Keys and shapes of one transformer block in the authors' release, written out from the paper's structure."""
    hidden = int(dim * factor)
    keys = {}
    for norm in ('norm1', 'norm2'):
        keys[f'{prefix}.{norm}.body.weight'] = (dim,)
        if layer_norm_type == 'WithBias':
            keys[f'{prefix}.{norm}.body.bias'] = (dim,)
    convs = {'attn.qkv': (3 * dim, dim, 1, 1), 'attn.qkv_dwconv': (3 * dim, 1, 3, 3),
             'attn.project_out': (dim, dim, 1, 1), 'ffn.project_in': (2 * hidden, dim, 1, 1),
             'ffn.dwconv': (2 * hidden, 1, 3, 3), 'ffn.project_out': (dim, hidden, 1, 1)}
    for name, shape in convs.items():
        keys[f'{prefix}.{name}.weight'] = shape
        if bias:
            keys[f'{prefix}.{name}.bias'] = (shape[0],)
    keys[f'{prefix}.attn.temperature'] = (heads, 1, 1)
    return keys


def official_state_dict_layout(inp_channels=3, out_channels=3, dim=48, num_blocks=(4, 6, 6, 8),
                               num_refinement_blocks=4, heads=(1, 2, 4, 8), ffn_expansion_factor=2.66, bias=False,
                               layer_norm_type='WithBias', dual_pixel_task=False):
    keys = {'patch_embed.proj.weight': (dim, inp_channels, 3, 3)}
    stages = [('encoder_level1', dim, 0, num_blocks[0]), ('encoder_level2', 2 * dim, 1, num_blocks[1]),
              ('encoder_level3', 4 * dim, 2, num_blocks[2]), ('latent', 8 * dim, 3, num_blocks[3]),
              ('decoder_level3', 4 * dim, 2, num_blocks[2]), ('decoder_level2', 2 * dim, 1, num_blocks[1]),
              ('decoder_level1', 2 * dim, 0, num_blocks[0]), ('refinement', 2 * dim, 0, num_refinement_blocks)]
    for name, channels, level, count in stages:
        for index in range(count):
            keys.update(official_block_keys(f'{name}.{index}', channels, heads[level], ffn_expansion_factor, bias,
                                            layer_norm_type))
    for name, channels in (('down1_2', dim), ('down2_3', 2 * dim), ('down3_4', 4 * dim)):
        keys[f'{name}.body.0.weight'] = (channels // 2, channels, 3, 3)
    for name, channels in (('up4_3', 8 * dim), ('up3_2', 4 * dim), ('up2_1', 2 * dim)):
        keys[f'{name}.body.0.weight'] = (channels * 2, channels, 3, 3)
    for name, channels in (('reduce_chan_level3', 4 * dim), ('reduce_chan_level2', 2 * dim)):
        keys[f'{name}.weight'] = (channels, channels * 2, 1, 1)
        if bias:
            keys[f'{name}.bias'] = (channels,)
    if dual_pixel_task:
        keys['skip_conv.weight'] = (2 * dim, dim, 1, 1)
        if bias:
            keys['skip_conv.bias'] = (2 * dim,)
    keys['output.weight'] = (out_channels, 2 * dim, 3, 3)
    if bias:
        keys['output.bias'] = (out_channels,)
    return keys


def test_default_configuration_has_the_papers_parameter_count():
    net = Restormer()
    assert sum(p.numel() for p in net.parameters()) == 26_126_644  # the paper: 26.13 M
    layout = official_state_dict_layout()
    assert {key: tuple(value.shape) for key, value in net.state_dict().items()} == layout


@pytest.mark.parametrize('variant', [
    {},
    {'bias': True, 'LayerNorm_type': 'BiasFree'},
    {'inp_channels': 6, 'dual_pixel_task': True},
    {'bias': True, 'dual_pixel_task': True, 'inp_channels': 6},
], ids=['default', 'bias+biasfree', 'dual_pixel', 'dual_pixel+bias'])
def test_a_state_dict_in_the_official_layout_loads_strictly_and_is_used(variant):
    config = {**TINY, **variant}
    layout = official_state_dict_layout(
        inp_channels=config.get('inp_channels', 3), dim=config['dim'], num_blocks=config['num_blocks'],
        num_refinement_blocks=config['num_refinement_blocks'], heads=config['heads'],
        ffn_expansion_factor=config['ffn_expansion_factor'], bias=config.get('bias', False),
        layer_norm_type=config.get('LayerNorm_type', 'WithBias'), dual_pixel_task=config.get('dual_pixel_task', False))
    generator = torch.Generator().manual_seed(0)
    state_dict = {key: torch.randn(shape, generator=generator) * 0.1 for key, shape in layout.items()}
    net = build_network({'type': 'Restormer', **config})
    net.load_state_dict(state_dict, strict=True)
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, state_dict[key])
    x = torch.rand(1, config.get('inp_channels', 3), 16, 16)
    with torch.no_grad():
        assert torch.isfinite(net(x)).all()


def test_a_state_dict_missing_a_key_does_not_load():
    layout = official_state_dict_layout(dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1)
    state_dict = {key: torch.zeros(shape) for key, shape in layout.items() if key != 'latent.0.attn.temperature'}
    with pytest.raises(RuntimeError, match='latent.0.attn.temperature'):
        Restormer(**TINY).load_state_dict(state_dict, strict=True)


def test_attention_weights_are_the_softmax_of_scaled_cosine_similarities_between_channels():
    generator = torch.Generator().manual_seed(1)
    q = torch.randn(2, 3, 4, 50, generator=generator, dtype=torch.float64)
    k = torch.randn(2, 3, 4, 50, generator=generator, dtype=torch.float64)
    temperature = torch.rand(3, 1, 1, generator=generator, dtype=torch.float64) * 3
    cosine = torch.einsum('nhip,nhjp->nhij', q, k) / (q.norm(dim=-1)[..., :, None] * k.norm(dim=-1)[..., None, :])
    expected = torch.exp(temperature * cosine)
    expected = expected / expected.sum(-1, keepdim=True)
    torch.testing.assert_close(ChannelAttentionWeights()(q, k, temperature), expected)


@pytest.mark.parametrize('size', [(17, 23), (32, 32), (9, 40), (5, 3)])
def test_any_size_keeps_its_shape_and_equals_the_reflect_padded_computation(size):
    net = randomize_(Restormer(**TINY), 0.2).double().eval()
    x = torch.rand(1, 3, *size, dtype=torch.float64)
    h, w = size
    pad = (0, (-w) % 8, 0, (-h) % 8)
    padded = F.pad(x, pad, mode='reflect' if pad[1] < w and pad[3] < h else 'replicate')
    with torch.no_grad():
        out = net(x)
        reference = net(padded)[..., :h, :w]
    assert out.shape == x.shape
    torch.testing.assert_close(out, reference)
    assert (out - x).abs().max() > 1e-2  # random weights edit the photo: the comparison means something


def test_zero_output_conv_returns_the_input():
    net = randomize_(Restormer(**TINY), 0.2)
    with torch.no_grad():
        net.output.weight.zero_()
        x = torch.rand(2, 3, 24, 20)
        torch.testing.assert_close(net(x), x)


def statistics_errors_under_bf16(net, x):
    """Per module type (ChannelLayerNorm, ChannelAttentionWeights): the largest error of its output in a BF16
    autocast run of ``net`` beyond rounding that output to its dtype, against the same module in float64 on the
    same inputs; and the module types that saw bfloat16 inputs."""
    calls, handles = [], []
    for module in net.modules():
        if isinstance(module, (ChannelLayerNorm, ChannelAttentionWeights)):
            handles.append(module.register_forward_hook(
                lambda module, args, out: calls.append((module, [a.detach() for a in args], out.detach()))))
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        net(x)
    for handle in handles:
        handle.remove()
    excess, with_bf16 = {}, set()
    with torch.no_grad():
        for module, args, out in calls:
            name = type(module).__name__
            if args[0].dtype == torch.bfloat16:
                with_bf16.add(name)
            reference = copy.deepcopy(module).double()(*[a.double() for a in args])
            allowed = torch.finfo(out.dtype).eps / 2 * reference.abs() + 1e-6
            excess[name] = max(excess.get(name, -1.0), ((out.double() - reference).abs() - allowed).max().item())
    return excess, with_bf16


def bf16_check_net():
    torch.manual_seed(0)
    net = randomize_(Restormer(**TINY), 0.3).eval()
    with torch.no_grad():  # sharper attention than temperature 1 gives: softmax rounding shows more
        for module in net.modules():
            if isinstance(module, restormer_arch.MDTA):
                module.temperature.fill_(8.0)
    return net, torch.rand(1, 3, 32, 32)


def test_bf16_autocast_keeps_layernorm_and_attention_statistics_in_float32():
    excess, with_bf16 = statistics_errors_under_bf16(*bf16_check_net())
    assert with_bf16 == {'ChannelLayerNorm', 'ChannelAttentionWeights'}  # the check sees bf16 activations
    assert all(value <= 0 for value in excess.values()), excess


def test_bf16_statistics_check_fails_without_float32_statistics(monkeypatch):
    monkeypatch.setattr(restormer_arch, 'at_least_float32', lambda tensor: tensor)
    excess, _ = statistics_errors_under_bf16(*bf16_check_net())
    assert excess['ChannelLayerNorm'] > 1e-3 and excess['ChannelAttentionWeights'] > 1e-3, excess


def save_checkpoint(path, net):
    torch.save({'params': net.state_dict()}, path)
    return path


def test_runs_through_the_inference_object_whole_and_tiled(tmp_path):
    net = randomize_(Restormer(**TINY), 0.2).eval()
    with torch.no_grad():  # outputs of ~100 (random weights) round at 1e-5 x 100 with the thread count's sum order
        net.output.weight.mul_(0.01)
    checkpoint = save_checkpoint(tmp_path / 'restormer.pth', net)
    rgb = np.random.default_rng(0).uniform(size=(30, 45, 3)).astype(np.float32)
    x = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        expected = net(x)[0].permute(1, 2, 0).numpy()
        first_tile = net(x[:, :, :16, :16])[0].permute(1, 2, 0).numpy()
    network_g = {'type': 'Restormer', **TINY}
    whole = Enhancer.from_checkpoint(network_g, checkpoint, InferenceSettings(tile_size=None, device='cpu'))
    np.testing.assert_allclose(whole.run_photo(rgb), expected, rtol=1e-4, atol=1e-4)
    calls = []
    tiled = Enhancer.from_checkpoint(network_g, checkpoint,
                                     InferenceSettings(tile_size=16, overlap=4, tile_batch=2, device='cpu'))
    out = tiled.run_photo(rgb, lambda done, total: calls.append(total))
    assert out.shape == rgb.shape and len(calls) > 1
    # pixels only the first tile covers come from that tile alone
    np.testing.assert_allclose(out[:12, :12], first_tile[:12, :12], rtol=1e-4, atol=1e-4)


def test_onnx_export_matches_pytorch(tmp_path):
    pytest.importorskip('onnxruntime')
    net = randomize_(Restormer(**TINY), 0.2).eval()
    with torch.no_grad():  # an edit of the size a trained network makes, so 1e-4 is a tight bound
        net.output.weight.mul_(0.01)
    opt = {'type': 'Restormer', **TINY}
    path = onnx_export.export_onnx(net, tmp_path / 'restormer.onnx', opset=17, network_opt=opt)
    session = onnx_runner.load_onnx_session(path)
    assert onnx_runner.onnx_network_opt(session)['type'] == 'Restormer'
    # 27x37 is not a multiple of 8: the padding must follow the input size, not the traced one
    assert onnx_runner.max_onnx_difference(net, session, sizes=((1, 3, 32, 32), (1, 3, 27, 37))) < 1e-4



def test_macs_count_on_the_meta_device_and_grow_linearly_with_the_pixels():
    from realestate_sr.benchmark.macs import forward_macs

    net = Restormer(**TINY).to('meta')
    # transposed attention: a C x C map per head, so four times the pixels cost exactly four times the MACs
    assert forward_macs(net, 64, 64) == 4 * forward_macs(net, 32, 32) > 0


@pytest.mark.parametrize('bf16, steps', [(False, 6), (True, 2)], ids=['fp32', 'bf16'])
def test_trains_from_an_option_dict_and_validates_through_the_inference_object(tmp_path, bf16, steps):
    from basicsr.models import build_model

    for sub in ('models', 'training_states', 'visualization'):
        (tmp_path / sub).mkdir()
    opt = {
        'name': 'restormer_unit', 'model_type': 'EnhanceModel', 'scale': 1, 'num_gpu': 0, 'dist': False, 'rank': 0,
        'world_size': 1, 'is_train': True, 'network_g': {'type': 'Restormer', **TINY},
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None,
                 'models': str(tmp_path / 'models'), 'training_states': str(tmp_path / 'training_states'),
                 'visualization': str(tmp_path / 'visualization')},
        'datasets': {'train': {'gt_size': 32}},
        'train': {'ema_decay': 0, 'bf16': bf16, 'grad_clip_norm': 1.0,
                  'optim_g': {'type': 'AdamW', 'lr': 2e-3, 'betas': [0.9, 0.99]},
                  'scheduler': {'type': 'CosineAnnealingRestartLR', 'periods': [100], 'restart_weights': [1]},
                  'total_iter': 100, 'pixel_opt': {'type': 'PixelL1Loss'}},
        'val': {'tile': {'size': 16, 'overlap': 4}},
    }
    torch.manual_seed(0)
    model = build_model(opt)
    generator = torch.Generator().manual_seed(0)
    lq = torch.rand(2, 3, 32, 32, generator=generator)
    model.feed_data({'lq': lq, 'gt': (0.7 * lq + 0.25).clamp(0, 1)})
    losses = []
    for step in range(1, steps + 1):
        model.optimize_parameters(step)
        losses.append(model.log_dict['l_pix'])
    # bfloat16 convolutions are slow on a CPU without AVX-512: two steps there, enough to see the loss fall
    assert losses[-1] < (0.8 if steps > 2 else 1.0) * losses[0], losses
    photo = torch.rand(1, 3, 30, 45, generator=generator)
    model.feed_data({'lq': photo, 'gt': photo})
    model.test()
    assert model.output.shape == photo.shape and torch.isfinite(model.output).all()
