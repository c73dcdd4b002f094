"""BilateralGridNet: a thumbnail of the whole photo decides a grid of local colour transforms, applied at
full resolution along a learned per-pixel guide (deep bilateral learning, HDRNet-style).

YAML (``network_g``)::

    type: BilateralGridNet
    thumb_size: 256       # side of the square thumbnail the encoder sees
    width: 16             # encoder width at thumbnail resolution (NAFBlocks; doubles per level up to max_width)
    levels: 4             # stride-2 stages: the grid is thumb_size / 2**levels cells on a side (16 for 256/4)
    blocks_per_level: 1
    max_width: 64
    grid_depth: 8         # cells along the guide (intensity) axis
    guide_hidden: 8       # hidden units of the per-pixel guide MLP (0: the guide is a learned linear mix of RGB)
    lut_basis: 0          # > 0: first apply a global image-adaptive 3D LUT mixed from this many basis LUTs
    lut_size: 17
    chunk_pixels: 524288  # pixels per chunk of the full-resolution stage without gradients

``forward(x, thumb=None, box=None)``: x is N,3,H,W RGB in [0, 1]. Without ``thumb`` x is the whole photo
and the network makes its thumbnail (``photo_thumbnail``), so whole-photo inference is ``net(x)``. A crop
of a photo passes the whole photo's thumbnail and ``box``, the crop's normalised (x0, y0, x1, y1) in the
whole photo (``whole_photo_ops.crop_box``): the grid is then sliced where the crop lies, and the output
equals that region of the whole-photo output. Every full-resolution operation is per pixel (guide, LUT,
slicing, affine), so tiles of a photo given their boxes reproduce the one-pass result exactly.

The grid holds, per cell, a 3x4 affine colour transform ``out = A[:, :3] @ rgb + A[:, 3]``. The last
layer of the grid head starts at zero weights and the identity as bias (and LUT residuals at zero), so an
untrained network returns its input. The encoder follows the caller's autocast (BF16 is fine there);
guide, slicing and colour transforms always run in float32 (a bfloat16 position would be off by up to
1/256 of the photo, ~13 px on a 3300 px side).
"""
import torch
import torch.nn.functional as F
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from realestate_sr.archs.lut3d_arch import BasisLUTs
from realestate_sr.archs.whole_photo_ops import DEFAULT_CHUNK_PIXELS, ThumbnailEncoder, apply_luts, \
    check_inputs, corner_table, photo_thumbnail, run_per_pixel, trilinear_lookup

AFFINE = 12
LUMA_601 = (0.299, 0.587, 0.114)


def identity_affine_bias(grid_depth):
    """Bias of the grid head that makes every cell the identity transform (channel = depth * 12 + k)."""
    eye = torch.eye(3, 4).reshape(AFFINE)
    return eye.repeat(grid_depth)


def slice_grid(table, grid_shape, u, v, guide):
    """Affine transforms (N,...,12) at positions u, v (normalised, N,...) and guide values (in [0, 1]).

    ``grid_shape`` is N,Gh,Gw,Gd,12, ``table`` its ``corner_table``. Cell centres sit at (i + 0.5) / G on
    each axis (``F.grid_sample``'s ``align_corners=False``), positions beyond the outer centres clamp.
    """
    _, gh, gw, gd, _ = grid_shape
    return trilinear_lookup(table, grid_shape, v * gh - 0.5, u * gw - 0.5, guide * gd - 0.5)


def apply_affine(coeffs, rgb):
    """``A[:, :3] @ rgb + A[:, 3]`` per pixel: coeffs N,...,12 (row-major 3x4), rgb N,...,3."""
    matrix = coeffs.unflatten(-1, (3, 4))
    return (matrix[..., :3] * rgb.unsqueeze(-2)).sum(-1) + matrix[..., 3]


def _cells_and_fractions(coord, samples):
    """Continuous index (border-clamped) -> (cell in [0, samples-2], fraction), as trilinear_lookup does."""
    coord = coord.clamp(0, samples - 1)
    cell = coord.floor().clamp(max=samples - 2)
    return cell.long(), coord - cell


def slice_and_apply_rows(grid, rgb, u, v, guide):
    """``apply_affine(slice_grid(...), rgb)`` for one photo's rows, without gathering per-pixel corners.

    The fast inference path (same numbers as the gather path up to float rounding). Per row the
    y-interpolation of the grid is one small lerp; along the guide axis each pixel's tent weights
    times ``[r, g, b, 1]`` form 4 * Gd splat values ``s``, and for the columns of one grid column cell
    the output is a batched matrix product of ``s`` with that cell's two column neighbours, lerped by
    the column fraction. Columns are data-independent, so their cells are contiguous ranges.

    Args: grid Gh,Gw,Gd,12 (one photo); rgb R,W,3; u W (normalised column positions, increasing);
    v R; guide R,W. Returns R,W,3.
    """
    gh, gw, gd, _ = grid.shape
    rows, width = guide.shape
    iy, fy = _cells_and_fractions(v * gh - 0.5, gh)
    grid_rows = torch.lerp(grid[iy], grid[iy + 1], fy.view(-1, 1, 1, 1))  # R,Gw,Gd,12
    # M[r, j]: 3 x (Gd*4) so that out = M @ s with s[d*4 + k] = tent_d * [r, g, b, 1]_k
    mats = grid_rows.view(rows, gw, gd, 3, 4).permute(0, 1, 3, 2, 4).reshape(rows, gw, 3, gd * 4)
    depth = (guide * gd - 0.5).clamp_(0, gd - 1)
    bins = torch.arange(gd, device=guide.device, dtype=guide.dtype)
    # in place: every temporary here is a few floats per pixel of a whole row chunk
    tents = (depth.unsqueeze(-1) - bins).abs_().neg_().add_(1).clamp_(min=0)  # R,W,Gd
    homogeneous = torch.ones(rows, width, 1, 4, device=rgb.device, dtype=rgb.dtype)
    homogeneous[..., 0, :3] = rgb
    splat = (tents.unsqueeze(-1) * homogeneous).view(rows, width, gd * 4)
    ix, fx = _cells_and_fractions(u * gw - 0.5, gw)
    out = torch.empty(rows, width, 3, device=rgb.device, dtype=rgb.dtype)
    counts = torch.bincount(ix, minlength=gw - 1).tolist()
    start = 0
    for cell, count in enumerate(counts):
        if not count:
            continue
        cols = slice(start, start + count)
        pair = torch.cat([mats[:, cell], mats[:, cell + 1]], dim=1).transpose(1, 2)  # R, Gd*4, 6
        both = torch.bmm(splat[:, cols], pair)  # R, count, 6
        out[:, cols] = torch.lerp(both[..., :3], both[..., 3:], fx[cols].view(1, -1, 1))
        start += count
    return out


