"""PairedListingDataset: amateur listing photo (src, BasicSR's lq) -> edited photo (tar, gt)."""
from torch.utils import data

from basicsr.utils.registry import DATASET_REGISTRY
from realestate_sr.data.image_io import check_same_size, read_bgr
from realestate_sr.data.pair_lists import load_manifest, pairs_from_folders
from realestate_sr.data.pair_transforms import augment_pair, bgr_uint8_to_tensor, random_crop_pair

PHASES = ('train', 'val', 'test')


class DatasetOptionError(ValueError):
    """The dataset block of an option file is incomplete or contradictory."""


class DiskPairSource:
    """Pairs read from image files, listed by a manifest or two folders."""

    def __init__(self, pairs):
        self.pairs = pairs

    def __len__(self):
        return len(self.pairs)

    def name(self, index):
        return self.pairs[index].name

    def paths(self, index):
        return self.pairs[index].src, self.pairs[index].tar

    def read(self, index):
        pair = self.pairs[index]
        return read_bgr(pair.src), read_bgr(pair.tar)


def _disk_source(opt):
    if opt.get('meta_file'):
        return DiskPairSource(load_manifest(opt['meta_file'], opt.get('dataroot')))
    if opt.get('dataroot_lq') and opt.get('dataroot_gt'):
        return DiskPairSource(pairs_from_folders(opt['dataroot_lq'], opt['dataroot_gt']))
    raise DatasetOptionError(f'dataset {opt.get("name")!r}: give either meta_file (+ dataroot) '
                             'or dataroot_lq + dataroot_gt')


@DATASET_REGISTRY.register()
class PairedListingDataset(data.Dataset):
    """Before/after listing photo pairs for NAFNet training and full-resolution validation.

    YAML keys (``datasets.<phase>``):
        name (str): shown in logs and errors.
        phase (str): 'train', 'val' or 'test'; set by BasicSR from the block name.
        dataroot (str): root that manifest paths are relative to (default: the manifest's folder).
        meta_file (str): JSONL manifest, one ``{"src": ..., "tar": ...}`` per line.
        dataroot_lq, dataroot_gt (str): instead of a manifest, a src folder and a tar folder with the same
            file names.
        io_backend (dict): ``{type: disk}`` (default).
        gt_size (int): training patch size; required when phase is 'train'. Val/test return whole images.
        use_hflip, use_rot (bool): random flips / 90-degree rotations in training (default false).

    Training samples are one random ``gt_size`` crop, cut at the same place in both images and given the
    same flips, before conversion to float. No colour augmentation, ever: the colour change is what is learnt.
    Each item is BasicSR's dict: ``lq`` and ``gt`` float32 RGB (3, H, W) in [0, 1], ``lq_path``, ``gt_path``.
    A pair whose two images differ in size raises ``PairSizeMismatchError`` naming the pair.
    """

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        self.phase = opt.get('phase')
        if self.phase not in PHASES:
            raise DatasetOptionError(f'dataset {opt.get("name")!r}: phase must be one of {PHASES}, got {self.phase!r}')
        self.gt_size = opt.get('gt_size')
        if self.phase == 'train' and not self.gt_size:
            raise DatasetOptionError(f'dataset {opt.get("name")!r}: gt_size is required for training')
        self.use_hflip = bool(opt.get('use_hflip', False))
        self.use_rot = bool(opt.get('use_rot', False))

        backend = dict(opt.get('io_backend') or {'type': 'disk'})
        backend_type = backend.get('type', 'disk')
        if backend_type != 'disk':
            raise DatasetOptionError(f'dataset {opt.get("name")!r}: unknown io_backend type {backend_type!r}')
        self.source = _disk_source(opt)

    def __len__(self):
        return len(self.source)

    def __getitem__(self, index):
        src, tar = self.source.read(index)
        pair_name = self.source.name(index)
        check_same_size(src, tar, pair_name)
        if self.phase == 'train':
            src, tar = random_crop_pair(src, tar, self.gt_size, pair_name)
            src, tar = augment_pair(src, tar, self.use_hflip, self.use_rot)
        lq_path, gt_path = self.source.paths(index)
        return {'lq': bgr_uint8_to_tensor(src), 'gt': bgr_uint8_to_tensor(tar), 'lq_path': lq_path, 'gt_path': gt_path}
