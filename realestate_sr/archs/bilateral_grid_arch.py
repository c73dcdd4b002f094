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
    gain_cells: 0         # > 0: a smooth per-channel gain over the frame, gain_cells x gain_cells (below)
    stats_input: false    # true: the thumbnail's photo statistics scale and shift the encoder's features (below)
    chunk_pixels: 524288  # pixels per chunk of the full-resolution stage without gradients

``forward(x, thumb=None, box=None, strength=None)``: x is N,3,H,W RGB in [0, 1]. Without ``thumb`` x is the whole
photo and the network makes its thumbnail (``photo_thumbnail``), so whole-photo inference is ``net(x)``. A crop of a
photo passes the whole photo's thumbnail and ``box``, the crop's normalised (x0, y0, x1, y1) in the whole photo
(``whole_photo_ops.crop_box``): the grid is then sliced where the crop lies, and the output equals that region of the
whole-photo output. Every full-resolution operation is per pixel (guide, LUT, slicing, affine), so tiles of a photo
given their boxes reproduce the one-pass result exactly.

The grid holds, per cell, a 3x4 affine colour transform ``out = A[:, :3] @ rgb + A[:, 3]`` of the photo's sRGB
values. The last layer of the grid head starts at zero weights and the identity as bias (and LUT residuals at
zero), so an untrained network returns its input. The encoder follows the caller's autocast (BF16 is fine
there); guide, slicing and colour transforms always run in float32 (a bfloat16 position would be off by up to
1/256 of the photo, ~13 px on a 3300 px side).

``gain_cells: k`` adds a light map: k x k per-channel log gains decided from the pooled features, bilinearly
spread over the grid's cells and multiplied into each cell's transforms (all guide bins alike), so the edit's
output is scaled by a smooth gain field. Every cell could learn that itself; the map makes light that changes
across the frame a few numbers instead of a pattern repeated in every cell and bin. Its head starts at zero
(gain 1), so identity initialisation holds.

``stats_input: true`` gives the encoder the facts an editor reads first, which a small encoder trained on a few
hundred photos would otherwise have to rediscover: ``photo_statistics`` of the thumbnail (luminance percentiles in
linear light, grey-world and grey-edge white, clipped fractions, a coarse histogram) through a small MLP
(``StatisticsFiLM``) to a per-channel scale and shift of the encoder's last features and their average. Its
last layer starts at zero: untrained, the network computes what it computes without the option. The statistics
come from the thumbnail alone, so crops and tiles still equal the one-pass result.

