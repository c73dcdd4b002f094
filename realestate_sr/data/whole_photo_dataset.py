"""WholePhotoDataset: per training sample, thumbnails of the whole photo pair plus a full-resolution crop.

For the whole-photo edit networks (``ImageAdaptiveLUT``, ``BilateralGridNet``): the network decides the
edit from the thumbnail of the whole photo, so it learns exposure and white balance from the entire room,
and the loss is taken on full-resolution pixels of a crop, sliced where the crop lies (``box``).
"""
from realestate_sr.archs.whole_photo_ops import crop_box, photo_thumbnail
from realestate_sr.data.image_io import check_same_size
from realestate_sr.data.pair_transforms import (
    bgr_uint8_to_tensor,
    draw_orientation,
    orient_chw,
    orient_hwc,
)
from realestate_sr.data.paired_listing_dataset import PairedListingDataset
from realestate_sr.data.thumbnail_cache import ThumbnailCache

from basicsr.utils import get_root_logger
from basicsr.utils.registry import DATASET_REGISTRY

DEFAULT_THUMB_SIZE = 256  # thumb_size when the block names none (the whole-photo start-up checks assume it too)


def whole_thumbnail(bgr, size):
    """``photo_thumbnail`` of a uint8 BGR photo, as the network would make it: float32 RGB 3,size,size."""
    return photo_thumbnail(bgr_uint8_to_tensor(bgr)[None], size)[0]


@DATASET_REGISTRY.register()
class WholePhotoDataset(PairedListingDataset):
    """Training pairs as (whole-photo thumbnails, full-resolution crop, the crop's box); val/test as
    PairedListingDataset (whole photos: the network makes its own thumbnail).

    YAML keys (``datasets.<phase>``): every key of PairedListingDataset (sources, ``io_backend``,
    ``cache``, ``gt_size`` = crop side, ``use_hflip``, ``use_rot``, ``output_dtype``), plus:
        thumb_size (int): thumbnail side; must equal ``network_g.thumb_size`` (default 256).
        thumb_cache (bool): training only, default true: each pair's two thumbnails are made once and shared
            by the DataLoader workers (``realestate_sr/data/thumbnail_cache.py``: 6 MB a pair at 512 px,
            off by itself above a quarter of the free RAM).

    Each training item: ``lq``/``gt`` the crop (3, gt_size, gt_size), ``lq_thumb``/``gt_thumb`` float32
    (3, thumb_size, thumb_size) thumbnails of the whole source/target photos, ``box`` float32 (4,) the
    crop's normalised (x0, y0, x1, y1) in the whole photo (``whole_photo_ops``), and the paths. Flips and
    90-degree rotations transform the whole photo before anything is cut, so thumbnails, crop and box always
    describe the same oriented photo.
    """

    OPTION_KEYS = PairedListingDataset.OPTION_KEYS | {'thumb_size', 'thumb_cache'}

    def __init__(self, opt):
        super().__init__(opt)
        self.thumb_size = int(opt.get('thumb_size', DEFAULT_THUMB_SIZE))
        self.thumb_cache = None
        if self.phase == 'train' and opt.get('thumb_cache', True):
            logger = get_root_logger()
            self.thumb_cache = ThumbnailCache.if_it_fits(len(self.source), self.thumb_size,
                                                         log=lambda msg: logger.info(f'[{opt.get("name")}] {msg}'))

    def __getitem__(self, index):
        if self.phase != 'train':
            return super().__getitem__(index)
        photo_src, photo_tar = self.source.read(index)
        pair_name = self.source.name(index)
        check_same_size(photo_src, photo_tar, pair_name)
        orientation = draw_orientation(self.use_hflip, self.use_rot)
        src, tar = orient_hwc(photo_src, orientation), orient_hwc(photo_tar, orientation)
        height, width = tar.shape[:2]
        src_crop, tar_crop, top, left = self.random_window(src, tar, pair_name)
        if self.thumb_cache is not None:
            thumbs = self.thumb_cache.get(index, lambda: (whole_thumbnail(photo_src, self.thumb_size),
                                                          whole_thumbnail(photo_tar, self.thumb_size)))
            src_thumb, tar_thumb = (orient_chw(thumb, orientation) for thumb in thumbs)
        else:
            src_thumb, tar_thumb = whole_thumbnail(src, self.thumb_size), whole_thumbnail(tar, self.thumb_size)
        lq_path, gt_path = self.source.paths(index)
        as_float = self.output_dtype == 'float32'
        item = {'lq': bgr_uint8_to_tensor(src_crop, as_float), 'gt': bgr_uint8_to_tensor(tar_crop, as_float),
                'lq_thumb': src_thumb, 'gt_thumb': tar_thumb,
                'box': crop_box(top, left, self.gt_size, self.gt_size, height, width),
                'lq_path': lq_path, 'gt_path': gt_path}
        return item

