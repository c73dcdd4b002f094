"""WholePhotoDataset: per training sample, thumbnails of the whole photo pair plus a full-resolution crop.

For the whole-photo edit networks (``ImageAdaptiveLUT``, ``BilateralGridNet``): the network decides the
edit from the thumbnail of the whole photo, so it learns exposure and white balance from the entire room,
and the loss is taken on full-resolution pixels of a crop, sliced where the crop lies (``box``).
"""
import random

import cv2
import numpy as np

from realestate_sr.archs.whole_photo_ops import crop_box, photo_thumbnail
from realestate_sr.data.image_io import check_same_size
from realestate_sr.data.light_field import relight_thumbnail
from realestate_sr.data.pair_transforms import (
    augment_pair,
    bgr_uint8_to_tensor,
    draw_orientation,
    orient_chw,
    orient_hwc,
)
from realestate_sr.data.paired_listing_dataset import DatasetOptionError, PairedListingDataset
from realestate_sr.data.thumbnail_cache import ThumbnailCache
from realestate_sr.utils.colour import linear_to_srgb, srgb_to_linear

from basicsr.utils import get_root_logger
from basicsr.utils.registry import DATASET_REGISTRY

DEFAULT_THUMB_SIZE = 256  # thumb_size when the block names none (the whole-photo start-up checks assume it too)


def exposure_wb_table(exposure_ev, red_gain, blue_gain):
    """256-entry per-channel table (1,256,3, BGR order, uint8) for ``cv2.LUT``: multiply linear light by
    ``2**exposure_ev`` and the red and blue channels by their gains, then back to sRGB."""
    levels = srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0)
    gains = 2.0 ** exposure_ev * np.array([blue_gain, 1.0, red_gain])
    table = linear_to_srgb(levels[:, None] * gains[None, :]) * 255.0
    return np.clip(np.rint(table), 0, 255).astype(np.uint8)[None]


def whole_thumbnail(bgr, size):
    """``photo_thumbnail`` of a uint8 BGR photo, as the network would make it: float32 RGB 3,size,size."""
    return photo_thumbnail(bgr_uint8_to_tensor(bgr)[None], size)[0]


def collage_pairs(pair, other, rng=random):
    """``pair``'s (src, tar) with one side of a random straight cut replaced by ``other``'s pair, which is
    first resized (area) to ``pair``'s size: vertical or horizontal at 30-70 % of that side."""
    src, tar = (np.array(img) for img in pair)
    height, width = tar.shape[:2]
    other_src, other_tar = (cv2.resize(np.ascontiguousarray(img), (width, height), interpolation=cv2.INTER_AREA)
                            for img in other)
    vertical = rng.random() < 0.5
    cut = int(round((width if vertical else height) * rng.uniform(0.3, 0.7)))
    side = slice(0, cut) if rng.random() < 0.5 else slice(cut, None)  # where the other pair goes
    region = (slice(None), side) if vertical else (side, slice(None))
    src[region], tar[region] = other_src[region], other_tar[region]
    return src, tar


