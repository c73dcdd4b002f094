"""Enhance one decoded photo: numpy H,W,3 RGB in [0,1] -> the tiler -> numpy again."""
import numpy as np
import torch

from realestate_sr.utils.tiling import tiled_forward


def enhance_rgb(run_batch, rgb, tile_size=512, overlap=64, tile_batch=4, border_pad=0, device=None):
    """Run ``run_batch`` over ``rgb`` (float32 H,W,3) through ``tiled_forward``; returns float32 H,W,3 clipped to [0,1].

    The photo stays in host memory; only ``tile_batch`` tiles at a time go to ``device``.
    """
    img = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]
    out = tiled_forward(run_batch, img, tile_size=tile_size, overlap=overlap, tile_batch=tile_batch,
                        border_pad=border_pad, device=device)
    return out[0].clamp_(0, 1).permute(1, 2, 0).numpy()
