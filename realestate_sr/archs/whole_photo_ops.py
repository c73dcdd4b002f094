"""Shared pieces of the whole-photo edit networks (``lut3d_arch.py``, ``bilateral_grid_arch.py``).

These networks decide the edit from a thumbnail of the whole photo and apply it
pixel by pixel at full resolution. Conventions kept by every function here:

* images are N,C,H,W float in [0, 1], RGB;
* a crop's position in its whole photo is a ``box``: an N,4 tensor
  ``(x0, y0, x1, y1)`` of normalised coordinates (0 = left/top edge, 1 =
  right/bottom edge of the whole photo). Pixel ``(i, j)`` of an h x w crop sits
  at ``u = x0 + (j + 0.5) / w * (x1 - x0)``, ``v = y0 + (i + 0.5) / h * (y1 - y0)``;
  the whole photo is the box ``(0, 0, 1, 1)``, and a crop of rows
  ``top:top+h`` and columns ``left:left+w`` of an H x W photo is
  ``(left / W, top / H, (left + w) / W, (top + h) / H)`` (``crop_box``);
* lookups in small volumes (3D LUTs, bilateral grids) are trilinear, with
  the border clamping of ``F.grid_sample(padding_mode='border')``. They are
  written as one gather of each pixel's 8 cell corners from a precomputed
  corner table, not with ``F.grid_sample``: on a 2-core CPU the 3-D
  ``grid_sample`` kernel took 1.1 s (3 channels) and 3.9 s (12 channels) per
  3300x2200 photo, and it does not export to ONNX below opset 20 (training
  the grid uses it: its backward is the faster one, ``BilateralGridNet``).

Every whole-photo network subclasses ``WholePhotoNetwork``: ``photo_edit(thumb)`` decides the edit (a tuple
of tensors, one entry per photo), ``apply_edit(x, box, *edit)`` applies it, ``identity_edit(edit)`` is the
edit that changes nothing, and ``forward(x, thumb, box, strength)`` runs the three. ``strength`` in [0, 1]
moves the edit itself toward the identity (0: the input, 1 or None: the network's edit), so a partial
strength is the same transforms scaled back at every pixel, in bands and tiles alike.

The per-pixel stage runs in row chunks of at most ``chunk_pixels`` pixels when
no gradient is needed, so the memory of a whole-photo forward is the input, the
output and one chunk's intermediates. While tracing (ONNX export) it runs in
one piece, so the graph keeps dynamic sizes (``inference.onnx_export``); the
ONNX runner (``inference.onnx_runner``) bounds its memory by feeding the graph
bands of the photo with their boxes.
"""
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from realestate_sr.archs.nafnet_blocks import NAFBlock

THUMB_SUPERSAMPLE = 4
DEFAULT_CHUNK_PIXELS = 1 << 19


class WholePhotoInputError(ValueError):
    """The inputs of a whole-photo network do not fit together (thumbnail, box, image)."""


class StrengthError(ValueError):
    """An edit strength that is not a number in [0, 1], or one a backend cannot apply."""


STRENGTH_RANGE = (0.0, 1.0)


def check_strength(strength):
    """``strength`` as a float in ``STRENGTH_RANGE``; StrengthError for anything else (nan, 1.5, 'abc')."""
    low, high = STRENGTH_RANGE
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise StrengthError(f'strength must be a number in [{low:g}, {high:g}], got {strength!r}') from None
    if not low <= value <= high:  # also refuses nan
        raise StrengthError(f'strength must be a number in [{low:g}, {high:g}], got {strength!r}')
    return value


def full_precision(device):
    """A context where autocast is off on ``device``; nothing on the meta device (shapes only, as the MAC count
    runs networks), where autocast does not exist."""
    return nullcontext() if device.type == 'meta' else torch.autocast(device.type, enabled=False)


def photo_thumbnail(img, size):
    """A ``size`` x ``size`` thumbnail of whole photos ``img`` (N,C,H,W), aspect ratio not kept.

    Bilinear samples on a grid ``THUMB_SUPERSAMPLE`` times finer, then averaged in
    blocks: a cheap anti-aliased downscale (16 samples per thumbnail pixel) that
    exports to ONNX with dynamic input sizes, unlike ``antialias=True``. The
    training dataset calls this same function, so training and inference see
    the same thumbnails.
    """
    fine = F.interpolate(img, size=(size * THUMB_SUPERSAMPLE, size * THUMB_SUPERSAMPLE), mode='bilinear',
                         align_corners=False)
    return F.avg_pool2d(fine, THUMB_SUPERSAMPLE)


