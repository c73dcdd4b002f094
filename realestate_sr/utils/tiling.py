"""Tiled inference: run an image-to-image network on overlapping tiles and blend them.

The one tiling helper of the project, called by ``realestate_sr.inference.enhancer.Enhancer``, through
which validation during training, the full-resolution evaluation, ``scripts/tiled_infer.py``, the ONNX
backend and the benchmarks run networks. The image and the blended result stay on the CPU (or
wherever ``img`` lives) in float32; only ``tile_batch`` tiles at a time visit
the network's device, so device memory is set by the tile batch, not by the
photo size.

Blending: each tile is weighted by a raised-cosine ramp across the ``overlap``
pixels it shares with a neighbour (zero on the outer quarter, where the tile
lacks context) and by 1 elsewhere, also along the image border, which no other
tile covers. Complementary ramps sum to one, so a network whose receptive field
radius fits in ``overlap // 4`` gives the same result tiled as whole.
"""
import math
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from realestate_sr.utils.cli_flags import TILE_DEFAULTS


def tile_starts(length, tile, stride):
    """Start offsets of tiles of size ``tile`` covering ``[0, length)``; the last tile ends at ``length``."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def blend_ramp(length, overlap, ramp_start, ramp_end, dtype=torch.float32):
    """1-D blending weights of one tile side.

    On a side shared with a neighbour (``ramp_start`` / ``ramp_end``) the
    ``overlap`` pixels get: 0 on the outer quarter (where the tile lacks context),
    a raised-cosine ramp over the middle half, 1 on the inner quarter. The
    neighbour's weights mirror these, so the two sum to exactly 1. Sides on the
    image border keep weight 1.
    """
    weights = torch.ones(length, dtype=dtype)
    overlap = min(overlap, length // 2)
    margin = overlap // 4
    ramp_len = overlap - 2 * margin
    if overlap > 0:
        steps = (torch.arange(ramp_len, dtype=torch.float64) + 0.5) / ramp_len
        rise = torch.cat([torch.zeros(margin, dtype=torch.float64), 0.5 - 0.5 * torch.cos(math.pi * steps),
                          torch.ones(margin, dtype=torch.float64)]).to(dtype)
        if ramp_start:
            weights[:overlap] = rise
        if ramp_end:
            weights[-overlap:] = rise.flip(0)
    return weights


def _check_args(img, tile_size, overlap, tile_batch):
    if img.dim() != 4 or img.shape[0] != 1:
        raise ValueError(f'tiled_forward expects one image of shape 1,C,H,W, got {tuple(img.shape)}')
    if tile_size <= 0 or tile_batch <= 0:
        raise ValueError(f'tile_size and tile_batch must be positive, got {tile_size} and {tile_batch}')
    if not 0 <= overlap < tile_size:
        raise ValueError(f'overlap must be in [0, tile_size), got overlap={overlap} for tile_size={tile_size}')


def tiled_forward(run_batch, img, tile_size=TILE_DEFAULTS['size'], overlap=TILE_DEFAULTS['overlap'],
                  tile_batch=TILE_DEFAULTS['batch'], border_pad=TILE_DEFAULTS['border_pad'], device=None,
                  progress=None):
    """Apply ``run_batch`` to ``img`` tile by tile and return the blended float32 result.

    Args:
        run_batch (callable): Maps an N,C,h,w float tensor on ``device`` to an
            N,C',h,w tensor (same spatial size), e.g. ``make_torch_runner(net, ...)``.
        img (Tensor): 1,C,H,W image, float, any device (usually CPU).
        tile_size (int): Tile side in pixels; images smaller than a tile run whole.
        overlap (int): Pixels shared by neighbouring tiles and blended.
        tile_batch (int): Tiles per call of ``run_batch``.
        border_pad (int): Reflect-pad the image by this many pixels before tiling
            and crop them off after, so border pixels get context like interior
            ones. 0 keeps the result identical to whole-image inference at the
            border (the network then zero-pads there, as it does on a whole image).
        device (torch.device | str | None): Where tiles are sent; default: ``img.device``.
        progress (callable | None): ``progress(tiles_done, tiles_total)`` after each tile batch.

    Returns:
        Tensor: 1,C',H,W float32 on ``img.device``.
    """
    _check_args(img, tile_size, overlap, tile_batch)
    return tiled_forward_many(run_batch, [img], tile_size, overlap, tile_batch, border_pad, device, progress)[0]


class _TiledImage:
    """One image cut into tiles: its padded pixels, tile boxes, and the blended sums while tiles come back."""

    def __init__(self, img, tile_size, overlap, border_pad):
        self.height, self.width = img.shape[-2:]
        self.pad = min(border_pad, self.height - 1, self.width - 1) if border_pad > 0 else 0
        if self.pad:
            img = F.pad(img, (self.pad, ) * 4, mode='reflect')
        self.img, self.overlap = img, overlap
        self.padded_h, self.padded_w = img.shape[-2:]
        self.tile_h, self.tile_w = min(tile_size, self.padded_h), min(tile_size, self.padded_w)
        ys = tile_starts(self.padded_h, self.tile_h, tile_size - overlap)
        xs = tile_starts(self.padded_w, self.tile_w, tile_size - overlap)
        self.boxes = [(y, x) for y in ys for x in xs]
        self.output = None
        self.weight_sum = torch.zeros(1, 1, self.padded_h, self.padded_w, dtype=torch.float32, device=img.device)

    def tile(self, box):
        y, x = box
        return self.img[:, :, y:y + self.tile_h, x:x + self.tile_w]

    def add(self, box, tile_out):
        y, x = box
        if self.output is None:
            self.output = torch.zeros(1, tile_out.shape[0], self.padded_h, self.padded_w, dtype=torch.float32,
                                      device=self.img.device)
        wy = blend_ramp(self.tile_h, self.overlap, y > 0, y + self.tile_h < self.padded_h).to(self.img.device)
        wx = blend_ramp(self.tile_w, self.overlap, x > 0, x + self.tile_w < self.padded_w).to(self.img.device)
        window = wy[:, None] * wx[None, :]
        self.output[0, :, y:y + self.tile_h, x:x + self.tile_w] += tile_out * window
        self.weight_sum[0, 0, y:y + self.tile_h, x:x + self.tile_w] += window

    def result(self):
        self.output /= self.weight_sum
        pad = self.pad
        return self.output[:, :, pad:pad + self.height, pad:pad + self.width]


def tiled_forward_many(run_batch, images, tile_size=TILE_DEFAULTS['size'], overlap=TILE_DEFAULTS['overlap'],
                       tile_batch=TILE_DEFAULTS['batch'], border_pad=TILE_DEFAULTS['border_pad'], device=None,
                       progress=None):
    """``tiled_forward`` of several images (each 1,C,H,W, sizes may differ) whose tiles share network calls.

    Tiles are taken image after image, ``tile_batch`` per call of ``run_batch``, so a call may hold the last
    tiles of one image and the first of the next: several small photos (one tile each) run in one call. Each
    image is blended exactly as ``tiled_forward`` blends it alone. ``progress(tiles_done, tiles_total)`` counts
    the tiles of all images. Returns a list of 1,C',H,W float32 tensors on each image's device.
    """
    for img in images:
        _check_args(img, tile_size, overlap, tile_batch)
    tiled = [_TiledImage(img, tile_size, overlap, border_pad) for img in images]
    work = [(entry, box) for entry in tiled for box in entry.boxes]
    for first in range(0, len(work), tile_batch):
        chunk = work[first:first + tile_batch]
        # an image smaller than a tile gives smaller tiles: one call per tile size
        shapes = dict.fromkeys(_tile_shape(item) for item in chunk)
        groups = [[item for item in chunk if _tile_shape(item) == shape] for shape in shapes]
        for group in groups:
            target = device if device is not None else group[0][0].img.device
            batch = torch.cat([entry.tile(box) for entry, box in group]).to(target, non_blocking=True)
            result = run_batch(batch)
            for (entry, box), tile_out in zip(group, result):
                entry.add(box, tile_out.to(entry.img.device, torch.float32))
        if progress is not None:
            progress(first + len(chunk), len(work))
    return [entry.result() for entry in tiled]


def _tile_shape(item):
    entry, box = item
    return entry.tile(box).shape


def make_torch_runner(net, amp_dtype=None, channels_last=False):
    """Wrap ``net`` as a ``run_batch`` for ``tiled_forward``: no grad, optional autocast.

    Args:
        net (nn.Module): The network, already on its device and in eval mode.
        amp_dtype (torch.dtype | None): torch.bfloat16 or torch.float16 to run
            under autocast on the network's device; None for full precision.
        channels_last (bool): Feed tiles in channels_last memory format.

    Keyword arguments of ``run_batch`` go to ``net`` (a whole-photo network's ``strength``).
    """
    device_type = next(net.parameters()).device.type

    def run_batch(batch, **net_kwargs):
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast(device_type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
        with torch.no_grad(), autocast:
            return net(batch, **net_kwargs).float()

    return run_batch
