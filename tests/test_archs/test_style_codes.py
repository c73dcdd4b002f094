"""House codes on BilateralGridNet (network_g.style_codes): off builds nothing, untrained it is the identity, the
code of each photo's house changes its edit, gradients reach the codes, crops equal the one-pass result, a base of
K houses starts a fine-tune of one house at the mean of its codes, bad options and indices are refused."""
import pytest
import torch
import torch.nn.functional as F
import yaml

from realestate_sr.archs.style_codes import CODES_KEY, StyleCodeError, style_code_shape, with_mean_code
from realestate_sr.archs.whole_photo_ops import WholePhotoInputError, crop_box, photo_thumbnail
from tests.conftest import randomize_

from basicsr.archs import build_network

TINY = {'type': 'BilateralGridNet', 'thumb_size': 32, 'width': 4, 'levels': 2, 'max_width': 8, 'grid_depth': 4,
        'guide_hidden': 4, 'stats_input': True}
HOUSES = {**TINY, 'style_codes': {'count': 3, 'dim': 4}}


def editing(opt, seed=3):
    """A randomised network that edits visibly, built from ``opt``."""
    torch.manual_seed(0)
    net = randomize_(build_network(dict(opt)), 0.3, seed)
    with torch.no_grad():
        for module in net.modules():
            if hasattr(module, 'residual'):
                module.residual.mul_(0.5)
    return net.eval()


def photos(count=2, seed=0):
    return torch.rand(count, 3, 30, 44, generator=torch.Generator().manual_seed(seed))


def test_style_codes_off_is_the_stats_network_bit_for_bit_and_the_default_recipe_is_unchanged():
    torch.manual_seed(0)
    plain = build_network(dict(TINY))
    torch.manual_seed(0)
    off = build_network({**TINY, 'style_codes': None})
    assert off.style_codes is None and list(off.state_dict()) == list(plain.state_dict())
    assert all(torch.equal(value, off.state_dict()[name]) for name, value in plain.state_dict().items())
    with open('options/bench/bilateral_grid_whole.yml', encoding='utf-8') as handle:
        default = yaml.safe_load(handle)['network_g']
    assert 'style_codes' not in default
    torch.manual_seed(0)
    recipe = build_network(dict(default))
    assert not any(name.startswith('style_codes') for name in recipe.state_dict())


def test_an_untrained_network_with_houses_returns_its_input_whatever_the_house():
    torch.manual_seed(0)
    net = build_network(dict(HOUSES)).eval()
    assert net.style_codes.codes.shape == (3, 4) and CODES_KEY in net.state_dict()
    x = photos()
    with torch.no_grad():
        for house in (None, torch.tensor([0, 2]), torch.tensor([1, 1])):
            torch.testing.assert_close(net(x, house=house), x, atol=1e-6, rtol=0)


def test_each_house_edits_the_photo_its_own_way_and_none_means_the_mean_code():
    net = editing(HOUSES)
    x = photos()
    with torch.no_grad():
        outputs = [net(x, house=torch.tensor([house, house])) for house in range(3)]
        assert (outputs[0] - outputs[1]).abs().max() > 1e-3 and (outputs[1] - outputs[2]).abs().max() > 1e-3
        mixed = net(x, house=torch.tensor([0, 2]))  # each photo its own house: the batch does not mix them
        torch.testing.assert_close(mixed[0], outputs[0][0], atol=1e-6, rtol=0)
        torch.testing.assert_close(mixed[1], outputs[2][1], atol=1e-6, rtol=0)
        mean = net.style_codes.codes.mean(dim=0, keepdim=True)
        net.style_codes.codes.copy_(torch.cat([mean, mean + 1, mean - 1]))  # row 0 is now the table's mean
        torch.testing.assert_close(net(x), net(x, house=torch.tensor([0, 0])), atol=2e-5, rtol=0)


