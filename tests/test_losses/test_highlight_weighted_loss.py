"""HighlightWeightedLoss and its mask: thresholds, weights, wrapped losses, precision, option checks."""
import pytest
import torch

from realestate_sr.losses.highlight_weighted_loss import HighlightWeightedLoss
from realestate_sr.models.option_checks import training_option_problems
from realestate_sr.utils.highlights import highlight_mask

from basicsr.losses import build_loss
from basicsr.losses.basic_loss import L1Loss


def pixels(*rgb):
    """A 1x3x1xK image of the given RGB triples."""
    return torch.tensor(rgb, dtype=torch.float32).t().reshape(1, 3, 1, len(rgb))


@pytest.mark.parametrize('rgb, expected', [
    ((0.95, 0.93, 0.90), 1.0),   # a blown window
    ((0.70, 0.70, 0.70), 0.5),   # luma 0.7, grey: half way up the ramp
    ((0.30, 0.30, 0.30), 0.0),   # a dim wall
    ((1.00, 1.00, 0.00), 0.0),   # bright but saturated yellow
    ((0.00, 0.00, 0.00), 0.0),   # black (saturation 0 by definition, luma 0)
])
def test_mask_at_known_points(rgb, expected):
    assert highlight_mask(pixels(rgb)).item() == pytest.approx(expected, abs=1e-6)


def test_mask_ramps_are_smooth_and_monotone_in_luma_and_saturation():
    greys = torch.linspace(0, 1, 201)
    luma_ramp = highlight_mask(greys.view(1, 1, 1, -1).expand(1, 3, 1, -1)).flatten()
    assert (luma_ramp.diff() >= 0).all() and luma_ramp.diff().abs().max() < 0.04  # no jump anywhere
    # bright pixels of rising saturation: (1, 1 - s, 1 - s) has HSV saturation s
    sat = torch.linspace(0, 1, 201)
    rgb = torch.stack([torch.ones_like(sat), 1 - sat, 1 - sat]).view(1, 3, 1, -1)
    sat_ramp = highlight_mask(rgb, luma_low=0.0, luma_high=1e-3).flatten()
    assert (sat_ramp.diff() <= 0).all() and sat_ramp.diff().abs().max() < 0.04
    assert sat_ramp[sat <= 0.2].min() == 1 and sat_ramp[sat >= 0.4].max() == 0
    # a pale-blue sky through a window (S = 0.37) barely counts
    assert highlight_mask(pixels((0.6, 0.75, 0.95))).item() < 0.1


def half_window_pair(delta=0.1):
    target = torch.full((1, 3, 4, 8), 0.3)
    target[..., :4] = 0.95  # left half: a window
    return target + delta, target


@pytest.mark.parametrize('normalize, expected', [(False, 0.1 * (0.5 * 1 + 0.5 * 3)), (True, 0.1)])
def test_weighted_mean_of_a_constant_error(normalize, expected):
    pred, target = half_window_pair()
    loss = HighlightWeightedLoss(highlight_weight=3.0, normalize=normalize)
    assert loss(pred, target).item() == pytest.approx(expected, rel=1e-5)


def test_weight_one_is_the_wrapped_loss_and_the_window_pixels_get_the_weight_in_their_gradient():
    generator = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 3, 8, 8, generator=generator, requires_grad=True)
    target = torch.rand(2, 3, 8, 8, generator=generator)
    target[:, :, :4] = 0.97
    plain = L1Loss()(pred, target)
    assert HighlightWeightedLoss(highlight_weight=1.0)(pred, target).item() == pytest.approx(plain.item(), rel=1e-6)
    HighlightWeightedLoss(highlight_weight=2.0)(pred, target).backward()
    grad = pred.grad.abs()
    mask = highlight_mask(target).expand_as(grad)
    torch.testing.assert_close(grad[mask == 1], torch.full_like(grad[mask == 1], 2 / pred.numel()))
    torch.testing.assert_close(grad[mask == 0], torch.full_like(grad[mask == 0], 1 / pred.numel()))


def test_wraps_other_pixel_losses_from_yaml():
    pred, target = half_window_pair(0.2)
    mse = build_loss({'type': 'HighlightWeightedLoss', 'pixel_loss': {'type': 'MSELoss', 'loss_weight': 0.5},
                      'highlight_weight': 2.0})
    assert mse(pred, target).item() == pytest.approx(0.5 * 0.04 * 1.5, rel=1e-5)
    charbonnier = build_loss({'type': 'HighlightWeightedLoss', 'pixel_loss': {'type': 'CharbonnierLoss'}})
    assert charbonnier(pred, target).item() == pytest.approx(0.2 * 1.5, rel=1e-4)


def test_losses_without_a_per_pixel_map_are_refused_with_one_line():
    with pytest.raises(ValueError, match='PixelL1Loss has no reduction argument'):
        HighlightWeightedLoss(pixel_loss={'type': 'PixelL1Loss'})
    with pytest.raises(KeyError, match="'NoSuchLoss' is not a registered loss"):
        HighlightWeightedLoss(pixel_loss={'type': 'NoSuchLoss'})
    with pytest.raises(ValueError, match='leave out pixel_loss.reduction'):
        HighlightWeightedLoss(pixel_loss={'type': 'L1Loss', 'reduction': 'sum'})


def test_a_bfloat16_output_is_scored_in_float32():
    pred, target = half_window_pair(0.01)
    pred = pred + torch.linspace(0, 1e-3, 8)  # differences finer than bfloat16 resolves near 1
    loss = HighlightWeightedLoss()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        low = loss(pred.to(torch.bfloat16), target)
    assert low.dtype == torch.float32
    assert low.item() == pytest.approx(loss(pred.to(torch.bfloat16).float(), target).item(), rel=1e-6)


def test_option_checks_accept_its_keys_and_name_a_typo():
    train = {'pixel_opt': {'type': 'HighlightWeightedLoss', 'pixel_loss': {'type': 'L1Loss'},
                           'highlight_weight': 2.0, 'luma_low': 0.6}}
    assert training_option_problems({'num_gpu': 0, 'train': train}, cuda_available=False) == []
    train['pixel_opt']['highlight_wieght'] = 2.0
    problems = training_option_problems({'num_gpu': 0, 'train': train}, cuda_available=False)
    assert problems == ["unknown key 'highlight_wieght' in train.pixel_opt (HighlightWeightedLoss) "
                        "(did you mean 'highlight_weight'?)"]