class PixelGuide(nn.Module):
    """Per-pixel guide in [0, 1] (before border clamping): a learned RGB mix plus a small MLP of RGB.

    Starts as Rec.601 luma (the MLP's output layer is zero), a sensible intensity axis for the grid.
    """

    def __init__(self, hidden=8):
        super().__init__()
        self.mix = nn.Linear(3, 1)
        with torch.no_grad():
            self.mix.weight.copy_(torch.tensor([LUMA_601]))
            self.mix.bias.zero_()
        self.mlp = None
        if hidden:
            self.mlp = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, 1))
            nn.init.zeros_(self.mlp[2].weight)
            nn.init.zeros_(self.mlp[2].bias)

    def forward(self, rgb):
        guide = self.mix(rgb)
        if self.mlp is not None:
            guide = guide + self.mlp(rgb)
        return guide.squeeze(-1)


@ARCH_REGISTRY.register()
class BilateralGridNet(nn.Module):
    """Thumbnail encoder (NAFBlocks) -> local + global features -> bilateral grid of 3x4 affine colour
    transforms -> sliced per pixel along a learned guide and applied at full resolution; optionally after
    a global image-adaptive 3D LUT (``lut_basis`` > 0) mixed from the same features."""

    whole_photo = True

    def __init__(self, thumb_size=256, width=16, levels=4, blocks_per_level=1, max_width=64, grid_depth=8,
                 guide_hidden=8, lut_basis=0, lut_size=17, chunk_pixels=DEFAULT_CHUNK_PIXELS):
        super().__init__()
        if thumb_size % (2 ** levels) or thumb_size // (2 ** levels) < 2:
            raise ValueError(f'thumb_size {thumb_size} must be a multiple of 2**levels = {2 ** levels} '
                             'giving a grid of at least 2x2 cells')
        if grid_depth < 2:
            raise ValueError(f'grid_depth must be at least 2, got {grid_depth}')
        self.thumb_size = thumb_size
        self.grid_depth = grid_depth
        self.chunk_pixels = chunk_pixels
        self.encoder = ThumbnailEncoder(width, levels, blocks_per_level, max_width)
        channels = self.encoder.out_channels
        self.local_features = nn.Conv2d(channels, channels, 3, padding=1)
        self.global_features = nn.Linear(channels, channels)
        self.grid_head = nn.Conv2d(channels, grid_depth * AFFINE, 1)
        nn.init.zeros_(self.grid_head.weight)
        with torch.no_grad():
            self.grid_head.bias.copy_(identity_affine_bias(grid_depth))
        self.guide = PixelGuide(guide_hidden)
        self.lut = None
        if lut_basis:
            self.to_lut_weights = nn.Linear(channels, lut_basis)
            self.lut = BasisLUTs(lut_basis, lut_size)

    def photo_edit(self, thumb):
        """What the thumbnails decide: (grid N,Gh,Gw,Gd,12, LUTs N,D,D,D,3 or None), float32."""
        features, pooled = self.encoder(thumb)
        fused = F.leaky_relu(self.local_features(features) + self.global_features(pooled)[:, :, None, None], 0.2)
        head = self.grid_head(fused)
        n, _, gh, gw = head.shape
        grid = head.float().view(n, self.grid_depth, AFFINE, gh, gw).permute(0, 3, 4, 1, 2).contiguous()
        luts = None
        if self.lut is not None:
            weights = self.to_lut_weights(pooled)
            with torch.autocast(thumb.device.type, enabled=False):
                luts = self.lut.mix(weights.float())
        return grid, luts

    def forward(self, x, thumb=None, box=None):
        check_inputs(x, thumb, box, self.thumb_size)
        if thumb is None:
            thumb = photo_thumbnail(x, self.thumb_size)
        grid, luts = self.photo_edit(thumb)
        with torch.autocast(x.device.type, enabled=False):
            grid_table = corner_table(grid)
            lut_table = corner_table(luts) if luts is not None else None

            fast = not (torch.is_grad_enabled() or torch.jit.is_tracing())

            def edit(rgb, u, v):
                if luts is not None:
                    rgb = apply_luts(luts, rgb, lut_table)
                guide = self.guide(rgb)
                if fast:
                    return torch.stack([slice_and_apply_rows(grid[n], rgb[n], u[n, 0], v[n, :, 0], guide[n])
                                        for n in range(rgb.shape[0])])
                return apply_affine(slice_grid(grid_table, grid.shape, u, v, guide), rgb)

            return run_per_pixel(edit, x, box, self.chunk_pixels)