def crop_box(top, left, height, width, photo_height, photo_width):
    """The normalised ``(x0, y0, x1, y1)`` box of a crop, as a float32 tensor of 4 values."""
    return torch.tensor([left / photo_width, top / photo_height, (left + width) / photo_width,
                         (top + height) / photo_height], dtype=torch.float32)


def check_inputs(x, thumb, box, thumb_size):
    """Validate the ``forward(x, thumb, box)`` arguments of a whole-photo network.

    ``thumb`` holds one thumbnail per photo; ``x`` (and ``box``) may hold several views of each, laid out
    photo after photo and then again (view ``i`` belongs to photo ``i % len(thumb)``), so that training can
    cut several crops of a photo while its thumbnail is encoded once (``per_view``).
    """
    if x.dim() != 4 or x.shape[1] != 3:
        raise WholePhotoInputError(f'expected N,3,H,W RGB input, got shape {tuple(x.shape)}')
    if box is not None and thumb is None:
        raise WholePhotoInputError('a crop (box given) needs the thumbnail of its whole photo (thumb)')
    if thumb is not None and (thumb.dim() != 4 or not thumb.shape[0] or x.shape[0] % thumb.shape[0]
                              or thumb.shape[1] != 3 or tuple(thumb.shape[-2:]) != (thumb_size, thumb_size)):
        raise WholePhotoInputError(f'thumb must be N,3,{thumb_size},{thumb_size} (photo_thumbnail of the whole '
                                   f'photo; the input may hold k views of each of the N photos), got '
                                   f'{tuple(thumb.shape)} for input {tuple(x.shape)}')
    if box is not None and tuple(box.shape) != (x.shape[0], 4):
        raise WholePhotoInputError(f'box must be N,4 (x0, y0, x1, y1), got {tuple(box.shape)}')


