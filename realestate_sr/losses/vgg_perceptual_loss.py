"""VGG19 feature distance, the perceptual term of the NAFNet recipe, with weights from a local file only."""
import torch
import torch.nn.functional as F
from torch import nn

from realestate_sr.losses.vgg_features import VGG19Features

from basicsr.utils.registry import LOSS_REGISTRY

DEFAULT_LAYER_WEIGHTS = {'conv3_4': 1.0, 'conv4_4': 1.0, 'conv5_4': 1.0}


@LOSS_REGISTRY.register()
class VGGPerceptualLoss(nn.Module):
    """``perceptual_weight * sum_l w_l * L1(VGG_l(pred), VGG_l(target))`` with a frozen VGG19.

    Returns ``(perceptual, None)`` like BasicSR's ``PerceptualLoss`` (whose second value is its style term),
    so SRModel and our models read it the same way; ``perceptual_weight: 0`` builds no VGG and returns
    ``(None, None)``. The VGG forward runs in float32 even under BF16 autocast (on a GPU that costs some
    speed; the loss stays exact). BasicSR's ``PerceptualLoss`` downloads its weights, hence our own name.

    YAML keys (``train.perceptual_opt``), logged as ``l_percep``:
        type: VGGPerceptualLoss
        perceptual_weight: 0.1
        layer_weights: {conv3_4: 1.0, conv4_4: 1.0, conv5_4: 1.0}
        vgg_weights: ~                  # path to vgg19-dcbb9e9d.pth; default: torch hub cache
        use_random_vgg_weights_for_testing: false
    """

    def __init__(self, perceptual_weight=0.1, layer_weights=None, vgg_weights=None,
                 use_random_vgg_weights_for_testing=False):
        super().__init__()
        self.perceptual_weight = perceptual_weight
        self.layer_weights = dict(layer_weights or DEFAULT_LAYER_WEIGHTS)
        self.vgg = None
        if perceptual_weight > 0:
            self.vgg = VGG19Features(list(self.layer_weights), vgg_weights, use_random_vgg_weights_for_testing)

    def forward(self, pred, target):
        if self.vgg is None:
            return None, None
        # The VGG runs in float32 with autocast off: in bfloat16 its features move the perceptual term by
        # ~0.2% (measured on a random VGG), the size of the differences the term is meant to resolve.
        with torch.autocast(pred.device.type, enabled=False):
            pred_features = self.vgg(pred.float())
            with torch.no_grad():
                target_features = self.vgg(target.float())
            perceptual = sum(weight * F.l1_loss(pred_features[name], target_features[name])
                             for name, weight in self.layer_weights.items())
        return self.perceptual_weight * perceptual, None
