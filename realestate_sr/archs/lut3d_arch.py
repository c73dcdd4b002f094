"""ImageAdaptiveLUT: one global 3D colour LUT per photo, mixed from learned basis LUTs by a thumbnail encoder.

YAML (``network_g``)::

    type: ImageAdaptiveLUT
    num_basis: 3          # K basis LUTs
    lut_size: 17          # samples per axis of each LUT (17 or 33)
    thumb_size: 256       # side of the square thumbnail the encoder sees
    width: 16             # encoder width at thumbnail resolution (doubles per level up to max_width)
    levels: 4
    blocks_per_level: 1
    max_width: 64
    chunk_pixels: 524288  # pixels per chunk of the full-resolution lookup without gradients

``forward(x, thumb=None, box=None, strength=None)``: x is N,3,H,W RGB in [0, 1], a whole photo or a crop. Without
``thumb`` the network makes the thumbnail of x (x is then the whole photo); training on crops passes the
thumbnail of the whole photo (``photo_thumbnail``). ``box`` (N,4, see ``whole_photo_ops``) is accepted
for the interface all whole-photo networks share; a global LUT does not depend on where a pixel is.
``strength`` (0..1) moves each photo's LUT toward the identity LUT before the lookup.
"""
import torch
from torch import nn

from realestate_sr.archs.whole_photo_ops import (
    DEFAULT_CHUNK_PIXELS,
    ThumbnailEncoder,
    WholePhotoNetwork,
    apply_luts,
    corner_table,
    full_precision,
    identity_lut,
    per_view,
    run_per_pixel,
)

from basicsr.utils.registry import ARCH_REGISTRY


class BasisLUTs(nn.Module):
    """K learned 3D LUTs stored as residuals from the identity (size,size,size,3 each, indexed [b, g, r]).

    The residuals start at zero, so every mixture of them is the identity LUT until training moves them.
    ``LUTRegularizationLoss`` reads ``luts()`` of every BasisLUTs in a network.
    """

    def __init__(self, num_basis=3, size=17):
        super().__init__()
        if size < 2 or num_basis < 1:
            raise ValueError(f'need lut_size >= 2 and num_basis >= 1, got {size} and {num_basis}')
        self.size = size
        self.residual = nn.Parameter(torch.zeros(num_basis, size, size, size, 3))

    def luts(self):
        """The K basis LUTs themselves (identity + residual), K,D,D,D,3."""
        return identity_lut(self.size, self.residual.device) + self.residual

    def mix(self, weights):
        """Per-photo LUTs N,D,D,D,3: identity + sum_k weights[n, k] * residual_k (weights N,K), in float32 whatever
        the caller's autocast asks for."""
        with full_precision(weights.device):
            mixed = torch.einsum('nk,kbgrc->nbgrc', weights.float(), self.residual)
            return identity_lut(self.size, self.residual.device) + mixed

    @staticmethod
    def identity_like(luts):
        """The identity LUT in place of each of ``luts`` (N,D,D,D,3): an expanded view."""
        return identity_lut(luts.shape[1], luts.device, luts.dtype).expand_as(luts)


def lut_lookup(luts):
    """``rgb -> rgb`` (N,...,3 pixels in [0, 1]) through each photo's LUT of ``luts`` (N,D,D,D,3), the corner table
    built once for every chunk it is called on."""
    table = corner_table(luts)
    return lambda rgb: apply_luts(luts, rgb, table)


@ARCH_REGISTRY.register()
class ImageAdaptiveLUT(WholePhotoNetwork):
    """Thumbnail encoder -> K mixing weights -> one 3D LUT per photo -> trilinear lookup of every pixel.

    An untrained network returns its input (zero residual LUTs). The encoder runs in whatever precision
    the caller's autocast asks for; the LUT mixing and lookup always run in float32.
    """

    def __init__(self, num_basis=3, lut_size=17, thumb_size=256, width=16, levels=4, blocks_per_level=1,
                 max_width=64, chunk_pixels=DEFAULT_CHUNK_PIXELS):
        super().__init__()
        self.thumb_size = thumb_size
        self.chunk_pixels = chunk_pixels
        self.encoder = ThumbnailEncoder(width, levels, blocks_per_level, max_width)
        self.to_weights = nn.Linear(self.encoder.out_channels, num_basis)
        self.basis = BasisLUTs(num_basis, lut_size)

    def photo_luts(self, thumb):
        """N,D,D,D,3 LUTs of the photos whose thumbnails are ``thumb``."""
        _, pooled = self.encoder(thumb)
        return self.basis.mix(self.to_weights(pooled))

    def photo_edit(self, thumb):
        """What the thumbnails decide, ``(photo_luts(thumb), )``; ``apply_edit(x, box, *edit)`` applies it."""
        return (self.photo_luts(thumb), )

    def identity_edit(self, edit):
        """The identity LUT of each photo (an expanded view)."""
        return (BasisLUTs.identity_like(edit[0]), )

    def apply_edit(self, x, box, luts):
        """The full-resolution stage: the N,D,D,D,3 ``luts`` looked up for every pixel of x."""
        luts = per_view(luts, x.shape[0])
        with full_precision(x.device):
            look_up = lut_lookup(luts)
            return run_per_pixel(lambda rgb, u, v: look_up(rgb), x, box, self.chunk_pixels)