def per_view(photo_values, views):
    """Per-photo values (N,...) repeated for ``views`` inputs laid out as ``check_inputs`` says; None stays None."""
    if photo_values is None or photo_values.shape[0] == views:
        return photo_values
    return photo_values.repeat(views // photo_values.shape[0], *([1] * (photo_values.dim() - 1)))


def pixel_positions(box, top, count, height, width, n, device):
    """Normalised positions of the pixels of rows ``top`` to ``top + count`` of N crops of ``height`` x ``width``.

    Returns (u, v): N,1,W and N,R,1 tensors (broadcastable to N,R,W).
    """
    cols = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    # arange(count) + top, not arange(top, top + count): traced, the sizes stay dynamic
    ys = (torch.arange(count, device=device, dtype=torch.float32) + (top + 0.5)) / height
    if box is None:
        return cols.expand(n, 1, width), ys.view(1, -1, 1).expand(n, -1, 1)
    box = box.float()
    x0, y0, x1, y1 = (box[:, k].view(-1, 1) for k in range(4))
    u = x0 + cols.view(1, -1) * (x1 - x0)
    v = y0 + ys.view(1, -1) * (y1 - y0)
    return u.unsqueeze(1), v.unsqueeze(2)


# ------------------------------------------------------------------------------------------ trilinear lookups

def corner_table(volume):
    """Corner table of volumes N,A,B,C,ch: row ``((n * (A-1) + a) * (B-1) + b) * (C-1) + c`` holds the 8
    corners of cell (a, b, c), in the order (da, db, dc) = (0,0,0), (0,0,1), ..., (1,1,1), each ``ch`` values.

    Shape ``(N * (A-1) * (B-1) * (C-1), 8 * ch)``; volumes need at least 2 samples per axis.
    """
    n, a, b, c, ch = volume.shape
    corners = [volume[:, da:a - 1 + da, db:b - 1 + db, dc:c - 1 + dc] for da in (0, 1) for db in (0, 1)
               for dc in (0, 1)]
    return torch.stack(corners, dim=-2).reshape(-1, 8 * ch)


def _cell_and_fraction(coord, samples):
    """Continuous index in [0, samples-1] (clamped: border mode) -> (cell index as float, fraction in [0, 1])."""
    coord = coord.clamp(0, samples - 1)
    cell = coord.floor().clamp_(max=samples - 2)
    return cell, coord - cell


def lerp(start, end, weight):
    """``torch.lerp``; while tracing ``start + weight * (end - start)``: ONNX has no lerp, and the exporter's
    form of it (both formulas and a Where on ``weight < 0.5``) made the lookups 2-3x slower in ONNX Runtime."""
    if torch.jit.is_tracing():
        return start + weight * (end - start)
    return torch.lerp(start, end, weight)


def trilinear_lookup(table, shape, coord_a, coord_b, coord_c):
    """Trilinear interpolation in N volumes of shape N,A,B,C,ch at per-pixel continuous indices.

    Args:
        table: ``corner_table(volume)``.
        shape: ``volume.shape`` (N, A, B, C, ch).
        coord_a, coord_b, coord_c: N,... tensors of continuous indices along A, B, C (0 = first sample,
            A-1 = last); outside values clamp to the border.

    Returns:
        N,...,ch tensor.
    """
    n, a, b, c, ch = shape
    ia, fa = _cell_and_fraction(coord_a, a)
    ib, fb = _cell_and_fraction(coord_b, b)
    ic, fc = _cell_and_fraction(coord_c, c)
    batch = torch.arange(n, device=ia.device, dtype=ia.dtype).view(-1, *([1] * (ia.dim() - 1)))
    # row numbers in float are exact below 2**24 rows (a 33^3 LUT for 500 photos); long beyond
    dtype = ia.dtype if table.shape[0] < 2 ** 24 else torch.float64
    index = ((batch.to(dtype) * (a - 1) + ia.to(dtype)) * (b - 1) + ib.to(dtype)) * (c - 1) + ic.to(dtype)
    corners = table.index_select(0, index.reshape(-1).long()).view(-1, 2, 2, 2, ch)
    # three lerps, one per axis, fewer passes than 8 weights and a weighted sum
    corners = lerp(corners[:, 0], corners[:, 1], fa.reshape(-1, 1, 1, 1))
    corners = lerp(corners[:, 0], corners[:, 1], fb.reshape(-1, 1, 1))
    out = lerp(corners[:, 0], corners[:, 1], fc.reshape(-1, 1))
    return out.view(*ia.shape, ch)


def identity_lut(size, device=None, dtype=torch.float32):
    """The identity 3D LUT as a size,size,size,3 volume indexed [b, g, r] with RGB values."""
    ramp = torch.linspace(0, 1, size, device=device, dtype=dtype)
    b, g, r = torch.meshgrid(ramp, ramp, ramp, indexing='ij')
    return torch.stack([r, g, b], dim=-1)


def apply_luts(luts, rgb, table=None):
    """Look up N,...,3 RGB pixels (in [0, 1]) in N 3D LUTs (N,D,D,D,3 indexed [b, g, r]); returns N,...,3.

    ``table``: ``corner_table(luts)`` when the caller reuses it over several chunks.
    """
    size = luts.shape[1]
    scaled = rgb * (size - 1)
    table = corner_table(luts) if table is None else table
    return trilinear_lookup(table, luts.shape, scaled[..., 2], scaled[..., 1], scaled[..., 0])


# ------------------------------------------------------------------------------------------ per-pixel driver

def rows_per_chunk(width, chunk_pixels):
    return max(1, chunk_pixels // max(1, width))


def run_per_pixel(fn, x, box, chunk_pixels):
    """Apply ``fn(rgb, u, v) -> rgb`` to every pixel of ``x`` (N,3,H,W); rgb is N,R,W,3, u and v N,R,W.

    Row chunks of at most ``chunk_pixels`` pixels when no gradient is recorded (bounded memory); in one
    piece while training (crops are small) and while tracing (dynamic sizes in the exported graph).
    """
    n, _, height, width = x.shape
    one_piece = torch.is_grad_enabled() or torch.jit.is_tracing() or not chunk_pixels
    step = height if one_piece else rows_per_chunk(width, chunk_pixels)
    if step >= height:
        u, v = pixel_positions(box, 0, height, height, width, n, x.device)
        rgb = x.float().permute(0, 2, 3, 1).clamp(0, 1)
        return fn(rgb, u.expand(n, height, width), v.expand(n, height, width)).permute(0, 3, 1, 2)
    out = torch.empty(n, 3, height, width, device=x.device, dtype=torch.float32)
    for top in range(0, height, step):
        count = min(step, height - top)
        u, v = pixel_positions(box, top, count, height, width, n, x.device)
        rgb = x[:, :, top:top + count].float().permute(0, 2, 3, 1).clamp(0, 1)
        shape = rgb.shape[:3]
        out[:, :, top:top + count] = fn(rgb, u.expand(shape), v.expand(shape)).permute(0, 3, 1, 2)
    return out


# ------------------------------------------------------------------------------------------ thumbnail encoder

class ThumbnailEncoder(nn.Module):
    """Features of a thumbnail: a 3x3 conv, then ``levels`` stages of (2x2 stride-2 conv, NAFBlocks).

    Channels double at each stage up to ``max_width``. Returns the last feature map
    (N, ``out_channels``, S / 2**levels, S / 2**levels) and its global average (N, ``out_channels``).
    NAFBlocks carry their own global channel attention, so every stage sees the whole photo.
    """

    def __init__(self, width=16, levels=4, blocks_per_level=1, max_width=64):
        super().__init__()
        self.intro = nn.Conv2d(3, width, 3, padding=1)
        stages = []
        channels = width
        for _ in range(levels):
            out = min(channels * 2, max_width)
            blocks = [NAFBlock(out) for _ in range(blocks_per_level)]  # drawn before the conv: weights as trained
            stages.append(nn.Sequential(nn.Conv2d(channels, out, 2, stride=2), *blocks))
            channels = out
        self.stages = nn.Sequential(*stages)
        self.out_channels = channels

    def forward(self, thumb):
        features = self.stages(self.intro(thumb))
        return features, features.mean(dim=(2, 3))


# ------------------------------------------------------------------------------------------ the network contract

def toward_identity(value, identity, strength):
    """``identity + strength * (value - identity)``: ``strength`` a float or one value per photo (N,); exact at
    0 and 1 (``torch.lerp``) outside tracing."""
    if torch.is_tensor(strength):
        strength = strength.to(value.dtype).view(-1, *([1] * (value.dim() - 1)))
    return lerp(identity.expand_as(value), value, strength)


def is_whole_photo(net):
    """Whether ``net`` (a network or an architecture class; None: no) declares ``whole_photo = True``: it sees the
    whole photo in one pass, so tiling does not apply to it and training gives it thumbnails and boxes."""
    return bool(getattr(net, 'whole_photo', False))


class WholePhotoNetwork(nn.Module):
    """What every whole-photo network shares: ``forward(x, thumb=None, box=None, strength=None)``.

    Subclasses set ``thumb_size`` and define ``photo_edit(thumb)`` (a tuple of per-photo tensors),
    ``apply_edit(x, box, *edit)`` and ``identity_edit(edit)`` (the edit that returns its input, shaped like
    ``edit``; its tensors may be expanded views).
    """

    whole_photo = True

    def identity_edit(self, edit):
        raise NotImplementedError

    def edit_at_strength(self, edit, strength=None):
        """``edit`` moved toward ``identity_edit`` part by part: strength 0 is the identity, 1 ``edit`` itself.

        ``strength``: None (1), a float, or a tensor of one value per photo (the exported graph's input).
        """
        if strength is None:
            return tuple(edit)
        if not torch.is_tensor(strength):
            if check_strength(strength) == 1.0:
                return tuple(edit)
        elif not torch.jit.is_tracing():
            if strength.dim() != 1 or strength.shape[0] != edit[0].shape[0]:
                raise StrengthError(f'expected one strength per photo ({edit[0].shape[0]}), got shape '
                                    f'{tuple(strength.shape)}')
            for value in strength.tolist():
                check_strength(value)
        return tuple(toward_identity(value, identity, strength)
                     for value, identity in zip(edit, self.identity_edit(edit)))

    # None, not 1.0, by default: torch.onnx.export turns a number default into a graph input
    def forward(self, x, thumb=None, box=None, strength=None):
        check_inputs(x, thumb, box, self.thumb_size)
        if thumb is None:
            thumb = photo_thumbnail(x, self.thumb_size)
        return self.apply_edit(x, box, *self.edit_at_strength(self.photo_edit(thumb), strength))