@DATASET_REGISTRY.register()
class WholePhotoDataset(PairedListingDataset):
    """Training pairs as (whole-photo thumbnails, full-resolution crop, the crop's box); val/test as
    PairedListingDataset (whole photos: the network makes its own thumbnail).

    YAML keys (``datasets.<phase>``): every key of PairedListingDataset (sources, ``io_backend``,
    ``cache``, ``gt_size`` = crop side, ``use_hflip``, ``use_rot``, ``output_dtype``), plus:
        thumb_size (int): thumbnail side; must equal ``network_g.thumb_size`` (default 256).
        src_jitter (dict): source-only photometric augmentation, off by default:
            ``{exposure_ev: 0.2, white_balance: 0.05}``: per sample, the source photo (thumbnail and crop
            alike) gets an exposure change uniform in +-exposure_ev stops and red/blue gains
            ``exp(uniform(+-white_balance))``, in linear light; the target is unchanged, since an
            editor's result does not depend on how the camera happened to expose.
        pair_mix (float): probability (default 0: off) that a sample is a collage of two training pairs:
            a random straight cut (vertical or horizontal, at 30-70 % of the side) keeps the sample's own
            pair on one side and another pair, resized to the same size, on the other, sources and
            targets alike (``collage_pairs``). Each side is an exact pair, but the two sides need
            different corrections, so a network cannot solve the sample with one global decision: it
            learns to read each region's correction from that region.
        thumb_cache (bool): training only, default true: each pair's two thumbnails are made once and shared
            by the DataLoader workers (``realestate_sr/data/thumbnail_cache.py``: 6 MB a pair at 512 px,
            off by itself above a quarter of the free RAM); samples whose photo ``pair_mix`` or
            ``src_jitter`` changed still make theirs.
        src_light_field: as PairedListingDataset's; the crop and the source thumbnail get the same field.

    Each training item: ``lq``/``gt`` the crop (3, gt_size, gt_size), ``lq_thumb``/``gt_thumb`` float32
    (3, thumb_size, thumb_size) thumbnails of the whole source/target photos, ``box`` float32 (4,) the
    crop's normalised (x0, y0, x1, y1) in the whole photo (``whole_photo_ops``), and the paths. Flips and
    90-degree rotations transform the whole photo before anything is cut, so thumbnails, crop and box always
    describe the same oriented photo.
    """

    OPTION_KEYS = PairedListingDataset.OPTION_KEYS | {'thumb_size', 'src_jitter', 'pair_mix', 'thumb_cache'}

    def __init__(self, opt):
        super().__init__(opt)
        self.thumb_size = int(opt.get('thumb_size', DEFAULT_THUMB_SIZE))
        jitter = opt.get('src_jitter') or {}
        unknown = set(jitter) - {'exposure_ev', 'white_balance'}
        if unknown:
            raise DatasetOptionError(f'dataset {opt.get("name")!r}: src_jitter takes exposure_ev and '
                                     f'white_balance, not {sorted(unknown)}')
        self.exposure_ev = float(jitter.get('exposure_ev', 0.0))
        self.white_balance = float(jitter.get('white_balance', 0.0))
        if self.exposure_ev < 0 or self.white_balance < 0:
            raise DatasetOptionError(f'dataset {opt.get("name")!r}: src_jitter amounts must be >= 0')
        self.pair_mix = float(opt.get('pair_mix') or 0.0)
        if not 0.0 <= self.pair_mix <= 1.0:
            raise DatasetOptionError(f'dataset {opt.get("name")!r}: pair_mix is a probability in [0, 1], '
                                     f'got {self.pair_mix}')
        self.thumb_cache = None
        if self.phase == 'train' and opt.get('thumb_cache', True):
            logger = get_root_logger()
            self.thumb_cache = ThumbnailCache.if_it_fits(len(self.source), self.thumb_size,
                                                         log=lambda msg: logger.info(f'[{opt.get("name")}] {msg}'))

    def jitter_source(self, src, rng=random):
        """The source photo with a random exposure/white-balance change (itself when jitter is off)."""
        if not (self.exposure_ev or self.white_balance):
            return src
        table = exposure_wb_table(rng.uniform(-self.exposure_ev, self.exposure_ev),
                                  np.exp(rng.uniform(-self.white_balance, self.white_balance)),
                                  np.exp(rng.uniform(-self.white_balance, self.white_balance)))
        return cv2.LUT(np.ascontiguousarray(src), table)

    def __getitem__(self, index):
        if self.phase != 'train':
            return super().__getitem__(index)
        photo_src, photo_tar = self.source.read(index)
        pair_name = self.source.name(index)
        check_same_size(photo_src, photo_tar, pair_name)
        orientation = draw_orientation(self.use_hflip, self.use_rot)
        src, tar = orient_hwc(photo_src, orientation), orient_hwc(photo_tar, orientation)
        collage = self.pair_mix and len(self.source) > 1 and random.random() < self.pair_mix
        if collage:
            other = (index + random.randrange(1, len(self.source))) % len(self.source)
            other_src, other_tar = self.source.read(other)
            src, tar = collage_pairs((src, tar), augment_pair(other_src, other_tar, self.use_hflip, self.use_rot))
        oriented_src = src
        src = self.jitter_source(src)
        height, width = tar.shape[:2]
        src_crop, tar_crop, top, left, log_gains = self.random_window(src, tar, pair_name)
        if self.thumb_cache is not None and not collage:
            thumbs = self.thumb_cache.get(index, lambda: (whole_thumbnail(photo_src, self.thumb_size),
                                                          whole_thumbnail(photo_tar, self.thumb_size)))
            src_thumb, tar_thumb = (orient_chw(thumb, orientation) for thumb in thumbs)
            if src is not oriented_src:  # jittered: its own thumbnail
                src_thumb = whole_thumbnail(src, self.thumb_size)
        else:
            src_thumb, tar_thumb = whole_thumbnail(src, self.thumb_size), whole_thumbnail(tar, self.thumb_size)
        if log_gains is not None:  # the thumbnail under the crop's field: relit where used, not every pixel
            src_thumb = relight_thumbnail(src_thumb, log_gains)
        lq_path, gt_path = self.source.paths(index)
        as_float = self.output_dtype == 'float32'
        item = {'lq': bgr_uint8_to_tensor(src_crop, as_float), 'gt': bgr_uint8_to_tensor(tar_crop, as_float),
                'lq_thumb': src_thumb, 'gt_thumb': tar_thumb,
                'box': crop_box(top, left, self.gt_size, self.gt_size, height, width),
                'lq_path': lq_path, 'gt_path': gt_path}
        return item

