import copy

import pytest
import torch

from realestate_sr.archs import local_pool, nafnet_blocks
from realestate_sr.archs.local_pool import LocalAvgPool2d
from realestate_sr.archs.nafnet_arch import NAFNet, NAFNetLocal, tlc_pools_globally
from realestate_sr.archs.nafnet_blocks import LayerNorm2d
from tests.conftest import TINY_NAFNET, randomize_

from basicsr.archs import build_network

SIDD = dict(enc_blk_nums=[2, 2, 4, 8], middle_blk_num=12, dec_blk_nums=[2, 2, 2, 2])
GOPRO = dict(enc_blk_nums=[1, 1, 1, 28], middle_blk_num=1, dec_blk_nums=[1, 1, 1, 1])


@pytest.mark.parametrize('width, config, expected', [
    (32, SIDD, 29_159_715),
    (64, SIDD, 115_982_915),
    (32, GOPRO, 17_111_907),
    (64, GOPRO, 67_888_835),
])
def test_parameter_counts_equal_the_official_release(width, config, expected):
    net = NAFNet(img_channel=3, width=width, **config)
    assert sum(p.numel() for p in net.parameters()) == expected


def test_built_from_yaml_options_through_basicsr_registry():
    net = build_network({'type': 'NAFNetLocal', **TINY_NAFNET, 'train_size': [1, 3, 32, 32]})
    assert isinstance(net, NAFNetLocal)
    assert net.base_size == (48, 48)


@pytest.mark.parametrize('size', [(17, 23), (31, 64), (64, 45), (5, 3)])
def test_odd_sizes_keep_shape_and_match_the_padded_computation(size):
    net = randomize_(NAFNet(**TINY_NAFNET)).double().eval()
    x = torch.rand(2, 3, *size, dtype=torch.float64)
    out = net(x)
    assert out.shape == x.shape
    # the result is the bottom/right zero-padded input through the net, cropped back
    padded = torch.nn.functional.pad(x, (0, (-size[1]) % 4, 0, (-size[0]) % 4))
    torch.testing.assert_close(out, net(padded)[..., :size[0], :size[1]], rtol=0, atol=1e-12)


def test_official_init_blocks_are_identities_and_zero_ending_gives_identity():
    net = NAFNet(**TINY_NAFNET).eval()
    x = torch.rand(1, 3, 24, 40)
    block = net.encoders[0][0]
    features = torch.randn(1, 8, 12, 12)
    torch.testing.assert_close(block(features), features, rtol=0, atol=0)
    with torch.no_grad():
        net.ending.weight.zero_()
        net.ending.bias.zero_()
    torch.testing.assert_close(net(x), x, rtol=0, atol=0)


def test_local_equals_global_when_input_fits_the_base_size():
    ours = randomize_(NAFNet(**TINY_NAFNET)).double().eval()
    local = NAFNetLocal(**TINY_NAFNET, train_size=(1, 3, 32, 32)).double()
    local.load_state_dict(ours.state_dict(), strict=True)
    x = torch.rand(1, 3, 48, 44, dtype=torch.float64)  # base size is 48x48
    torch.testing.assert_close(local(x), ours(x), rtol=0, atol=1e-12)
    bigger = torch.rand(1, 3, 96, 80, dtype=torch.float64)
    assert (local(bigger) - ours(bigger)).abs().max() > 1e-6  # TLC really changes large inputs


@pytest.mark.parametrize('size, pools_globally', [((48, 48), True), ((48, 44), True), ((49, 40), False),
                                                  ((64, 64), False)])
def test_tlc_pools_globally_says_when_nafnetlocal_equals_nafnet(size, pools_globally):
    ours = randomize_(NAFNet(**TINY_NAFNET)).double().eval()
    local = NAFNetLocal(**TINY_NAFNET, train_size=(1, 3, 32, 32)).double()
    local.load_state_dict(ours.state_dict())
    assert tlc_pools_globally(size, (1, 3, 32, 32), levels=2) is pools_globally
    x = torch.rand(1, 3, *size, dtype=torch.float64)
    assert torch.equal(local(x), ours(x)) is pools_globally


