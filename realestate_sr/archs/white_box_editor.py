"""A white-box photo editor: a few global controls an editor sets per photo, applied pixel by pixel, all
differentiable, so a network can predict them (``BilateralGridNet``'s ``white_box`` option).

The controls act on the photo's sRGB values in [0, 1] (what the network sees), in this order:

* exposure and white balance: gains in stops of linear light, ``exposure + wb_red`` on red, ``exposure`` on
  green, ``exposure + wb_blue`` on blue. With a pure ``GAMMA`` power law a linear gain g is the gain g^(1/GAMMA) on
  the encoded values, so they are applied as ``2 ** (stops / GAMMA)`` on the sRGB values: no decode and re-encode,
  which would not return the photo exactly at zero;
* a monotone tone curve on each channel: ``TONE_KNOTS`` segments of equal width whose rises are the softplus of
  the knot parameters, normalised to sum to 1, so the curve maps 0 to 0 and 1 to 1 and never falls;
* shadows and highlights: two gains in stops on all three channels (the colour kept), masked smoothly by the luma
  (``LUMA_601``): ``(1 - Y)^2`` for shadows, ``Y^2`` for highlights;
* saturation: each channel moved away from (or toward) the luma, ``rgb + saturation * (rgb - Y)``;

then clipped to [0, 1]. Zero parameters return the photo bit for bit: every gain is ``2 ** 0`` = 1, the tone
curve's rises are softplus(p) / softplus(0) = 1 each, so its knots are k / ``TONE_KNOTS`` and its segments the
identity in float, and saturation adds 0. Every control is per pixel and ignores where the pixel lies, so tiles
and crops of a photo equal one pass.

Each control is bounded softly, ``bound * tanh(raw / bound)`` (slope 1 at zero), by ``PARAMETER_BOUNDS``.
"""
import math

import torch
import torch.nn.functional as F

from realestate_sr.utils.colour import LUMA_601

GAMMA = 2.2  # the power law that turns gains in linear light into gains on sRGB values
TONE_KNOTS = 8
PARAMETER_NAMES = ('exposure', 'wb_red', 'wb_blue', *(f'tone_{k}' for k in range(TONE_KNOTS)), 'shadows',
                   'highlights', 'saturation')
PARAMETER_COUNT = len(PARAMETER_NAMES)
# stops for exposure, white balance, shadows and highlights; softplus inputs for the tone curve (a rise 20x
# another at most); the saturation change (-1: grey, +1: twice as saturated)
PARAMETER_BOUNDS = (3.0, 1.0, 1.0, *([3.0] * TONE_KNOTS), 2.0, 2.0, 1.0)
_TONE = slice(3, 3 + TONE_KNOTS)


def bounded_parameters(raw):
    """Raw head outputs N,``PARAMETER_COUNT`` -> the editor's parameters, each within its bound, 0 -> 0."""
    bounds = torch.tensor(PARAMETER_BOUNDS, dtype=raw.dtype, device=raw.device)
    return bounds * torch.tanh(raw / bounds)


def parameter_dicts(params):
    """N,``PARAMETER_COUNT`` parameters -> one {name: float} per photo."""
    return [dict(zip(PARAMETER_NAMES, row)) for row in params.detach().float().cpu().tolist()]


def per_pixel(values, rgb):
    """N,k per-photo values shaped to broadcast over N,...,3 pixels (N,1,...,1,k)."""
    return values.view(values.shape[0], *([1] * (rgb.dim() - 2)), values.shape[-1])


def luma_601(rgb):
    """N,...,1 luma of N,...,3 pixels."""
    return sum(weight * rgb[..., k:k + 1] for k, weight in enumerate(LUMA_601))


def stops_gain(stops):
    """2 ** stops, as exp (ONNX opset 17 has no exp2); exactly 1 at 0."""
    return torch.exp(stops * math.log(2.0))


def tone_knots(tone):
    """N,``TONE_KNOTS`` curve parameters -> N,``TONE_KNOTS + 1`` knot heights from 0 to 1 (monotone)."""
    # the ratio to softplus(0) computed the same way: exactly 1 per rise at zero, so the knots are k / K exactly
    rises = F.softplus(tone) / F.softplus(torch.zeros_like(tone))
    heights = torch.cumsum(rises, dim=-1) / rises.sum(dim=-1, keepdim=True)
    return torch.cat([torch.zeros_like(heights[:, :1]), heights], dim=-1)


def apply_tone_curve(knots, rgb):
    """Each value of N,...,3 ``rgb`` in [0, 1] through its photo's piecewise-linear curve (``tone_knots``)."""
    segments = knots.shape[-1] - 1
    position = rgb * segments
    index = position.floor().clamp(0, segments - 1)
    fraction = position - index
    flat_index = index.long().reshape(rgb.shape[0], -1)
    start = torch.gather(knots, 1, flat_index).view(rgb.shape)
    end = torch.gather(knots, 1, flat_index + 1).view(rgb.shape)
    # start + fraction * rise: exact at the identity curve (k/K + f/K rounds to the representable x)
    return start + fraction * (end - start)


def apply_white_box(params, rgb):
    """The edit of ``params`` (N,``PARAMETER_COUNT``, float) on N,...,3 sRGB pixels in [0, 1]; returns N,...,3."""
    exposure, wb_red, wb_blue = params[:, 0:1], params[:, 1:2], params[:, 2:3]
    channel_stops = torch.cat([exposure + wb_red, exposure, exposure + wb_blue], dim=-1)
    rgb = (rgb * per_pixel(stops_gain(channel_stops / GAMMA), rgb)).clamp(0, 1)
    rgb = apply_tone_curve(tone_knots(params[:, _TONE]), rgb)
    shadows, highlights, saturation = (per_pixel(params[:, k:k + 1], rgb) for k in range(_TONE.stop, _TONE.stop + 3))
    luma = luma_601(rgb)
    rgb = rgb * stops_gain((shadows * (1 - luma).square() + highlights * luma.square()) / GAMMA)
    return (rgb + saturation * (rgb - luma_601(rgb))).clamp(0, 1)
