"""PairedListingDataset: amateur listing photo (src, BasicSR's lq) -> edited photo (tar, gt)."""
import json
from pathlib import Path

from torch.utils import data

from realestate_sr.data.image_io import check_same_size, image_shape_from_header, read_bgr
from realestate_sr.data.lmdb_io import LmdbFormatError, LmdbImageReader, read_split_file
from realestate_sr.data.memory_cache import SharedPairCache
from realestate_sr.data.pair_lists import load_manifest, pairs_from_folders, require_existing_files
from realestate_sr.data.pair_transforms import augment_pair, bgr_uint8_to_tensor, random_crop_offset
from realestate_sr.utils.wording import counted

from basicsr.utils import get_root_logger
from basicsr.utils.registry import DATASET_REGISTRY

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

    def shapes(self, index):
        pair = self.pairs[index]
        return image_shape_from_header(pair.src), image_shape_from_header(pair.tar)


class LmdbPairSource:
    """Pairs stored under the same key in a src LMDB and a tar LMDB, restricted to the keys of a split file."""

    def __init__(self, src_lmdb, tar_lmdb, split_file):
        self.src, self.tar = LmdbImageReader(src_lmdb), LmdbImageReader(tar_lmdb)
        self.keys = read_split_file(split_file)
        for reader in (self.src, self.tar):
            missing = [key for key in self.keys if key not in reader.records]
            if missing:
                raise LmdbFormatError(f'{counted(len(missing), "key")} of {split_file} '
                                      f'{"is" if len(missing) == 1 else "are"} not in {reader.path} '
                                      f'(first: {missing[0]}): split file and LMDB come from different builds?')
        self.names = self._load_name_map(Path(src_lmdb).parent / 'name_map.jsonl')

    @staticmethod
    def _load_name_map(path):
        if not path.is_file():
            return {}
        entries = (json.loads(line) for line in path.read_text(encoding='utf-8').splitlines() if line.strip())
        return {entry['key']: entry for entry in entries}

    def __len__(self):
        return len(self.keys)

    def name(self, index):
        key = self.keys[index]
        entry = self.names.get(key)
        return f'{key} ({entry["pair"]})' if entry else key

    def paths(self, index):
        # whole images report their original file paths (validation names its outputs after them);
        # sub-images and stock LMDBs report the LMDB key
        key = self.keys[index]
        entry = self.names.get(key)
        if entry and entry.get('box') is None:
            return entry['src'], entry['tar']
        return f'{self.src.path}/{key}', f'{self.tar.path}/{key}'

    def read(self, index):
        key = self.keys[index]
        return self.src.read(key), self.tar.read(key)

    def shapes(self, index):
        key = self.keys[index]
        return self.src.records[key].shape, self.tar.records[key].shape


def _disk_source(opt):
    if opt.get('meta_file'):
        pairs = load_manifest(opt['meta_file'], opt.get('dataroot'))
        require_existing_files(pairs, f'dataset {opt.get("name")!r} ({opt["meta_file"]})')
        return DiskPairSource(pairs)
    if opt.get('dataroot_lq') and opt.get('dataroot_gt'):
        return DiskPairSource(pairs_from_folders(opt['dataroot_lq'], opt['dataroot_gt']))
    raise DatasetOptionError(f'dataset {opt.get("name")!r}: give either meta_file (+ dataroot) '
                             'or dataroot_lq + dataroot_gt')


def _lmdb_source(opt):
    name = opt.get('name')
    if not (opt.get('dataroot_lq') and opt.get('dataroot_gt')):
        raise DatasetOptionError(f'dataset {name!r}: io_backend lmdb needs dataroot_lq and dataroot_gt '
                                 '(the src.lmdb and tar.lmdb folders)')
    if not opt.get('split_file'):
        raise DatasetOptionError(f'dataset {name!r}: io_backend lmdb needs split_file (train.txt, val.txt or test.txt '
                                 'beside the LMDBs; the LMDB\'s meta_info.txt means every key)')
    return LmdbPairSource(opt['dataroot_lq'], opt['dataroot_gt'], opt['split_file'])


