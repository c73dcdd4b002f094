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
from realestate_sr.data.light_field import field_tensor, relight_thumbnail
from realestate_sr.data.pair_transforms import augment_pair, bgr_uint8_to_tensor
from realestate_sr.data.paired_listing_dataset import DatasetOptionError, PairedListingDataset
from realestate_sr.utils.colour import linear_to_srgb, srgb_to_linear

from basicsr.utils.registry import DATASET_REGISTRY


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


def random_scene_window(height, width, min_side, least, rng=random):
    """(top, left, crop_height, crop_width) of a random sub-rectangle of a ``height`` x ``width`` photo: each
    side a uniform fraction in [``min_side``, 1] of the photo's, at least ``least`` px (and at most the side)."""
    sides = [min(side, max(least, int(round(side * rng.uniform(min_side, 1.0))))) for side in (height, width)]
    return rng.randint(0, height - sides[0]), rng.randint(0, width - sides[1]), sides[0], sides[1]


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
        src_light_field: as PairedListingDataset's; the crop and the source thumbnail get the same field,
            and the item carries it (``lq_light``) for WholePhotoModel's ``light_opt``.
        scene_crop (dict): new scenes from the same photos, off by default: ``{prob: 0.5, min_side: 0.6}``:
            with probability ``prob`` a sample's pair is first cut to a random sub-rectangle (each side a
            uniform fraction in [min_side, 1] of the photo's, at least gt_size px), which then stands for the
            whole photo (thumbnails, light field, crop and box). A room seen closer or off-centre is a
            different frame to decide the edit from, with an exact target.

    Each training item: ``lq``/``gt`` the crop (3, gt_size, gt_size), ``lq_thumb``/``gt_thumb`` float32
    (3, thumb_size, thumb_size) thumbnails of the whole source/target photos, ``box`` float32 (4,) the
    crop's normalised (x0, y0, x1, y1) in the whole photo (``whole_photo_ops``), and the paths; with
    ``src_light_field``, ``lq_light`` float32 (3, 64, 64): the field's RGB log gains over the whole photo
    (zeros when the sample drew none). Flips and
    90-degree rotations transform the whole photo before anything is cut, so thumbnails, crop and box
    always describe the same oriented photo.
    """

    OPTION_KEYS = PairedListingDataset.OPTION_KEYS | {'thumb_size', 'src_jitter', 'pair_mix', 'scene_crop'}

    def __init__(self, opt):
        super().__init__(opt)
        self.thumb_size = int(opt.get('thumb_size', 256))
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
        self.scene_crop_prob, self.scene_crop_min_side = self._scene_crop_option(opt)

    @staticmethod
    def _scene_crop_option(opt):
        """(prob, min_side) of ``scene_crop``; prob 0 when absent."""
        option = opt.get('scene_crop') or {}
        if not isinstance(option, dict) or set(option) - {'prob', 'min_side'}:
            raise DatasetOptionError(f'dataset {opt.get("name")!r}: scene_crop takes prob and min_side, '
                                     f'got {option!r}')
        prob, min_side = float(option.get('prob', 1.0 if option else 0.0)), float(option.get('min_side', 0.6))
        if not 0.0 <= prob <= 1.0 or not 0.0 < min_side <= 1.0:
            raise DatasetOptionError(f'dataset {opt.get("name")!r}: scene_crop needs prob in [0, 1] and '
                                     f'min_side in (0, 1], got {option!r}')
        return prob, min_side

    def scene_window(self, src, tar, rng=random):
        """The pair cut to this sample's ``scene_crop`` sub-rectangle (the pair itself when it draws none)."""
        if not self.scene_crop_prob or rng.random() >= self.scene_crop_prob:
            return src, tar
        top, left, crop_height, crop_width = random_scene_window(*tar.shape[:2], self.scene_crop_min_side,
                                                                 self.gt_size, rng)
        window = (slice(top, top + crop_height), slice(left, left + crop_width))
        return src[window], tar[window]

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
        src, tar = self.source.read(index)
        pair_name = self.source.name(index)
        check_same_size(src, tar, pair_name)
        src, tar = augment_pair(src, tar, self.use_hflip, self.use_rot)
        if self.pair_mix and len(self.source) > 1 and random.random() < self.pair_mix:
            other = (index + random.randrange(1, len(self.source))) % len(self.source)
            other_src, other_tar = self.source.read(other)
            src, tar = collage_pairs((src, tar), augment_pair(other_src, other_tar, self.use_hflip, self.use_rot))
        src, tar = self.scene_window(src, tar)
        src = self.jitter_source(src)
        height, width = tar.shape[:2]
        src_crop, tar_crop, top, left, log_gains = self.random_window(src, tar, pair_name)
        src_thumb = whole_thumbnail(src, self.thumb_size)
        if log_gains is not None:  # the thumbnail under the crop's field: relit where used, not every pixel
            src_thumb = relight_thumbnail(src_thumb, log_gains)
        lq_path, gt_path = self.source.paths(index)
        as_float = self.output_dtype == 'float32'
        item = {'lq': bgr_uint8_to_tensor(src_crop, as_float), 'gt': bgr_uint8_to_tensor(tar_crop, as_float),
                'lq_thumb': src_thumb, 'gt_thumb': whole_thumbnail(tar, self.thumb_size),
                'box': crop_box(top, left, self.gt_size, self.gt_size, height, width),
                'lq_path': lq_path, 'gt_path': gt_path}
        if self.light_field is not None:
            item['lq_light'] = field_tensor(log_gains)
        return item

