"""Smoothness and monotonicity of learned 3D LUTs (the regulariser of image-adaptive LUT training)."""
import torch
from torch import nn

from realestate_sr.archs.lut3d_arch import BasisLUTs
from realestate_sr.archs.whole_photo_ops import identity_lut

from basicsr.utils.registry import LOSS_REGISTRY


def lut_smoothness(luts):
    """Mean squared difference between neighbouring samples of ``luts - identity`` along each colour axis.

    ``luts``: K,D,D,D,3 indexed [b, g, r]. The identity's own slope is not penalised, so the identity LUT
    scores 0 and only bumps that the data do not ask for cost anything.
    """
    residual = luts - identity_lut(luts.shape[1], luts.device, luts.dtype)
    terms = [residual.diff(dim=axis).pow(2).mean() for axis in (1, 2, 3)]
    return sum(terms) / 3


def lut_monotonicity(luts):
    """Mean of ``relu(-slope)`` of each output channel along its own input axis (red along r, ...), scaled by
    D - 1 so that it reads in output units per unit of input: 0 for any LUT whose R, G and B outputs do not
    decrease when the same input channel grows."""
    size = luts.shape[1]
    # output channel c against input axis: r is dim 3, g dim 2, b dim 1 of [K, b, g, r, c]
    slopes = [luts[..., channel].diff(dim=axis) * (size - 1) for channel, axis in ((0, 3), (1, 2), (2, 1))]
    return sum(torch.relu(-slope).mean() for slope in slopes) / 3


@LOSS_REGISTRY.register()
class LUTRegularizationLoss(nn.Module):
    """``smoothness_weight * lut_smoothness + monotonicity_weight * lut_monotonicity`` over the basis LUTs
    of every :class:`BasisLUTs` inside a network (ImageAdaptiveLUT, BilateralGridNet with ``lut_basis``).

    Called with the network, not with images: ``loss(net)``. A network without LUTs scores 0.

    YAML keys (``train.lut_opt``, read by WholePhotoModel):
        type: LUTRegularizationLoss
        smoothness_weight: 1.0e-4
        monotonicity_weight: 10.0
    """

    def __init__(self, smoothness_weight=1e-4, monotonicity_weight=10.0):
        super().__init__()
        self.smoothness_weight = smoothness_weight
        self.monotonicity_weight = monotonicity_weight

    def forward(self, net):
        total = None
        for module in net.modules():
            if isinstance(module, BasisLUTs):
                luts = module.luts().float()
                term = self.smoothness_weight * lut_smoothness(luts) + \
                    self.monotonicity_weight * lut_monotonicity(luts)
                total = term if total is None else total + term
        if total is None:
            return torch.zeros((), device=next(net.parameters()).device)
        return total
