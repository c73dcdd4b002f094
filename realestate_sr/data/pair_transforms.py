"""Geometric training transforms applied identically to both images of a pair, on uint8.

Cropping comes first and conversion to float last, so a 512x512 patch of a
3300x2200 photo never costs a full-image float conversion. Nothing here works
in place: in cache mode the inputs are views into the shared cache, which must
never change. There is no colour augmentation on purpose: colour *is* the edit.

Randomness comes from Python's ``random`` module, which BasicSR's DataLoader
``worker_init_fn`` seeds per worker (as it does for its own datasets).
"""
import random

import numpy as np
import torch


class PatchTooLargeError(ValueError):
    """The requested training patch does not fit in an image."""


def random_crop_offset(height, width, size, pair_name, rng=random):
    """(top, left) of a random ``size`` x ``size`` window of a ``height`` x ``width`` image."""
    if height < size or width < size:
        raise PatchTooLargeError(f'pair {pair_name}: image is {width}x{height}, smaller than gt_size {size}')
    top = rng.randint(0, height - size)
    return top, rng.randint(0, width - size)


def draw_orientation(use_hflip, use_rot, rng=random):
    """(hflip, vflip, transpose) of one sample: the 8 dihedral transforms, each flag 50 % when enabled.

    The draw order (hflip, vflip, rot90) matches BasicSR's ``augment``.
    """
    hflip = use_hflip and rng.random() < 0.5
    vflip = use_rot and rng.random() < 0.5
    return hflip, vflip, use_rot and rng.random() < 0.5


def orient_hwc(img, orientation):
    """An H,W,C array flipped / transposed as ``orientation`` says (views, no copy)."""
    hflip, vflip, transpose = orientation
    img = img[:, ::-1] if hflip else img
    img = img[::-1] if vflip else img
    return img.transpose(1, 0, 2) if transpose else img


def orient_chw(tensor, orientation):
    """The same transform of a C,H,W tensor (e.g. a thumbnail of the photo ``orient_hwc`` turns)."""
    hflip, vflip, transpose = orientation
    tensor = tensor.flip(2) if hflip else tensor
    tensor = tensor.flip(1) if vflip else tensor
    return tensor.transpose(1, 2) if transpose else tensor


def augment_pair(src, tar, use_hflip, use_rot, rng=random):
    """Same random horizontal flip, vertical flip and transpose (the 8 dihedral transforms) on both images."""
    orientation = draw_orientation(use_hflip, use_rot, rng)
    return orient_hwc(src, orientation), orient_hwc(tar, orientation)


def bgr_uint8_to_tensor(img, as_float=True):
    """uint8 BGR (H, W, 3) -> RGB (3, H, W): float32 in [0, 1], or uint8 when not ``as_float``; a fresh tensor."""
    rgb_chw = torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1)))
    return rgb_chw.float().div_(255.0) if as_float else rgb_chw
