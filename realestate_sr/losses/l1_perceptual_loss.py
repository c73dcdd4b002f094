"""L1 + VGG19 perceptual loss, the training objective of the NAFNet recipe on this kind of data."""
import torch
import torch.nn.functional as F
from basicsr.utils.registry import LOSS_REGISTRY
from torch import nn

from realestate_sr.losses.vgg_features import VGG19Features

DEFAULT_LAYER_WEIGHTS = {'conv3_4': 1.0, 'conv4_4': 1.0, 'conv5_4': 1.0}


@LOSS_REGISTRY.register()
class L1PerceptualLoss(nn.Module):
    """``l1_weight * L1(pred, target) + perceptual_weight * sum_l w_l * L1(VGG_l(pred), VGG_l(target))``.

    Both terms, the VGG forward included, are computed in float32 even under
    BF16 autocast (on a GPU the float32 VGG costs some speed; the loss stays
    exact). The terms of the last call are kept in ``last_terms`` for logging.

    YAML keys (``train.pixel_opt``):
        type: L1PerceptualLoss
        l1_weight: 1.0
        perceptual_weight: 0.1          # 0 builds no VGG at all
        layer_weights: {conv3_4: 1.0, conv4_4: 1.0, conv5_4: 1.0}
        vgg_weights: ~                  # path to vgg19-dcbb9e9d.pth; default: torch hub cache
        use_random_vgg_weights_for_testing: false
    """

    def __init__(self, l1_weight=1.0, perceptual_weight=0.1, layer_weights=None, vgg_weights=None,
                 use_random_vgg_weights_for_testing=False):
        super().__init__()
        self.l1_weight = l1_weight
        self.perceptual_weight = perceptual_weight
        self.layer_weights = dict(layer_weights or DEFAULT_LAYER_WEIGHTS)
        self.vgg = None
        if perceptual_weight > 0:
            self.vgg = VGG19Features(list(self.layer_weights), vgg_weights, use_random_vgg_weights_for_testing)
        self.last_terms = {}

    def forward(self, pred, target):
        pred, target = pred.float(), target.float()
        l1 = F.l1_loss(pred, target)
        total = self.l1_weight * l1
        self.last_terms = {'l_l1': l1.detach()}
        if self.vgg is not None:
            # The VGG runs in float32 with autocast off: in bfloat16 its features move the perceptual term by
            # ~0.2% (measured on a random VGG), the size of the differences the term is meant to resolve.
            with torch.autocast(pred.device.type, enabled=False):
                pred_features = self.vgg(pred)
                with torch.no_grad():
                    target_features = self.vgg(target)
                perceptual = sum(weight * F.l1_loss(pred_features[name], target_features[name])
                                 for name, weight in self.layer_weights.items())
            total = total + self.perceptual_weight * perceptual
            self.last_terms['l_percep'] = perceptual.detach()
        return total
