import pytest
import torch
from torch import nn

from realestate_sr.archs.nafnet_arch import NAFNet, NAFNetLocal
from realestate_sr.utils.tiling import blend_ramp, make_torch_runner, tile_starts, tiled_forward
from tests.conftest import TINY_NAFNET, randomize_


def local_net(seed=0):
    """Two 3x3 convs: receptive-field radius 2, no global statistics."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1)).eval()


@pytest.mark.parametrize('length, tile, stride, expected', [
    (100, 128, 96, [0]),
    (128, 128, 96, [0]),
    (300, 128, 96, [0, 96, 172]),
    (320, 128, 96, [0, 96, 192]),
])
def test_tile_starts_cover_the_axis_and_end_at_the_border(length, tile, stride, expected):
    assert tile_starts(length, tile, stride) == expected


def test_neighbouring_ramps_sum_to_one_across_the_overlap():
    overlap = 32
    left = blend_ramp(128, overlap, ramp_start=False, ramp_end=True)
    right = blend_ramp(128, overlap, ramp_start=True, ramp_end=False)
    torch.testing.assert_close(left[-overlap:] + right[:overlap], torch.ones(overlap))
    assert left[-overlap // 4:].abs().max() == 0  # the context-starved outer quarter does not count
    assert (left[:-overlap] == 1).all()


@pytest.mark.parametrize('size, tile, overlap, batch', [
    ((300, 451), 128, 32, 4),
    ((257, 129), 64, 16, 3),
    ((90, 70), 128, 32, 2),  # smaller than one tile
    ((64, 1000), 64, 16, 5),  # a long panorama
])
def test_tiled_equals_whole_image_for_a_network_without_global_pooling(size, tile, overlap, batch):
    net = local_net()
    x = torch.rand(1, 3, *size)
    with torch.no_grad():
        whole = net(x)
    tiled = tiled_forward(make_torch_runner(net), x, tile, overlap, batch)
    assert tiled.shape == whole.shape and tiled.dtype == torch.float32
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-6)


def test_reflect_border_padding_changes_only_the_border():
    net = local_net()
    x = torch.rand(1, 3, 200, 150)
    with torch.no_grad():
        whole = net(x)
    tiled = tiled_forward(make_torch_runner(net), x, 96, 32, 4, border_pad=8)
    torch.testing.assert_close(tiled[..., 2:-2, 2:-2], whole[..., 2:-2, 2:-2], rtol=0, atol=1e-6)
    assert (tiled - whole).abs().max() > 1e-3


def test_nafnetlocal_tiles_stay_close_to_whole_image_tlc():
    # NAFNet's receptive field is larger than any overlap; TLC keeps tile statistics consistent
    net = randomize_(NAFNetLocal(**TINY_NAFNET, train_size=(1, 3, 64, 64)), scale=0.1)
    global_net = NAFNet(**TINY_NAFNET)
    global_net.load_state_dict(net.state_dict())
    global_net.eval()
    x = torch.rand(1, 3, 256, 320)
    with torch.no_grad():
        whole = net(x)
    tiled_local = tiled_forward(make_torch_runner(net), x, 128, 32, 4)
    tiled_global = tiled_forward(make_torch_runner(global_net), x, 128, 32, 4)
    error_local = (tiled_local - whole).abs().mean()
    error_global = (tiled_global - whole).abs().mean()
    assert error_local < 0.01, error_local
    assert error_local < error_global


def test_tile_batch_bounds_what_reaches_the_network():
    seen = []

    def run_batch(batch):
        seen.append(tuple(batch.shape))
        return batch * 2

    x = torch.rand(1, 3, 300, 300)
    out = tiled_forward(run_batch, x, tile_size=128, overlap=32, tile_batch=3)
    torch.testing.assert_close(out, x * 2)
    assert max(shape[0] for shape in seen) == 3
    assert all(shape[-2:] == (128, 128) for shape in seen)
    assert sum(shape[0] for shape in seen) == 9  # 3 x 3 tiles


@pytest.mark.parametrize('kwargs, message', [
    (dict(tile_size=64, overlap=64), 'overlap'),
    (dict(tile_size=0), 'positive'),
    (dict(tile_batch=0), 'positive'),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiled_forward(lambda b: b, torch.rand(1, 3, 32, 32), **kwargs)
    with pytest.raises(ValueError, match='1,C,H,W'):
        tiled_forward(lambda b: b, torch.rand(3, 32, 32))
