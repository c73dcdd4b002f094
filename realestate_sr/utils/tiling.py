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


# The tiling every caller starts from: validation (val.tile), tiled_infer.py and evaluate.py flags.
TILE_DEFAULTS = {'size': 512, 'overlap': 64, 'batch': 4, 'border_pad': 0}


def validation_tile(val_opt):
    """An option file's ``val.tile`` with :data:`TILE_DEFAULTS` filled in: {size, overlap, batch, border_pad},
    or None for whole images (``tile: ~`` or ``size: 0``). EnhanceModel's validation and scripts/evaluate.py
    read the block through this one function."""
    tile = (val_opt or {}).get('tile')
    if not tile:
        return None
    if 'size' not in tile:
        raise KeyError(f'val.tile needs a size, got {dict(tile)}')
    if int(tile['size'] or 0) <= 0:
        return None
    return {key: int(tile.get(key, default)) for key, default in TILE_DEFAULTS.items()}


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
    device = img.device if device is None else torch.device(device)
    height, width = img.shape[-2:]
    if border_pad > 0:
        pad = min(border_pad, height - 1, width - 1)
        img = F.pad(img, (pad, pad, pad, pad), mode='reflect')
    else:
        pad = 0
    padded_h, padded_w = img.shape[-2:]
    tile_h, tile_w = min(tile_size, padded_h), min(tile_size, padded_w)
    ys = tile_starts(padded_h, tile_h, tile_size - overlap)
    xs = tile_starts(padded_w, tile_w, tile_size - overlap)
    boxes = [(y, x) for y in ys for x in xs]

    output = None
    weight_sum = torch.zeros(1, 1, padded_h, padded_w, dtype=torch.float32, device=img.device)
    for first in range(0, len(boxes), tile_batch):
        chunk = boxes[first:first + tile_batch]
        batch = torch.cat([img[:, :, y:y + tile_h, x:x + tile_w] for y, x in chunk]).to(device, non_blocking=True)
        result = run_batch(batch).to(img.device, torch.float32)
        if output is None:
            output = torch.zeros(1, result.shape[1], padded_h, padded_w, dtype=torch.float32, device=img.device)
        for (y, x), tile_out in zip(chunk, result):
            wy = blend_ramp(tile_h, overlap, y > 0, y + tile_h < padded_h).to(img.device)
            wx = blend_ramp(tile_w, overlap, x > 0, x + tile_w < padded_w).to(img.device)
            window = wy[:, None] * wx[None, :]
            output[0, :, y:y + tile_h, x:x + tile_w] += tile_out * window
            weight_sum[0, 0, y:y + tile_h, x:x + tile_w] += window
        if progress is not None:
            progress(first + len(chunk), len(boxes))
    output /= weight_sum
    return output[:, :, pad:pad + height, pad:pad + width]


def make_torch_runner(net, amp_dtype=None, channels_last=False):
    """Wrap ``net`` as a ``run_batch`` for ``tiled_forward``: no grad, optional autocast.

    Args:
        net (nn.Module): The network, already on its device and in eval mode.
        amp_dtype (torch.dtype | None): torch.bfloat16 or torch.float16 to run
            under autocast on the network's device; None for full precision.
        channels_last (bool): Feed tiles in channels_last memory format.
    """
    device_type = next(net.parameters()).device.type

    def run_batch(batch):
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast(device_type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
        with torch.no_grad(), autocast:
            return net(batch).float()

    return run_batch