def test_tlc_window_of_the_gb10_options_covers_512_tiles():
    # nafnet_gb10.yml: gt_size 512, 4 levels -> window 768: 512 (and 768) px tiles see no TLC at all
    assert tlc_pools_globally((512, 512), (1, 3, 512, 512), levels=4)
    assert tlc_pools_globally((768, 768), (1, 3, 512, 512), levels=4)
    assert not tlc_pools_globally((784, 784), (1, 3, 512, 512), levels=4)


def test_local_window_mean_against_avg_pool_reference():
    local = NAFNetLocal(**TINY_NAFNET, train_size=(1, 3, 8, 8))
    pool = local.encoders[0][0].sca[0]
    assert pool.kernel_size == (12, 12)
    x = torch.rand(1, 2, 20, 30, dtype=torch.float64)
    out = pool(x)
    # reference: mean over every valid 12x12 window, then replicate-padded to 20x30
    windows = torch.nn.functional.avg_pool2d(x, kernel_size=12, stride=1)
    assert out.shape == x.shape
    assert windows.shape[-2:] == (9, 19)
    torch.testing.assert_close(out[:, :, 5:14, 5:24], windows, rtol=0, atol=1e-12)
    torch.testing.assert_close(out[:, :, 0, 0], windows[:, :, 0, 0], rtol=0, atol=1e-12)
    torch.testing.assert_close(out[:, :, -1, -1], windows[:, :, -1, -1], rtol=0, atol=1e-12)


def test_bf16_autocast_keeps_tlc_pooling_and_layernorm_statistics_accurate():
    local = NAFNetLocal(**TINY_NAFNET, train_size=(1, 3, 64, 64))
    pool = local.encoders[0][0].sca[0]
    x = (0.9 + 0.1 * torch.rand(1, 4, 1100, 1650))
    reference = pool(x.double())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        low = pool(x.to(torch.bfloat16))
    # float32 statistics: only the final cast to bf16 rounds (half an ulp of ~1.0 is 2**-8)
    assert (low.double() - reference).abs().max() < 2**-8
    # the trap this guards against: the same window sums taken in bfloat16
    naive = pool._window_mean(x.to(torch.bfloat16)).double()
    valid_h, valid_w = naive.shape[-2:]
    top, left = (1100 - valid_h) // 2, (1650 - valid_w) // 2
    assert (naive - reference[:, :, top:top + valid_h, left:left + valid_w]).abs().max() > 0.05

    norm = LayerNorm2d(16)
    feats = 100 + torch.randn(2, 16, 32, 32)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        normed = norm(feats.to(torch.bfloat16))
    expected = torch.nn.functional.layer_norm(feats.to(torch.bfloat16).double().permute(0, 2, 3, 1), (16,), eps=1e-6)
    assert (normed.double() - expected.permute(0, 3, 1, 2)).abs().max() < 0.02


@pytest.mark.parametrize('size, strides', [((105, 77), (5, 1)), ((96, 98), (4, 2)), ((101, 90), (1, 5))])
def test_fast_imp_pool_is_the_official_subsampled_window_mean(size, strides):
    # official fast_imp: sum windows of kernel // r pixels on the map subsampled by r (r: the largest of
    # 5, 4, 3, 2, 1 dividing the side), windows starting one pixel in, then nearest upsampling and replicate
    # padding back to the input size. Written here with avg_pool2d, not cumulative sums.
    pool = LocalAvgPool2d((12, 12), fast_imp=True, max_stride=(5, 5))
    x = torch.rand(1, 2, *size, dtype=torch.float64)
    r1, r2 = strides
    sub = x[:, :, ::r1, ::r2]
    k1, k2 = min(sub.shape[-2] - 1, 12 // r1), min(sub.shape[-1] - 1, 12 // r2)
    means = torch.nn.functional.avg_pool2d(sub[:, :, 1:, 1:], (k1, k2), stride=1)
    up = means.repeat_interleave(r1, dim=-2).repeat_interleave(r2, dim=-1)
    dh, dw = size[0] - up.shape[-2], size[1] - up.shape[-1]
    expected = torch.nn.functional.pad(up, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2), mode='replicate')
    torch.testing.assert_close(pool(x), expected, rtol=0, atol=1e-12)