def test_gradients_reach_the_codes_of_the_houses_in_the_batch_only():
    net = editing(HOUSES).train()
    x = photos()
    F.l1_loss(net(x, house=torch.tensor([0, 2])), (0.8 * x + 0.1)).backward()
    grad = net.style_codes.codes.grad
    assert grad[0].abs().sum() > 0 and grad[2].abs().sum() > 0
    assert torch.equal(grad[1], torch.zeros_like(grad[1]))  # house 1 was not in the batch


def test_a_crop_with_its_box_and_house_equals_that_region_of_the_whole_photo_output():
    net = editing(HOUSES)
    x = photos(1, seed=4)
    house = torch.tensor([2])
    with torch.no_grad():
        whole = net(x, house=house)
        crop = net(x[:, :, 5:25, 10:40], thumb=photo_thumbnail(x, 32), box=crop_box(5, 10, 20, 30, 30, 44)[None],
                   house=house)
    assert (whole - x).abs().max() > 0.05
    torch.testing.assert_close(crop, whole[:, :, 5:25, 10:40], atol=1e-5, rtol=0)


def test_a_base_of_k_houses_starts_one_house_at_the_mean_of_its_codes():
    base = editing({**TINY, 'style_codes': {'count': 5, 'dim': 4}})
    torch.manual_seed(1)
    single = build_network({**TINY, 'style_codes': {'count': 1, 'dim': 4}})
    fitted, note = with_mean_code(single.state_dict(), base.state_dict())
    assert note and '5 house codes' in note
    single.load_state_dict(fitted, strict=True)
    torch.testing.assert_close(single.style_codes.codes, base.style_codes.codes.mean(dim=0, keepdim=True))
    x = photos()
    with torch.no_grad():  # the mean code is what the base does without a house: the fine-tune starts from it
        torch.testing.assert_close(single.eval()(x), base(x), atol=1e-6, rtol=0)
    same, none = with_mean_code(base.state_dict(), base.state_dict())
    assert none is None and torch.equal(same[CODES_KEY], base.style_codes.codes)  # the same count: as it is
    with pytest.raises(StyleCodeError, match='dim 4'):
        with_mean_code(build_network({**TINY, 'style_codes': {'count': 1, 'dim': 6}}).state_dict(), base.state_dict())
    with pytest.raises(StyleCodeError, match='count: 1'):
        with_mean_code(build_network({**TINY, 'style_codes': {'count': 2, 'dim': 4}}).state_dict(), base.state_dict())


@pytest.mark.parametrize('option, message', [({'count': 0, 'dim': 4}, '>= 1'), ({'count': 2}, 'count: K, dim: d'),
                                             ({'count': 2.5, 'dim': 4}, 'integers'), (8, 'count: K, dim: d')])
def test_a_bad_style_codes_option_is_refused(option, message):
    with pytest.raises(StyleCodeError, match=message):
        style_code_shape(option)
    with pytest.raises(StyleCodeError):
        build_network({**TINY, 'style_codes': option})


def test_houses_need_the_statistics_and_house_indices_must_fit():
    with pytest.raises(StyleCodeError, match='stats_input: true'):
        build_network({**TINY, 'stats_input': False, 'style_codes': {'count': 2, 'dim': 3}})
    net = editing(HOUSES)
    x = photos()
    with pytest.raises(StyleCodeError, match=r'\[0, 2\]'):
        net(x, house=torch.tensor([0, 3]))
    with pytest.raises(StyleCodeError, match='one house per photo'):
        net(x, house=torch.tensor([0]))
    with pytest.raises(StyleCodeError, match='no style_codes'):
        editing(TINY)(x, house=torch.tensor([0, 0]))
    with pytest.raises(WholePhotoInputError, match='not conditioned on a house'):
        build_network({'type': 'ImageAdaptiveLUT', 'num_basis': 2, 'lut_size': 5, 'thumb_size': 32, 'width': 4,
                       'levels': 2, 'max_width': 8})(x, house=torch.tensor([0, 0]))
