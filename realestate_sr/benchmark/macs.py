"""Multiply-accumulates per listing photo, counted without computing anything.

The network runs on PyTorch's ``meta`` device (shapes only) under ``torch.utils.flop_counter.FlopCounterMode``,
which counts convolutions and matrix products (linear layers, attention): MACs = its FLOPs / 2. Element-wise
work (activations, normalisation, grid sampling) is not counted. A tiled network is counted as it runs in
``tiled_forward``: every tile of the photo, overlaps included; a whole-photo architecture (or ``tile=None``)
on the photo in one pass. Whole-photo architectures are counted on their training path (gradients on; the
meta device allocates nothing either way): their inference path slices with per-column batched products that
the meta device cannot run (``bincount``); both paths do the same per-pixel work, which is element-wise.
"""
import torch
from torch.utils.flop_counter import FlopCounterMode

from realestate_sr.archs.network_loading import arch_runs_whole_photos, build_inference_network
from realestate_sr.utils.tiling import tile_starts

LISTING_PHOTO = (2200, 3300)  # height, width


def forward_macs(net, height, width, grad=False):
    """MACs of one forward of ``net`` (on the meta device) on a 1,3,height,width input."""
    with FlopCounterMode(display=False) as counter, torch.set_grad_enabled(grad):
        net(torch.empty(1, 3, height, width, device='meta'))
    return counter.get_total_flops() // 2


def photo_macs(network_opt, tile=None, size=LISTING_PHOTO, tlc=None):
    """MACs to enhance one photo of ``size`` (H, W) with ``network_opt`` (a ``network_g`` block), tiled as
    ``tile`` ({size, overlap, border_pad}, as ``options.validation_tile`` returns) says, or whole when None."""
    net = build_inference_network(network_opt, None, tlc=tlc, device='meta')
    height, width = size
    if arch_runs_whole_photos(network_opt):
        return forward_macs(net, height, width, grad=True)
    if tile is None:
        return forward_macs(net, height, width)
    pad = min(tile.get('border_pad', 0), height - 1, width - 1)
    height, width = height + 2 * pad, width + 2 * pad
    tile_h, tile_w = min(tile['size'], height), min(tile['size'], width)
    stride = tile['size'] - tile['overlap']
    count = len(tile_starts(height, tile_h, stride)) * len(tile_starts(width, tile_w, stride))
    return count * forward_macs(net, tile_h, tile_w)
