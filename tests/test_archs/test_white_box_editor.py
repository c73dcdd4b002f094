"""The white-box editor: zero parameters return the photo exactly, each control does what its name says, every
control is per pixel (tiles equal one pass) and differentiable."""
import pytest
import torch

from realestate_sr.archs.white_box_editor import (
    GAMMA,
    PARAMETER_BOUNDS,
    PARAMETER_COUNT,
    PARAMETER_NAMES,
    apply_tone_curve,
    apply_white_box,
    bounded_parameters,
    tone_knots,
)

GENERATOR_SEED = 0


def photos(shape=(2, 24, 36, 3), seed=GENERATOR_SEED):
    rgb = torch.rand(*shape, generator=torch.Generator().manual_seed(seed))
    rgb[0, 0, :6] = torch.tensor([0.0, 1.0, 0.5, 0.125, 1 - 2 ** -24, 2 ** -20]).view(6, 1)  # ends, knots, near
    return rgb


def parameters(**values):
    params = torch.zeros(1, PARAMETER_COUNT)
    for name, value in values.items():
        params[0, PARAMETER_NAMES.index(name)] = value
    return params


def test_zero_parameters_return_the_photo_bit_for_bit():
    rgb = photos()
    assert torch.equal(apply_white_box(torch.zeros(2, PARAMETER_COUNT), rgb), rgb)
    assert torch.equal(apply_white_box(bounded_parameters(torch.zeros(2, PARAMETER_COUNT)), rgb), rgb)


def test_a_tiled_photo_equals_one_pass():
    rgb = photos()
    params = torch.randn(2, PARAMETER_COUNT, generator=torch.Generator().manual_seed(1))
    whole = apply_white_box(params, rgb)
    assert (whole - rgb).abs().max() > 0.05
    tiles = [apply_white_box(params, rgb[:, top:top + 8, left:left + 12]) for top in (0, 8, 16) for left in (0, 12, 24)]
    stitched = torch.cat([torch.cat(tiles[row * 3:row * 3 + 3], dim=2) for row in range(3)], dim=1)
    assert torch.equal(stitched, whole)
    # channels-last pixels in any layout: a flat list of the same pixels gives the same values
    torch.testing.assert_close(apply_white_box(params, rgb.reshape(2, -1, 3)), whole.reshape(2, -1, 3), atol=0, rtol=0)


def test_the_tone_curve_is_monotone_and_maps_zero_to_zero_and_one_to_one():
    tone = torch.randn(5, 8, generator=torch.Generator().manual_seed(2)) * 3
    knots = tone_knots(tone)
    assert torch.equal(knots[:, 0], torch.zeros(5)) and torch.allclose(knots[:, -1], torch.ones(5))
    assert (knots[:, 1:] > knots[:, :-1]).all()
    ramp = torch.linspace(0, 1, 1001).view(1, -1, 1).expand(5, -1, 3)
    curve = apply_tone_curve(knots, ramp)
    assert (curve[:, 1:] >= curve[:, :-1]).all()
    assert curve[:, 0].abs().max() == 0 and (curve[:, -1] - 1).abs().max() < 1e-6
    torch.testing.assert_close(apply_tone_curve(knots, ramp[:, ::125]), knots.unsqueeze(-1).expand(5, 9, 3))


def test_exposure_and_white_balance_are_gains_in_stops_of_linear_light():
    rgb = photos() * 0.3  # nothing clips
    edited = apply_white_box(parameters(exposure=1.0, wb_red=0.5, wb_blue=-0.5), rgb[:1])
    ratio = (edited / rgb[:1].clamp(min=1e-3)) ** GAMMA  # in linear light under the GAMMA power law
    expected = torch.tensor([2 ** 1.5, 2.0, 2 ** 0.5])
    torch.testing.assert_close(ratio[rgb[:1].amin(-1) > 1e-2].mean(0), expected, rtol=1e-4, atol=0)


def test_shadows_lift_the_dark_pixels_and_highlights_the_bright_ones_keeping_their_colour():
    dark, bright = torch.tensor([[[0.1, 0.05, 0.08]]]), torch.tensor([[[0.8, 0.7, 0.75]]])
    for name, moved, kept in (('shadows', dark, bright), ('highlights', bright, dark)):
        gain_moved = apply_white_box(parameters(**{name: 0.5}), moved) / moved
        gain_kept = apply_white_box(parameters(**{name: 0.5}), kept) / kept
        assert gain_moved.min() > 1.05 and gain_kept.max() < gain_moved.min()
        assert torch.allclose(gain_moved, gain_moved[..., :1])  # one gain on the three channels


def test_saturation_minus_one_makes_grey_and_plus_one_doubles_the_distance_from_grey():
    rgb = photos() * 0.5 + 0.25
    grey = apply_white_box(parameters(saturation=-1.0), rgb[:1])
    assert (grey.amax(-1) - grey.amin(-1)).max() < 1e-6
    luma = (rgb[:1] * torch.tensor([0.299, 0.587, 0.114])).sum(-1, keepdim=True)
    torch.testing.assert_close(apply_white_box(parameters(saturation=1.0), rgb[:1]),
                               (luma + 2 * (rgb[:1] - luma)).clamp(0, 1), atol=1e-6, rtol=0)


def test_bounds_are_soft_and_outputs_stay_in_the_unit_range():
    raw = torch.full((1, PARAMETER_COUNT), 100.0)
    torch.testing.assert_close(bounded_parameters(raw), torch.tensor([PARAMETER_BOUNDS]))
    edited = apply_white_box(bounded_parameters(torch.randn(2, PARAMETER_COUNT) * 10), photos())
    assert edited.min() >= 0 and edited.max() <= 1


@pytest.mark.parametrize('name', PARAMETER_NAMES)
def test_every_parameter_gets_a_gradient_at_zero(name):
    params = torch.zeros(2, PARAMETER_COUNT, requires_grad=True)
    rgb = photos() * 0.9 + 0.05
    target = rgb.flip(-1)
    (apply_white_box(params, rgb) - target).abs().mean().backward()
    assert params.grad[:, PARAMETER_NAMES.index(name)].abs().min() > 0