def test_fast_imp_nafnetlocal_approximates_the_exact_one_on_a_large_odd_input():
    plain = randomize_(NAFNet(**TINY_NAFNET)).double().eval()
    exact, fast = (NAFNetLocal(**TINY_NAFNET, train_size=(1, 3, 32, 32), fast_imp=f).double() for f in (False, True))
    for net in (exact, fast):
        net.load_state_dict(plain.state_dict())
    within_base = torch.rand(1, 3, 47, 45, dtype=torch.float64)  # base size 48x48: global pooling in all three
    torch.testing.assert_close(fast(within_base), plain(within_base), rtol=0, atol=1e-12)
    x = torch.rand(1, 3, 101, 77, dtype=torch.float64)
    with torch.no_grad():
        to_exact = (fast(x) - exact(x)).abs()
        plain_to_exact = (plain(x) - exact(x)).abs()
    # fast_imp is not equivalent (subsampled, windows shifted by a pixel), as in the official code: measured
    # mean 1.2e-4 / max 1.1e-3 from the exact TLC output, about half the distance of plain NAFNet (2.1e-4 / 2.2e-3)
    assert to_exact.mean() < 2e-4 and to_exact.max() < 2e-3, (to_exact.mean(), to_exact.max())
    assert to_exact.mean() < 0.75 * plain_to_exact.mean()


def statistics_errors_under_bf16(net, x):
    """Per module type (LocalAvgPool2d, LayerNorm2d): the largest error of a module's output in a BF16-autocast
    run of ``net`` beyond rounding that output to its dtype, against the same module run in float64 on the same
    input. Comparing module by module keeps upstream bf16 convolution error out of the measure."""
    calls, handles = [], []
    for module in net.modules():
        if isinstance(module, (LocalAvgPool2d, LayerNorm2d)):
            handles.append(module.register_forward_hook(
                lambda module, args, out: calls.append((module, args[0].detach(), out.detach()))))
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        net(x)
    for handle in handles:
        handle.remove()
    excess = {}
    with torch.no_grad():
        for module, inp, out in calls:
            reference = copy.deepcopy(module).double()(inp.double())
            # half an ulp of the output dtype (2**-8 relative in bfloat16) plus float32 arithmetic noise
            allowed = torch.finfo(out.dtype).eps / 2 * reference.abs() + 1e-6
            worst = ((out.double() - reference).abs() - allowed).max().item()
            name = type(module).__name__
            excess[name] = max(excess.get(name, -1.0), worst)
    return excess, {type(module).__name__ for module, inp, _ in calls if inp.dtype == torch.bfloat16}


def bf16_check_net():
    # 384x512 input, 64x64 training patches: windows of 96 px, cumulative sums over ~200k pixels
    return randomize_(NAFNetLocal(**TINY_NAFNET, train_size=(1, 3, 64, 64))), torch.rand(1, 3, 384, 512)


def test_bf16_autocast_statistics_of_every_pool_and_layernorm_match_full_precision():
    excess, with_bf16_input = statistics_errors_under_bf16(*bf16_check_net())
    assert with_bf16_input == {'LocalAvgPool2d', 'LayerNorm2d'}  # the check sees bf16 activations in both
    # measured: at most 2e-7 beyond the half-ulp rounding of the output, inside the 1e-6 allowance
    assert all(value <= 0 for value in excess.values()), excess


def test_bf16_statistics_check_fails_without_float32_statistics(monkeypatch):
    for module in (nafnet_blocks, local_pool):
        monkeypatch.setattr(module, 'at_least_float32', lambda tensor: tensor)
    excess, _ = statistics_errors_under_bf16(*bf16_check_net())
    # measured: LayerNorm2d ~6e-3, LocalAvgPool2d ~7e-2 beyond the rounding of the output
    assert excess['LayerNorm2d'] > 1e-3 and excess['LocalAvgPool2d'] > 1e-2, excess


def test_layernorm_backward_matches_autograd():
    norm = LayerNorm2d(6)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    norm = norm.double()
    x = torch.randn(2, 6, 5, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: norm(t), (x,))
