"""LUTRegularizationLoss: smoothness and monotonicity of the basis LUTs inside a network."""
import pytest
import torch

from realestate_sr.archs.whole_photo_ops import identity_lut
from realestate_sr.losses.lut_regularization_loss import lut_monotonicity, lut_smoothness

from basicsr.archs import build_network
from basicsr.losses import build_loss

NET = {'type': 'ImageAdaptiveLUT', 'num_basis': 2, 'lut_size': 5, 'thumb_size': 16, 'width': 4, 'levels': 1}


def test_identity_and_any_increasing_curve_cost_nothing():
    identity = identity_lut(9)[None]
    assert lut_smoothness(identity).item() == 0
    assert lut_monotonicity(identity).item() == 0
    assert lut_monotonicity(identity ** 0.5).item() == 0  # a brightening gamma curve is still increasing


def test_a_decreasing_channel_is_penalised_by_its_slope():
    lut = identity_lut(5)[None].clone()
    lut[..., 0] = 1 - lut[..., 0]  # red output falls as red input grows: slope -1 everywhere
    # red's term is 1 (mean of relu(1)), green and blue 0: the mean over the three channels
    assert lut_monotonicity(lut).item() == pytest.approx(1 / 3)
    # green falling as *red* grows is a hue/saturation change, not a tone inversion: allowed
    green_along_red = identity_lut(5)[None].clone()
    green_along_red[..., 1] = green_along_red[..., 1] - 0.5 * green_along_red[..., 0]
    assert lut_monotonicity(green_along_red).item() == 0


def test_smoothness_measures_bumps_of_the_residual():
    lut = identity_lut(5)[None].clone()
    lut[0, 2, 2, 2, 1] += 0.1  # one bump: 6 neighbour differences of 0.1 in a 5x5x5 volume
    differences_per_axis = 5 * 5 * 4 * 3
    expected = 2 * 0.01 / differences_per_axis  # the same on each of the 3 axes
    assert lut_smoothness(lut).item() == pytest.approx(expected, rel=1e-4)


def test_the_registered_loss_reads_the_luts_of_a_network_and_is_differentiable():
    loss = build_loss({'type': 'LUTRegularizationLoss', 'smoothness_weight': 1.0, 'monotonicity_weight': 2.0})
    net = build_network(dict(NET))
    assert loss(net).item() == 0  # identity at init
    with torch.no_grad():
        net.basis.residual[1, ..., 2] = -torch.linspace(0, 1, 5).view(5, 1, 1) * 2  # blue decreasing
    value = loss(net)
    expected = lut_smoothness(net.basis.luts()) + 2 * lut_monotonicity(net.basis.luts())
    assert value.item() == pytest.approx(expected.item()) and value.item() > 0
    value.backward()
    assert net.basis.residual.grad.abs().sum() > 0


def test_a_network_without_luts_scores_zero():
    loss = build_loss({'type': 'LUTRegularizationLoss'})
    net = build_network({'type': 'BilateralGridNet', 'thumb_size': 16, 'width': 4, 'levels': 2})
    assert loss(net).item() == 0
