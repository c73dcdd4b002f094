"""Whole-photo edit networks: ImageAdaptiveLUT and BilateralGridNet, and the lookups they are built on."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from realestate_sr.archs.bilateral_grid_arch import apply_affine, slice_and_apply_rows, slice_grid
from realestate_sr.archs.lut3d_arch import lut_lookup
from realestate_sr.archs.nafnet_arch import NAFNet
from realestate_sr.archs.whole_photo_ops import (
    WholePhotoInputError,
    apply_luts,
    corner_table,
    crop_box,
    identity_lut,
    is_whole_photo,
    photo_thumbnail,
    trilinear_lookup,
)
from tests.conftest import randomize_

from basicsr.archs import build_network

TINY = {'thumb_size': 32, 'width': 4, 'levels': 2, 'max_width': 8}
ARCHS = [
    {'type': 'ImageAdaptiveLUT', 'num_basis': 2, 'lut_size': 5, **TINY},
    {'type': 'BilateralGridNet', 'grid_depth': 4, 'guide_hidden': 4, **TINY},
    {'type': 'BilateralGridNet', 'grid_depth': 4, 'guide_hidden': 0, 'lut_basis': 2, 'lut_size': 5, **TINY},
    {'type': 'BilateralGridNet', 'grid_depth': 4, 'guide_hidden': 4, 'gain_cells': 2, **TINY},
    {'type': 'BilateralGridNet', 'grid_depth': 4, 'guide_hidden': 4, 'stats_input': True, **TINY},
]
ARCH_IDS = ['lut', 'grid', 'grid+lut', 'grid-light', 'grid-stats']


def build(opt, seed=None, scale=0.3):
    torch.manual_seed(0)
    net = build_network(dict(opt))
    if seed is not None:
        randomize_(net, scale, seed)
        with torch.no_grad():  # keep the guide and mixing in a useful range: a real, non-trivial edit
            for module in net.modules():
                if hasattr(module, 'residual'):
                    module.residual.mul_(0.5)
            if getattr(net, 'light_head', None) is not None:
                net.light_head.weight.mul_(0.1)  # gains of a few times, as a light map makes, not e**5
    return net.eval()


# ------------------------------------------------------------------------------------ independent references

def numpy_trilinear_lut(lut, rgb):
    """Reference: per pixel, the 8 surrounding LUT samples weighted by the volumes of the opposite boxes."""
    size = lut.shape[0]
    out = np.zeros_like(rgb, dtype=np.float64)
    for p, (r, g, b) in enumerate(rgb.astype(np.float64)):
        pos = np.clip(np.array([b, g, r]) * (size - 1), 0, size - 1)
        low = np.minimum(np.floor(pos).astype(int), size - 2)
        frac = pos - low
        for corner in itertools.product((0, 1), repeat=3):
            weight = np.prod([f if c else 1 - f for f, c in zip(frac, corner)])
            out[p] += weight * lut[low[0] + corner[0], low[1] + corner[1], low[2] + corner[2]]
    return out


def brute_force_slice(grid, u, v, z):
    """Reference: sum over every grid sample of its tent weight (1 - distance in cells, border-clamped)."""
    gh, gw, gd, ch = grid.shape
    coords = [np.clip(v * gh - 0.5, 0, gh - 1), np.clip(u * gw - 0.5, 0, gw - 1), np.clip(z * gd - 0.5, 0, gd - 1)]
    out = np.zeros(ch)
    for i, j, k in itertools.product(range(gh), range(gw), range(gd)):
        weight = np.prod([max(0.0, 1 - abs(c - n)) for c, n in zip(coords, (i, j, k))])
        out += weight * grid[i, j, k]
    return out


def test_lut_lookup_matches_an_independent_numpy_trilinear_interpolation():
    generator = torch.Generator().manual_seed(1)
    lut = torch.rand(2, 5, 5, 5, 3, generator=generator, dtype=torch.float64)
    rgb = torch.rand(2, 40, 3, generator=generator, dtype=torch.float64)
    rgb[0, :4] = torch.tensor([[0, 0, 0], [1, 1, 1], [1, 0, 0.5], [0.25, 0.75, 1]], dtype=torch.float64)
    out = apply_luts(lut, rgb)
    for n in range(2):
        np.testing.assert_allclose(out[n].numpy(), numpy_trilinear_lut(lut[n].numpy(), rgb[n].numpy()), atol=1e-12)


def test_lut_lookup_agrees_with_grid_sample_and_identity_lut_is_identity():
    generator = torch.Generator().manual_seed(2)
    lut = torch.rand(1, 7, 7, 7, 3, generator=generator)
    rgb = torch.rand(1, 50, 3, generator=generator)
    # grid_sample: volume N,C,D,H,W = [b, g, r]; grid's last dim (x, y, z) = (r, g, b) with align_corners=True
    sampled = F.grid_sample(lut.permute(0, 4, 1, 2, 3), (rgb * 2 - 1).view(1, 1, 1, 50, 3), mode='bilinear',
                            padding_mode='border', align_corners=True).view(3, 50).t()
    torch.testing.assert_close(apply_luts(lut, rgb)[0], sampled, atol=1e-5, rtol=0)
    torch.testing.assert_close(apply_luts(identity_lut(9)[None], rgb), rgb, atol=1e-6, rtol=0)


def test_grid_slicing_matches_a_brute_force_per_pixel_reference_on_a_small_image():
    generator = torch.Generator().manual_seed(3)
    grid = torch.rand(1, 3, 4, 5, 12, generator=generator, dtype=torch.float64)
    height, width = 7, 9
    u = ((torch.arange(width, dtype=torch.float64) + 0.5) / width).expand(1, height, width)
    v = ((torch.arange(height, dtype=torch.float64) + 0.5) / height).view(1, -1, 1).expand(1, height, width)
    guide = torch.rand(1, height, width, generator=generator, dtype=torch.float64) * 1.4 - 0.2  # beyond [0, 1] too
    sliced = slice_grid(corner_table(grid), grid.shape, u, v, guide)
    for i, j in itertools.product(range(height), range(width)):
        expected = brute_force_slice(grid[0].numpy(), u[0, i, j].item(), v[0, i, j].item(), guide[0, i, j].item())
        np.testing.assert_allclose(sliced[0, i, j].numpy(), expected, atol=1e-12)


def test_fast_row_slicing_equals_the_gather_path():
    generator = torch.Generator().manual_seed(4)
    grid = torch.randn(1, 4, 6, 8, 12, generator=generator)
    rows, width = 11, 37
    rgb = torch.rand(1, rows, width, 3, generator=generator)
    u = (torch.arange(width) + 0.5) / width * 0.6 + 0.3  # a crop's columns: x0 = 0.3, x1 = 0.9
    v = (torch.arange(rows) + 0.5) / rows
    guide = torch.rand(1, rows, width, generator=generator) * 1.2 - 0.1
    reference = apply_affine(slice_grid(corner_table(grid), grid.shape, u.expand(1, rows, width),
                                        v.view(1, -1, 1).expand(1, rows, width), guide), rgb)
    fast = slice_and_apply_rows(grid[0], rgb[0].permute(2, 0, 1), u, v, guide[0].clone())
    torch.testing.assert_close(fast, reference[0].permute(2, 0, 1), atol=1e-5, rtol=0)


@pytest.mark.parametrize('opt', ARCHS[1:3], ids=ARCH_IDS[1:3])
def test_the_training_path_gives_the_gather_paths_outputs_and_gradients(opt):
    net = build(opt, seed=9)
    with torch.no_grad():  # a guide inside the grid's depth, where it has a gradient (clamped outside)
        net.guide.mix.weight.copy_(torch.tensor([[0.3, 0.6, 0.1]]))
        net.guide.mix.bias.zero_()
    photos = torch.rand(2, 3, 24, 36)
    crops = photos[:, :, 5:21, 8:32]
    boxes = torch.stack([crop_box(5, 8, 16, 24, 24, 36), torch.tensor([0.0, 0.0, 1.0, 1.0])])
    weights = torch.randn(2, 3, 16, 24)
    results = []
    for path in (net._apply_by_gather, net._apply_with_gradients):
        net.zero_grad()
        edit = net.photo_edit(photo_thumbnail(photos, opt['thumb_size']))
        grid, luts = edit if len(edit) == 2 else (edit[0], None)
        out = path(crops, boxes, grid, lut_lookup(luts) if luts is not None else None)
        (out * weights).sum().backward()
        results.append((out.detach(), {name: p.grad.clone() for name, p in net.named_parameters()}))
    (gathered, gather_grads), (sampled, sample_grads) = results
    assert (gathered - crops).abs().max() > 0.05, 'the randomised network must edit the photo'
    torch.testing.assert_close(sampled, gathered, atol=1e-5, rtol=1e-5)
    assert gather_grads.keys() == sample_grads.keys()
    for name, grad in gather_grads.items():
        torch.testing.assert_close(sample_grads[name], grad, atol=1e-4, rtol=1e-4, msg=name)
    assert gather_grads['guide.mix.weight'].abs().max() > 1e-3  # the guide's gradient is compared too


def test_trilinear_lookup_needs_no_more_than_two_samples_per_axis():
    volume = torch.arange(8, dtype=torch.float32).view(1, 2, 2, 2, 1)
    centre = torch.full((1, 1), 0.5)
    assert trilinear_lookup(corner_table(volume), volume.shape, centre, centre, centre).item() == pytest.approx(3.5)


# ------------------------------------------------------------------------------------ the networks

@pytest.mark.parametrize('opt', ARCHS, ids=ARCH_IDS)
def test_an_untrained_network_returns_its_input_at_any_size(opt):
    net = build(opt)
    assert net.whole_photo is True
    for shape in ((1, 3, 33, 47), (2, 3, 64, 40)):
        x = torch.rand(*shape)
        with torch.no_grad():
            y = net(x)
        assert y.shape == x.shape and y.dtype == torch.float32
        torch.testing.assert_close(y, x, atol=1e-6, rtol=0)


@pytest.mark.parametrize('opt', ARCHS, ids=ARCH_IDS)
def test_a_crop_with_its_box_equals_that_region_of_the_whole_photo_output(opt):
    net = build(opt, seed=5)
    photo = torch.rand(1, 3, 60, 90)
    with torch.no_grad():
        whole = net(photo)
        thumb = photo_thumbnail(photo, opt['thumb_size'])
        top, left, height, width = 13, 29, 24, 40
        box = crop_box(top, left, height, width, 60, 90)[None]
        crop = net(photo[:, :, top:top + height, left:left + width], thumb=thumb, box=box)
    region = whole[:, :, top:top + height, left:left + width]
    assert (whole - photo).abs().max() > 0.05, 'the randomised network must edit the photo'
    torch.testing.assert_close(crop, region, atol=1e-5, rtol=0)
    with torch.enable_grad():  # the training path (grid_sample) gives the same numbers as inference
        torch.testing.assert_close(net(photo[:, :, top:top + height, left:left + width], thumb=thumb, box=box),
                                   region, atol=1e-5, rtol=0)


@pytest.mark.parametrize('opt', ARCHS, ids=ARCH_IDS)
def test_several_views_of_each_photo_share_its_thumbnail_and_match_separate_calls(opt):
    net = build(opt, seed=7)
    photos = torch.rand(2, 3, 40, 50)
    thumbs = photo_thumbnail(photos, opt['thumb_size'])
    crops = photos[:, :, 8:24, 10:26]
    boxes = torch.stack([crop_box(8, 10, 16, 16, 40, 50)] * 2)
    wholes = F.interpolate(photos, size=(16, 16), mode='area')
    full = torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 2)
    with torch.enable_grad():  # the training path, where views are used
        both = net(torch.cat([crops, wholes]), thumb=thumbs, box=torch.cat([boxes, full]))
        separate = torch.cat([net(crops, thumb=thumbs, box=boxes), net(wholes, thumb=thumbs, box=full)])
    torch.testing.assert_close(both, separate, atol=1e-6, rtol=0)
    assert (both[0] - both[1]).abs().max() > 0.01  # views follow their own photo's thumbnail
    with pytest.raises(WholePhotoInputError, match='k views'):
        net(torch.rand(3, 3, 16, 16), thumb=thumbs)


@pytest.mark.parametrize('opt', ARCHS, ids=ARCH_IDS)
def test_chunked_inference_equals_one_piece(opt):
    net = build(opt, seed=6)
    photo = torch.rand(2, 3, 45, 31)
    with torch.enable_grad():
        reference = net(photo).detach()
    net.chunk_pixels = 31 * 4 + 7  # 4 rows per chunk, the last chunk shorter
    with torch.no_grad():
        torch.testing.assert_close(net(photo), reference, atol=1e-5, rtol=0)


def test_the_grid_depends_on_position_and_the_lut_does_not():
    photo = torch.full((1, 3, 40, 40), 0.5)
    grid_out = build(ARCHS[1], seed=7)(photo).detach()
    lut_out = build(ARCHS[0], seed=7)(photo).detach()
    assert (grid_out[..., :5, :5] - grid_out[..., -5:, -5:]).abs().max() > 1e-3
    torch.testing.assert_close(lut_out[..., :5, :5], lut_out[..., -5:, -5:])


@pytest.mark.parametrize('opt', ARCHS, ids=ARCH_IDS)
def test_gradients_reach_every_parameter_within_three_steps(opt):
    net = build(opt).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(8)
    photo = torch.rand(2, 3, 48, 48, generator=generator)
    target = (photo * 0.7 + 0.2 * photo.flip(-1)).clamp(0, 1)
    thumb = photo_thumbnail(photo, opt['thumb_size'])
    box = torch.tensor([[0.0, 0.0, 0.5, 1.0], [0.5, 0.0, 1.0, 1.0]])
    reached = set()
    for _ in range(3):
        optimizer.zero_grad()
        out = net(torch.cat([photo[:1, :, :, :24], photo[1:, :, :, 24:]]), thumb=thumb, box=box)
        loss = F.l1_loss(out, torch.cat([target[:1, :, :, :24], target[1:, :, :, 24:]]))
        loss.backward()
        reached |= {name for name, p in net.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
        optimizer.step()
    assert reached == {name for name, _ in net.named_parameters()}


@pytest.mark.parametrize('opt', ARCHS[1:2], ids=ARCH_IDS[1:2])
def test_bf16_autocast_changes_only_the_encoder(opt):
    net = build(opt, seed=9)
    photo = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        full = net(photo)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            half = net(photo)
    assert half.dtype == torch.float32
    assert (half - full).abs().max() < 0.05


def test_bad_inputs_are_refused_with_one_clear_error():
    net = build(ARCHS[1])
    photo = torch.rand(1, 3, 20, 20)
    with pytest.raises(WholePhotoInputError, match='needs the thumbnail'):
        net(photo, box=torch.tensor([[0.0, 0.0, 1.0, 1.0]]))
    with pytest.raises(WholePhotoInputError, match='thumb must be'):
        net(photo, thumb=torch.rand(1, 3, 16, 16))
    with pytest.raises(WholePhotoInputError, match='N,3,H,W'):
        net(torch.rand(1, 1, 20, 20))
    with pytest.raises(WholePhotoInputError, match='box must be'):
        net(photo, thumb=torch.rand(1, 3, 32, 32), box=torch.rand(4))
    with pytest.raises(ValueError, match='multiple of'):
        build_network({'type': 'BilateralGridNet', 'thumb_size': 40, 'levels': 4})


def test_thumbnail_is_a_local_average():
    photo = torch.zeros(1, 3, 64, 96)
    photo[..., :32, :] = 1.0
    thumb = photo_thumbnail(photo, 8)
    assert thumb.shape == (1, 3, 8, 8)
    torch.testing.assert_close(thumb[..., :3, :], torch.ones(1, 3, 3, 8))
    torch.testing.assert_close(thumb[..., 5:, :], torch.zeros(1, 3, 3, 8))
    assert torch.allclose(photo_thumbnail(torch.full((1, 3, 999, 1301), 0.25), 8), torch.tensor(0.25))


def test_the_light_map_scales_each_channel_by_a_gain_that_varies_smoothly_across_the_frame():
    opt = {'type': 'BilateralGridNet', 'grid_depth': 4, 'guide_hidden': 0, 'gain_cells': 2, **TINY}
    net = build(opt)
    photo = torch.rand(1, 3, 24, 40) * 0.5
    with torch.no_grad():
        assert (net(photo) - photo).abs().max() < 1e-6  # gain 1 untrained
        net.light_head.bias.copy_(torch.log(torch.tensor([2.0, 1.0, 0.5])))  # the same gains everywhere
        torch.testing.assert_close(net(photo), photo * torch.tensor([2.0, 1.0, 0.5]).view(1, 3, 1, 1))
        net.light_head.bias.zero_()
        net.light_head.weight.normal_(0, 1.0)  # gains that follow the photo's content
        half_dark = photo.clone()
        half_dark[..., 20:] *= 0.2
        thumb = photo_thumbnail(half_dark, 32)
        gains = net(half_dark, thumb=thumb) / half_dark
    left, right = gains[..., :4].mean(), gains[..., -4:].mean()
    assert (left - right).abs() > 1e-3  # the two sides get different gains
    assert gains[..., 1:].sub(gains[..., :-1]).abs().max() < (left - right).abs()  # and no jump between them
    assert build({**opt, 'gain_cells': 0}).light_head is None


def test_the_statistics_input_off_is_the_network_without_it_bit_for_bit():
    """Checkpoints and recipes written before the option load and compute as before."""
    plain, off = build(ARCHS[1], seed=4), build({**ARCHS[1], 'stats_input': False}, seed=4)
    assert off.stats_film is None
    assert list(off.state_dict()) == list(plain.state_dict())
    off.load_state_dict(plain.state_dict(), strict=True)
    photo = torch.rand(1, 3, 30, 44, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(off(photo), plain(photo))
    assert len(off.photo_edit(photo_thumbnail(photo, off.thumb_size))) == 1


def test_untrained_statistics_input_computes_what_the_network_without_it_computes():
    """Same seed, same shared weights; the statistics' MLP starts with a zero last layer, so it changes nothing."""
    torch.manual_seed(0)
    plain = build_network(dict(ARCHS[1]))
    torch.manual_seed(0)
    with_stats = build_network({**ARCHS[1], 'stats_input': True})
    shared = plain.state_dict()
    assert all(torch.equal(with_stats.state_dict()[name], value) for name, value in shared.items())
    assert {name for name in with_stats.state_dict() if name not in shared} == {
        f'stats_film.mlp.{layer}.{kind}' for layer in (0, 2) for kind in ('weight', 'bias')}
    randomize_(plain, 0.3, seed=5)  # a network that edits: the shared weights of a trained one
    with_stats.load_state_dict(plain.state_dict(), strict=False)
    assert with_stats.stats_film.mlp[0].weight.abs().sum() > 0
    photo = torch.rand(2, 3, 30, 44, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = plain(photo)
        assert (expected - photo).abs().max() > 0.05
        torch.testing.assert_close(with_stats(photo), expected, atol=1e-6, rtol=0)
        with_stats.stats_film.mlp[2].weight.normal_(0, 0.3)  # once it has learnt something, the edit follows it
        assert (with_stats(photo) - expected).abs().max() > 1e-3


def test_gradients_reach_both_layers_of_the_statistics_mlp_by_the_third_step():
    net = build(ARCHS[4]).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    photo = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    target = (photo * 0.8 + 0.1).clamp(0, 1)
    first, last = net.stats_film.mlp[0].weight, net.stats_film.mlp[2].weight
    grads = []
    for _ in range(3):
        optimizer.zero_grad()
        F.l1_loss(net(photo), target).backward()
        grads.append((float(first.grad.abs().sum()), float(last.grad.abs().sum())))
        optimizer.step()
    # step 1 reaches only the grid head (its zero weights pass nothing back), step 2 the features and the MLP's
    # zero last layer, step 3 its first layer
    assert grads[0] == (0, 0) and grads[1][1] > 0 and grads[2][0] > 0


def test_is_whole_photo_tells_whole_photo_networks_and_their_classes_from_others():
    for opt in ARCHS:
        net = build(opt)
        assert is_whole_photo(net) and is_whole_photo(type(net))
    assert not any(is_whole_photo(thing) for thing in (NAFNet, NAFNet(width=8, enc_blk_nums=[1], dec_blk_nums=[1]),
                                                        None))
