"""The facts an editor reads off a photo before touching it, as a fixed-length vector, and the small network
that hands them to a thumbnail encoder.

``photo_statistics(thumb)`` takes the thumbnail a whole-photo network already sees (N,3,S,S sRGB in [0, 1]) and
returns N,``STATISTICS_SIZE`` float32 values, in this order:

* 7 percentiles (``PERCENTILES``) of the log2 luminance in linear light (sRGB decoded, BT.709 weights), in stops
  below white: ``log2(Y + LUMA_FLOOR)``; linear interpolation between order statistics, as ``torch.quantile``;
* the grey-world white estimate: ``log(mean R / mean G)``, ``log(mean B / mean G)`` of the linear values;
* the grey-edge white estimate: the same log ratios of each channel's mean absolute difference between
  neighbouring pixels (rows and columns), the colour of the edges, where a coloured wall says less;
* per channel the fraction of pixels above ``CLIP_HIGH``, then below ``CLIP_LOW`` (sRGB values);
* a ``HISTOGRAM_BINS``-bin histogram of the log2 luminance over [``-LUMA_STOPS``, 0]: each pixel is shared between
  its two nearest bin centres in proportion to its distance (tent weights), values beyond the range go to the
  end bins, so the fractions sum to 1 and move smoothly with the photo.

Everything is batch-wise and exports to ONNX (opset 17): the percentiles are a sort (``TopK``) and a gather at
positions fixed by the thumbnail's size, not ``torch.quantile``. The values do not depend on where a crop lies,
only on the thumbnail, so a network conditioned on them keeps the whole-photo contract (tiles = one pass).
"""
import torch
from torch import nn

from realestate_sr.utils.colour import LUMA_709, srgb_to_linear

PERCENTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
LUMA_STOPS = 12  # the log luminance range: 12 stops below white holds every non-black 8-bit sRGB level (2^-11.7)
LUMA_FLOOR = 2.0 ** -LUMA_STOPS  # added before the log: black is -12 stops, not -inf
CHROMA_FLOOR = 1e-4  # added to both means of a log ratio: a black or flat photo reads as neutral (0), not nan
CLIP_HIGH = 0.98  # sRGB values above: blown highlights (windows, lamps)
CLIP_LOW = 0.02  # sRGB values below: crushed shadows
HISTOGRAM_BINS = 16
STATISTICS_SIZE = len(PERCENTILES) + 2 + 2 + 3 + 3 + HISTOGRAM_BINS


def log2_luminance(linear):
    """N,H,W log2 of the luminance of linear-light images N,3,H,W, floored at ``-LUMA_STOPS``."""
    luminance = sum(weight * linear[:, k] for k, weight in enumerate(LUMA_709))
    return torch.log2(luminance + LUMA_FLOOR)


def sorted_percentiles(values, fractions=PERCENTILES):
    """Percentiles of N,M values (M >= 2) along the last axis for ``fractions`` in [0, 1), interpolated linearly
    between order statistics (as ``torch.quantile``'s default): a sort and a gather at positions computed from M
    as tensors, so that a traced graph keeps them exact for any thumbnail size."""
    ordered = torch.sort(values, dim=-1).values
    positions = torch.tensor(fractions, dtype=values.dtype, device=values.device) * (values.shape[-1] - 1)
    lower = positions.floor()
    weights = positions - lower
    lower = lower.long()
    low_values, high_values = ordered[..., lower], ordered[..., lower + 1]  # a fraction below 1: lower + 1 <= M - 1
    return low_values + weights * (high_values - low_values)


def chroma_log_ratios(summaries):
    """``log(R / G)``, ``log(B / G)`` of N,3 non-negative channel summaries: N,2."""
    floored = summaries + CHROMA_FLOOR
    return torch.log(floored[:, 0::2] / floored[:, 1:2])


def edge_energy(linear):
    """Per channel the mean absolute difference of neighbouring pixels, rows and columns: N,3."""
    across = (linear[..., :, 1:] - linear[..., :, :-1]).abs().mean(dim=(2, 3))
    down = (linear[..., 1:, :] - linear[..., :-1, :]).abs().mean(dim=(2, 3))
    return across + down


def soft_histogram(log_luma):
    """Fractions of N,M log2 luminances in ``HISTOGRAM_BINS`` tent-weighted bins over [-LUMA_STOPS, 0]: N,bins."""
    position = ((log_luma + LUMA_STOPS) * ((HISTOGRAM_BINS - 1) / LUMA_STOPS)).clamp(0, HISTOGRAM_BINS - 1)
    centres = torch.arange(HISTOGRAM_BINS, dtype=log_luma.dtype, device=log_luma.device).view(1, -1, 1)
    weights = (1 - (position.unsqueeze(1) - centres).abs()).clamp(min=0)
    return weights.mean(dim=-1)


def photo_statistics(thumb):
    """The statistics vector (module docstring) of sRGB thumbnails N,3,H,W in [0, 1]: N,``STATISTICS_SIZE``,
    float32 whatever the caller's autocast."""
    thumb = thumb.float().clamp(0, 1)
    linear = srgb_to_linear(thumb)
    log_luma = log2_luminance(linear).flatten(1)
    pixels = thumb.flatten(2)
    return torch.cat([
        sorted_percentiles(log_luma),
        chroma_log_ratios(linear.mean(dim=(2, 3))),
        chroma_log_ratios(edge_energy(linear)),
        (pixels > CLIP_HIGH).float().mean(dim=-1),
        (pixels < CLIP_LOW).float().mean(dim=-1),
        soft_histogram(log_luma),
    ], dim=1)


# the network's view of the vector: stops in units of 4 stops, so that every entry is of order one
INPUT_SCALE = [0.25] * len(PERCENTILES) + [1.0] * (STATISTICS_SIZE - len(PERCENTILES))


class StatisticsFiLM(nn.Module):
    """A thumbnail's ``photo_statistics`` -> per-channel scale and shift of encoder features (FiLM):
    ``features * (1 + scale) + shift``. The MLP's last layer starts at zero, so untrained it changes nothing
    and a network with it computes what the same network without it computes."""

    def __init__(self, channels, hidden=32):
        super().__init__()
        self.register_buffer('input_scale', torch.tensor(INPUT_SCALE), persistent=False)
        self.mlp = nn.Sequential(nn.Linear(STATISTICS_SIZE, hidden), nn.ReLU(), nn.Linear(hidden, 2 * channels))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def forward(self, thumb, *features):
        """Each of ``features`` (N,C or N,C,H,W) scaled and shifted by what the thumbnails' statistics decide.

        Per-channel affine maps commute with averages, so the encoder's pooled features can be modulated
        after pooling: the result equals pooling the modulated map.
        """
        scale, shift = self.mlp(photo_statistics(thumb) * self.input_scale).chunk(2, dim=1)
        return tuple(values * (1 + per_channel(scale, values)) + per_channel(shift, values) for values in features)


def per_channel(coefficients, values):
    """N,C coefficients shaped to broadcast over ``values`` (N,C or N,C,H,W)."""
    return coefficients[(..., ) + (None, ) * (values.dim() - 2)]
