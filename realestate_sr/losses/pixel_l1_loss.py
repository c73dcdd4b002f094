"""The pixel term of our recipes: L1 in float32, whatever precision the network's output comes in."""
import torch.nn.functional as F
from torch import nn

from basicsr.utils.registry import LOSS_REGISTRY


@LOSS_REGISTRY.register()
class PixelL1Loss(nn.Module):
    """``loss_weight * mean |pred - target|`` on float32 copies of both (a bfloat16 output under ``train.bf16``
    would otherwise round the differences the loss is meant to resolve). BasicSR's ``L1Loss`` owns that name.

    YAML keys (``train.pixel_opt``), logged as ``l_pix``:
        type: PixelL1Loss
        loss_weight: 1.0
    """

    def __init__(self, loss_weight=1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred, target):
        return self.loss_weight * F.l1_loss(pred.float(), target.float())