``strength`` (0..1, ``WholePhotoNetwork``) moves the edit toward the identity before it is applied: every
cell's transforms A -> (1 - s) [I | 0] + s A (the light map is folded into them), the global LUT ->
(1 - s) identity + s LUT. Slicing and the affine product are linear in A, so for a grid alone this equals the
pixel blend (1 - s) x + s y; after a LUT it does not.
"""
import torch
import torch.nn.functional as F
from torch import nn

from realestate_sr.archs.lut3d_arch import BasisLUTs, lut_lookup
from realestate_sr.archs.photo_statistics import StatisticsFiLM
from realestate_sr.archs.whole_photo_ops import (
    DEFAULT_CHUNK_PIXELS,
    ThumbnailEncoder,
    WholePhotoNetwork,
    corner_table,
    full_precision,
    per_view,
    pixel_positions,
    rows_per_chunk,
    run_per_pixel,
    trilinear_lookup,
)
from realestate_sr.utils.colour import LUMA_601

from basicsr.utils.registry import ARCH_REGISTRY

AFFINE = 12


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


def slice_and_apply_rows(grid, rgb, u, v, guide, out=None):
    """``apply_affine(slice_grid(...), rgb)`` for rows of one photo, without gathering per-pixel corners.

    The fast inference path (the same numbers as the gather path up to float rounding), channels first.
    Per row the y-interpolation of the grid is one small lerp; along the guide axis each pixel's tent
    weights times ``[r, g, b, 1]`` form 4 * Gd splat values ``s``, and for the columns of one grid column
    cell the output is a batched matrix product of that cell's two column neighbours with ``s``, lerped by
    the column fraction. Column positions do not depend on the data, so their cells are contiguous ranges.

    Args: grid Gh,Gw,Gd,12 (one photo); rgb 3,R,W; u W (normalised column positions, increasing);
    v R; guide R,W; out: an optional 3,R,W tensor to write into. Returns 3,R,W.
    """
    gh, gw, gd, _ = grid.shape
    rows, width = guide.shape
    iy, fy = _cells_and_fractions(v * gh - 0.5, gh)
    grid_rows = torch.lerp(grid[iy], grid[iy + 1], fy.view(-1, 1, 1, 1))  # R,Gw,Gd,12
    # mats[r, j]: 3 x (Gd*4) so that out = mats @ s with s[d*4 + k] = tent_d * [r, g, b, 1]_k
    mats = grid_rows.view(rows, gw, gd, 3, 4).permute(0, 1, 3, 2, 4).reshape(rows, gw, 3, gd * 4)
    depth = (guide * gd - 0.5).clamp_(0, gd - 1)
    bins = torch.arange(gd, device=guide.device, dtype=guide.dtype).view(1, gd, 1)
    # written in place into the splat buffer: each temporary here would be several floats per pixel
    splat = torch.empty(rows, gd, 4, width, device=rgb.device, dtype=rgb.dtype)
    tents = splat[:, :, 3]  # R,Gd,W: the weight of each depth sample, 1 - distance in cells
    torch.sub(depth.unsqueeze(1), bins, out=tents).abs_().neg_().add_(1).clamp_(min=0)
    torch.mul(tents.unsqueeze(2), rgb.permute(1, 0, 2).unsqueeze(1), out=splat[:, :, :3])
    splat = splat.view(rows, gd * 4, width)
    ix, fx = _cells_and_fractions(u * gw - 0.5, gw)
    if out is None:
        out = torch.empty(3, rows, width, device=rgb.device, dtype=rgb.dtype)
    out_rows = out.permute(1, 0, 2)
    start = 0
    for cell, count in enumerate(torch.bincount(ix, minlength=gw - 1).tolist()):
        if not count:
            continue
        cols = slice(start, start + count)
        pair = torch.cat([mats[:, cell], mats[:, cell + 1]], dim=1)  # R,6,Gd*4: left and right neighbours
        both = torch.bmm(pair, splat[:, :, cols])  # R,6,count
        out_rows[:, :, cols] = torch.lerp(both[:, :3], both[:, 3:], fx[cols])
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
        """Guide of N,...,3 pixels: N,..."""
        guide = self.mix(rgb)
        if self.mlp is not None:
            guide = guide + self.mlp(rgb)
        return guide.squeeze(-1)

    def planes(self, rgb):
        """The same guide of a 3,R,W channels-first chunk: R,W (matrix products over the pixel planes)."""
        flat = rgb.reshape(3, -1)
        guide = torch.addmm(self.mix.bias.view(1, 1), self.mix.weight, flat)
        if self.mlp is not None:
            hidden = torch.addmm(self.mlp[0].bias.view(-1, 1), self.mlp[0].weight, flat).relu_()
            guide = guide + torch.addmm(self.mlp[2].bias.view(1, 1), self.mlp[2].weight, hidden)
        return guide.view(rgb.shape[1:])


@ARCH_REGISTRY.register()
class BilateralGridNet(WholePhotoNetwork):
    """Thumbnail encoder (NAFBlocks) -> local + global features -> bilateral grid of 3x4 affine colour
    transforms -> sliced per pixel along a learned guide and applied at full resolution; optionally after
    a global image-adaptive 3D LUT (``lut_basis`` > 0) mixed from the same features."""

    def __init__(self, thumb_size=256, width=16, levels=4, blocks_per_level=1, max_width=64, grid_depth=8,
                 guide_hidden=8, lut_basis=0, lut_size=17, gain_cells=0,
                 chunk_pixels=DEFAULT_CHUNK_PIXELS, stats_input=False):
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
        self.gain_cells = int(gain_cells)
        self.light_head = None
        if self.gain_cells:
            self.light_head = nn.Conv2d(channels, 3, 1)
            nn.init.zeros_(self.light_head.weight)
            nn.init.zeros_(self.light_head.bias)
        self.guide = PixelGuide(guide_hidden)
        self.lut = None
        if lut_basis:
            self.to_lut_weights = nn.Linear(channels, lut_basis)
            self.lut = BasisLUTs(lut_basis, lut_size)
        # built last: the other layers draw the same initial weights with the option on or off
        self.stats_film = StatisticsFiLM(channels) if stats_input else None

    def photo_edit(self, thumb):
        """What the thumbnails decide, float32: (grid N,Gh,Gw,Gd,12,) or, with ``lut_basis``, (grid, LUTs
        N,D,D,D,3). ``apply_edit(x, box, *edit)`` applies it; the exported ONNX graph runs the two apart."""
        features, pooled = self.encoder(thumb)
        if self.stats_film is not None:
            features, pooled = self.stats_film(thumb, features, pooled)
        fused = F.leaky_relu(self.local_features(features) + self.global_features(pooled)[:, :, None, None], 0.2)
        head = self.grid_head(fused)
        n, _, gh, gw = head.shape
        grid = head.float().view(n, self.grid_depth, AFFINE, gh, gw).permute(0, 3, 4, 1, 2).contiguous()
        if self.light_head is not None:
            grid = grid * self.light_map(self.light_head(F.adaptive_avg_pool2d(fused, self.gain_cells)), (gh, gw))
        luts = None
        if self.lut is not None:
            luts = self.lut.mix(self.to_lut_weights(pooled))
        return (grid, ) if luts is None else (grid, luts)

    @staticmethod
    def light_map(light_logits, cells):
        """Per-cell gains N,Gh,Gw,1,12 of the light map: each output channel's row of the affine transforms
        scaled by that channel's gain."""
        gains = torch.exp(F.interpolate(light_logits.float(), size=cells, mode='bilinear', align_corners=False))
        n, _, gh, gw = gains.shape
        return gains.permute(0, 2, 3, 1).unsqueeze(-1).expand(n, gh, gw, 3, AFFINE // 3).reshape(n, gh, gw, 1, AFFINE)

    def identity_edit(self, edit):
        """Identity transforms in every cell (and the identity LUT), expanded views shaped like ``edit``."""
        grid = edit[0]
        identity = (torch.eye(3, 4, device=grid.device, dtype=grid.dtype).reshape(AFFINE).expand_as(grid), )
        if len(edit) > 1:
            identity += (BasisLUTs.identity_like(edit[1]), )
        return identity

    def apply_edit(self, x, box, grid, luts=None):
        """The full-resolution stage: ``photo_edit``'s grid (and LUTs) applied to x (views as in ``forward``)."""
        grid, luts = (per_view(values, x.shape[0]) for values in (grid, luts))
        with full_precision(x.device):
            if not (torch.is_grad_enabled() or torch.jit.is_tracing()):
                return self._apply_in_row_chunks(x, box, grid, luts)
            look_up = lut_lookup(luts) if luts is not None else None
            if torch.jit.is_tracing():
                return self._apply_by_gather(x, box, grid, look_up)
            return self._apply_with_gradients(x, box, grid, look_up)

    def _apply_by_gather(self, x, box, grid, look_up):
        """Tracing (the exported graph): each pixel's coefficients from the 8 corners of its cell (``slice_grid``)."""
        grid_table = corner_table(grid)

        def edit(rgb, u, v):
            if look_up is not None:
                rgb = look_up(rgb)
            return apply_affine(slice_grid(grid_table, grid.shape, u, v, self.guide(rgb)), rgb)

        return run_per_pixel(edit, x, box, self.chunk_pixels)

    def _apply_with_gradients(self, x, box, grid, look_up):
        """Training: the full-resolution stage in one piece, the grid sliced by ``F.grid_sample`` channels first.

        The same numbers as the gather path (``slice_grid``, which the exported graph keeps: ONNX GridSample is
        2-D before opset 20) up to float rounding, with a backward 3-4x faster on CPU: the gather path's
        gradient flows through 8 corners x 12 coefficients per pixel and zero-fills a tensor of that size for
        each corner it selects. ``align_corners=False`` puts cell centres at (i + 0.5) / G and ``border``
        clamps beyond the outer centres, as ``slice_grid`` does.
        """
        n, _, height, width = x.shape
        u, v = pixel_positions(box, 0, height, height, width, n, x.device)
        rgb = x.float().permute(0, 2, 3, 1).clamp(0, 1)
        if look_up is not None:
            rgb = look_up(rgb)
        guide = self.guide(rgb)
        positions = torch.stack([(u * 2 - 1).expand_as(guide), (v * 2 - 1).expand_as(guide), guide * 2 - 1], -1)
        volume = grid.permute(0, 4, 3, 1, 2)  # N,12,Gd,Gh,Gw: grid_sample's x, y, z are columns, rows, guide
        coeffs = F.grid_sample(volume, positions.unsqueeze(1), mode='bilinear', padding_mode='border',
                               align_corners=False).view(n, 3, 4, height, width)
        rgb1 = torch.cat([rgb.permute(0, 3, 1, 2), torch.ones_like(guide).unsqueeze(1)], 1)
        return (coeffs * rgb1.unsqueeze(1)).sum(2)

    def _apply_in_row_chunks(self, x, box, grid, luts):
        """Inference: the full-resolution stage photo by photo, ``chunk_pixels`` at a time, channels first."""
        n, _, height, width = x.shape
        step = rows_per_chunk(width, self.chunk_pixels) if self.chunk_pixels else height
        out = torch.empty(n, 3, height, width, device=x.device, dtype=torch.float32)
        for index in range(n):
            look_up = lut_lookup(luts[index:index + 1]) if luts is not None else None
            for top in range(0, height, step):
                count = min(step, height - top)
                u, v = pixel_positions(None if box is None else box[index:index + 1], top, count, height, width, 1,
                                       x.device)
                rgb = x[index, :, top:top + count].float().clamp(0, 1)
                if luts is not None:
                    looked_up = look_up(rgb.permute(1, 2, 0)[None])
                    rgb = looked_up[0].permute(2, 0, 1).contiguous()
                slice_and_apply_rows(grid[index], rgb, u.view(-1), v.view(-1), self.guide.planes(rgb),
                                     out=out[index, :, top:top + count])
        return out