class CachedSource:
    """A source whose images come from a :class:`SharedPairCache`; names and paths from the original source."""

    def __init__(self, source, cache):
        self.source, self.cache = source, cache

    def __len__(self):
        return len(self.cache)

    def name(self, index):
        return self.source.name(index)

    def paths(self, index):
        return self.source.paths(index)

    def read(self, index):
        return self.cache.read(index)

    def shapes(self, index):
        return self.cache.shapes(index)


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
        io_backend (dict): ``{type: disk}`` (default) or ``{type: lmdb}``: then dataroot_lq / dataroot_gt are
            the ``src.lmdb`` / ``tar.lmdb`` folders written by scripts/make_lmdb.py (or stock BasicSR LMDBs).
        split_file (str): with lmdb, the keys to use, one per line: ``train.txt`` / ``val.txt`` / ``test.txt``
            beside the LMDBs (give the LMDB's ``meta_info.txt`` to use every key).
        cache (str): ``none`` (default) or ``memory``: decode every pair once into uint8 RAM shared by all
            DataLoader workers, then crop from RAM; the RAM needed is logged first and checked against the
            available RAM.
        cache_threads (int): threads decoding the cache (default min(8, CPU count)).
        gt_size (int): training patch size; required when phase is 'train'. Val/test return whole images.
        use_hflip, use_rot (bool): random flips / 90-degree rotations in training (default false).
        output_dtype (str): ``float32`` (default) or ``uint8``: samples stay 8-bit RGB until EnhanceModel
            converts them on its device, so DataLoader workers ship 4x fewer bytes per patch.

    Training samples are one random ``gt_size`` crop, cut at the same place in both images and given the
    same flips, before conversion to float. The target's colours are never augmented: they are what is learnt.
    Each item is BasicSR's dict: ``lq`` and ``gt`` float32 RGB (3, H, W) in [0, 1], ``lq_path``, ``gt_path``.
    A pair whose two images differ in size raises ``PairSizeMismatchError`` naming the pair.
    """

    # what the docstring lists; the option-file check at start-up refuses other keys (with BasicSR's dataloader keys)
    OPTION_KEYS = frozenset({'name', 'phase', 'dataroot', 'meta_file', 'dataroot_lq', 'dataroot_gt', 'io_backend',
                             'split_file', 'cache', 'cache_threads', 'gt_size', 'use_hflip', 'use_rot',
                             'output_dtype'})

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

        backend_type = (opt.get('io_backend') or {}).get('type', 'disk')
        if backend_type == 'disk':
            self.source = _disk_source(opt)
        elif backend_type == 'lmdb':
            self.source = _lmdb_source(opt)
        else:
            raise DatasetOptionError(f'dataset {opt.get("name")!r}: unknown io_backend type {backend_type!r}')

        self.output_dtype = opt.get('output_dtype', 'float32')
        if self.output_dtype not in ('float32', 'uint8'):
            raise DatasetOptionError(f'dataset {opt.get("name")!r}: output_dtype must be float32 or uint8, '
                                     f'got {self.output_dtype!r}')

        cache = opt.get('cache') or 'none'
        if cache == 'memory':
            logger = get_root_logger()
            self.source = CachedSource(self.source, SharedPairCache(
                self.source, num_threads=opt.get('cache_threads'),
                log=lambda msg: logger.info(f'[{opt.get("name")}] {msg}')))
        elif cache != 'none':
            raise DatasetOptionError(f'dataset {opt.get("name")!r}: cache must be none or memory, got {cache!r}')

    def __len__(self):
        return len(self.source)

    def random_window(self, src, tar, pair_name):
        """(src crop, tar crop, top, left) of one training sample: a random ``gt_size`` window of the pair."""
        height, width = tar.shape[:2]
        top, left = random_crop_offset(height, width, self.gt_size, pair_name)
        window = (slice(top, top + self.gt_size), slice(left, left + self.gt_size))
        return src[window], tar[window], top, left

    def __getitem__(self, index):
        src, tar = self.source.read(index)
        pair_name = self.source.name(index)
        check_same_size(src, tar, pair_name)
        if self.phase == 'train':
            src, tar, _, _ = self.random_window(src, tar, pair_name)
            src, tar = augment_pair(src, tar, self.use_hflip, self.use_rot)
        lq_path, gt_path = self.source.paths(index)
        as_float = self.output_dtype == 'float32'
        return {'lq': bgr_uint8_to_tensor(src, as_float), 'gt': bgr_uint8_to_tensor(tar, as_float),
                'lq_path': lq_path, 'gt_path': gt_path}
