"""Edit strength of the whole-photo networks: the edit itself (transforms, LUTs) moved toward the identity."""
import pytest
import torch

from realestate_sr.archs.whole_photo_ops import StrengthError, crop_box, identity_lut, photo_thumbnail
from tests.test_archs.test_whole_photo_archs import ARCH_IDS, ARCHS, build

PHOTO_SHAPE = (1, 3, 40, 56)


def edited(net, photo, strength):
    with torch.no_grad():
        return net(photo, strength=strength)


@pytest.mark.parametrize('opt', ARCHS, ids=ARCH_IDS)
def test_strength_zero_returns_the_input_and_one_the_full_edit(opt):
    net = build(opt, seed=3)
    photo = torch.rand(*PHOTO_SHAPE, generator=torch.Generator().manual_seed(1))
    full = edited(net, photo, 1.0)
    assert (full - photo).abs().max() > 0.05, 'the randomised network must edit the photo'
    torch.testing.assert_close(edited(net, photo, 0.0), photo, atol=1e-6, rtol=0)
    with torch.enable_grad():  # the training (gather) path too
        torch.testing.assert_close(net(photo, strength=0.0).detach(), photo, atol=1e-6, rtol=0)
    assert torch.equal(edited(net, photo, 1.0), edited(net, photo, torch.ones(1)))
    with torch.no_grad():
        assert torch.equal(full, net.apply_edit(photo, None, *net.photo_edit(photo_thumbnail(photo, net.thumb_size))))


@pytest.mark.parametrize('opt', ARCHS, ids=ARCH_IDS)
def test_half_strength_is_the_network_applying_its_half_way_edit(opt):
    net = build(opt, seed=4)
    photo = torch.rand(*PHOTO_SHAPE, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        edit = net.photo_edit(photo_thumbnail(photo, net.thumb_size))
        # the identity written out independently: [I | 0] in every cell, the identity LUT
        halves = [(value + torch.eye(3, 4).reshape(12)) / 2 if value.dim() == 5 and value.shape[-1] == 12
                  else (value + identity_lut(value.shape[1])) / 2 for value in edit]
        expected = net.apply_edit(photo, None, *halves)
    half = edited(net, photo, 0.5)
    torch.testing.assert_close(half, expected, atol=1e-6, rtol=0)
    distance = [float((edited(net, photo, s) - photo).abs().mean()) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert distance == sorted(distance) and distance[0] < 1e-6 < distance[2] < distance[4]


@pytest.mark.parametrize('opt, differs', [(ARCHS[0], False), (ARCHS[1], False), (ARCHS[2], True)],
                         ids=ARCH_IDS[:3])
def test_the_edit_blend_is_the_pixel_blend_only_where_the_edit_is_linear_in_its_parameters(opt, differs):
    """A LUT lookup and a grid are linear in their parameters: there the two blends agree. A LUT followed by a
    grid is not: the blend of the edit is another photo."""
    net = build(opt, seed=8)
    photo = torch.rand(*PHOTO_SHAPE, generator=torch.Generator().manual_seed(3))
    pixel_blend = torch.lerp(photo, edited(net, photo, 1.0), 0.5)
    gap = float((edited(net, photo, 0.5) - pixel_blend).abs().max())
    assert (gap > 1e-3) if differs else (gap < 1e-5)


@pytest.mark.parametrize('opt', ARCHS, ids=ARCH_IDS)
def test_a_crop_at_half_strength_equals_that_region_of_the_whole_photo(opt):
    net = build(opt, seed=5)
    photo = torch.rand(1, 3, 60, 90)
    thumb = photo_thumbnail(photo, opt['thumb_size'])
    top, left, height, width = 13, 29, 24, 40
    box = crop_box(top, left, height, width, 60, 90)[None]
    with torch.no_grad():
        whole = net(photo, strength=0.5)
        crop = net(photo[:, :, top:top + height, left:left + width], thumb=thumb, box=box, strength=0.5)
    assert (whole - photo).abs().max() > 0.02
    torch.testing.assert_close(crop, whole[:, :, top:top + height, left:left + width], atol=1e-5, rtol=0)


def test_each_photo_of_a_batch_takes_its_own_strength():
    net = build(ARCHS[2], seed=6)
    photos = torch.rand(3, 3, 24, 32, generator=torch.Generator().manual_seed(4))
    together = edited(net, photos, torch.tensor([0.0, 0.5, 1.0]))
    for index, strength in enumerate((0.0, 0.5, 1.0)):
        torch.testing.assert_close(together[index:index + 1], edited(net, photos[index:index + 1], strength),
                                   atol=1e-5, rtol=0)  # a batch of three rounds the encoder differently


@pytest.mark.parametrize('strength', [-0.1, 1.5, float('nan'), 'abc', '', torch.tensor([0.5, 2.0])])
def test_strengths_outside_zero_to_one_are_refused(strength):
    net = build(ARCHS[0])
    with pytest.raises(StrengthError, match=r'strength|one strength per photo'):
        edited(net, torch.rand(2, 3, 16, 16), strength)
