"""HighlightWeightedLoss: any per-pixel loss, weighted up where the target is bright and nearly colourless."""
import inspect

from torch import nn

from realestate_sr.utils.highlights import HIGHLIGHT_THRESHOLDS, highlight_mask

from basicsr.losses import build_loss
from basicsr.utils.registry import LOSS_REGISTRY


@LOSS_REGISTRY.register()
class HighlightWeightedLoss(nn.Module):
    """``loss_weight * mean(w * pixel_loss(pred, target))`` with ``w = 1 + (highlight_weight - 1) * mask``.

    ``mask`` is ``realestate_sr.utils.highlights.highlight_mask`` of the target: 1 on bright (luma above
    ~0.7), low-saturation pixels such as windows and lamps, 0 elsewhere, smoothly ramped (thresholds in that
    module). With ``highlight_weight: 2`` an error in a window costs twice one in a wall, as in the seed
    systems. ``normalize: true`` divides by ``mean(w)``, so the loss keeps the scale of the unweighted one
    whatever share of the photo is bright (the gradient then moves from the rest of the photo to the windows).

    YAML keys (``train.pixel_opt``), logged as ``l_pix``::

        type: HighlightWeightedLoss
        pixel_loss: {type: L1Loss}   # any registered loss with a reduction argument: L1Loss, MSELoss,
                                     # CharbonnierLoss (its own loss_weight applies too); built with
                                     # reduction: none, so it gives the per-pixel map the weights multiply
        highlight_weight: 2.0        # weight of a pixel fully inside the mask; 1.0 is the plain loss
        normalize: false
        loss_weight: 1.0
        luma_low: 0.6                # the mask's ramps (highlights.py)
        luma_high: 0.8
        saturation_low: 0.2
        saturation_high: 0.4

    The loss is taken on float32 copies of both images, whatever precision the output comes in.
    """

    def __init__(self, pixel_loss=None, highlight_weight=2.0, normalize=False, loss_weight=1.0,
                 luma_low=HIGHLIGHT_THRESHOLDS['luma_low'], luma_high=HIGHLIGHT_THRESHOLDS['luma_high'],
                 saturation_low=HIGHLIGHT_THRESHOLDS['saturation_low'],
                 saturation_high=HIGHLIGHT_THRESHOLDS['saturation_high']):
        super().__init__()
        pixel_loss = dict(pixel_loss or {'type': 'L1Loss'})
        kind = pixel_loss.get('type')
        if kind not in LOSS_REGISTRY:
            raise KeyError(f'HighlightWeightedLoss: pixel_loss type {kind!r} is not a registered loss')
        if 'reduction' not in inspect.signature(LOSS_REGISTRY.get(kind)).parameters:
            raise ValueError(f'HighlightWeightedLoss: pixel_loss {kind} has no reduction argument, so it gives no '
                             'per-pixel map to weight; use L1Loss, MSELoss or CharbonnierLoss')
        if pixel_loss.get('reduction', 'none') != 'none':
            raise ValueError(f'HighlightWeightedLoss: leave out pixel_loss.reduction (got {pixel_loss["reduction"]!r}):'
                             ' the weighted mean is taken here')
        if highlight_weight < 0:
            raise ValueError(f'highlight_weight must be >= 0, got {highlight_weight}')
        self.pixel_loss = build_loss({**pixel_loss, 'reduction': 'none'})
        self.highlight_weight, self.normalize, self.loss_weight = float(highlight_weight), bool(normalize), loss_weight
        self.thresholds = {'luma_low': luma_low, 'luma_high': luma_high, 'saturation_low': saturation_low,
                           'saturation_high': saturation_high}

    def weights(self, target):
        """N,1,H,W float32 weights ``1 + (highlight_weight - 1) * mask`` of ``target``."""
        return 1 + (self.highlight_weight - 1) * highlight_mask(target.float(), **self.thresholds)

    def forward(self, pred, target):
        per_pixel = self.pixel_loss(pred.float(), target.float())
        if per_pixel.ndim != 4:
            raise ValueError(f'pixel_loss returned shape {tuple(per_pixel.shape)}, not a per-pixel N,C,H,W map')
        weights = self.weights(target)
        loss = (per_pixel * weights).mean()
        if self.normalize:
            loss = loss / weights.mean()
        return self.loss_weight * loss
