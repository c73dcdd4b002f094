"""Where a photo is bright and nearly colourless: windows, lamps, sky through glass, white walls in the sun.

Those regions are the most visible failure of a listing edit (a window that comes out dimmer or tinted than
the editor's), so the loss ``HighlightWeightedLoss`` weights them and the metrics ``calculate_highlight_l1`` /
``calculate_highlight_shift`` measure them. All three take the region from the *target* photo through
``highlight_mask``, with the same thresholds:

- luma ``Y = 0.2126 R + 0.7152 G + 0.0722 B`` of the sRGB-encoded values in [0, 1] (BT.709 weights);
  the luma part of the mask rises smoothly from 0 at ``luma_low`` (0.6) to 1 at ``luma_high`` (0.8), so a
  pixel at 0.7 counts one half;
- saturation ``S = (max - min) / max`` of R, G, B (HSV's; 0 for black); the saturation part falls smoothly
  from 1 at ``saturation_low`` (0.2) to 0 at ``saturation_high`` (0.4): a blown window (0.95, 0.93, 0.9) has
  S = 0.05 and counts fully, a pale-blue sky (0.6, 0.75, 0.95) S = 0.37 barely, a yellow wall not at all;
- mask = luma part x saturation part, in [0, 1]. The ramps are smoothstep (3t^2 - 2t^3): no hard edge
  a network could learn to sit on.
"""
import torch

from realestate_sr.utils.colour import LUMA_709

HIGHLIGHT_THRESHOLDS = {'luma_low': 0.6, 'luma_high': 0.8, 'saturation_low': 0.2, 'saturation_high': 0.4}


def smoothstep(low, high, x):
    """0 below ``low``, 1 above ``high``, 3t^2 - 2t^3 between."""
    if not high > low:
        raise ValueError(f'a ramp needs low < high, got {low} and {high}')
    t = ((x - low) / (high - low)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def highlight_mask(rgb, luma_low=0.6, luma_high=0.8, saturation_low=0.2, saturation_high=0.4):
    """Weights in [0, 1] of the bright, low-saturation pixels of ``rgb`` (N,3,H,W in [0, 1]): N,1,H,W, at least
    float32 (a bfloat16 photo is upcast before the ramps)."""
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f'highlight_mask needs N,3,H,W RGB, got shape {tuple(rgb.shape)}')
    rgb = rgb.to(torch.promote_types(rgb.dtype, torch.float32)).clamp(0, 1)
    weights = torch.tensor(LUMA_709, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    luma = (rgb * weights).sum(1, keepdim=True)
    high, low = rgb.amax(1, keepdim=True), rgb.amin(1, keepdim=True)
    saturation = torch.where(high > 0, (high - low) / high.clamp_min(1e-12), torch.zeros_like(high))
    return smoothstep(luma_low, luma_high, luma) * (1 - smoothstep(saturation_low, saturation_high, saturation))
