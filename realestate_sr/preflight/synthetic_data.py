"""Synthetic listing pairs in a folder, stored as the recipe reads them: the LMDB layout of scripts/make_lmdb.py
(built by the project's own builder) and/or JSONL manifests of the JPEG files."""
import os
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from realestate_sr.data.image_io import write_jpeg
from realestate_sr.data.pair_lists import PairPaths, write_manifest
from realestate_sr.prep.lmdb_build import BuildOptions, assign_splits, build_lmdb
from realestate_sr.prep.planted_pairs import amateur_version, make_photo
from realestate_sr.utils.colour import to_uint8


@dataclass
class Storage:
    """Where the synthetic pairs are: ``root`` (the JPEGs), ``lmdb`` (make_lmdb's folder, when built),
    ``manifests`` ({'train': path, 'val': path}, when written) and the ``val_photos`` (JPEG paths of the
    sources held out for validation)."""
    root: Path
    lmdb: Path | None = None
    manifests: dict = field(default_factory=dict)
    val_photos: list = field(default_factory=list)


def _write_pair(job):
    index, root, size = job
    tar = make_photo(*size, seed=index)
    pair = PairPaths(src=str(root / 'src' / f'{index:03d}.jpg'), tar=str(root / 'tar' / f'{index:03d}.jpg'),
                     name=f'{index:03d}')
    write_jpeg(Path(pair.tar), to_uint8(tar), quality=92)
    write_jpeg(Path(pair.src), to_uint8(amateur_version(tar, seed=1000 + index)), quality=92)
    return pair


def write_pairs(root, count, size, workers=None):
    """``count`` JPEG q92 pairs of ``size`` (H, W) under ``root``/src and ``root``/tar: a photo-like target and a
    darker, flatter, noisier source (prep.planted_pairs). Made in ``workers`` processes (default: every core)."""
    root = Path(root)
    for side in ('src', 'tar'):
        (root / side).mkdir(parents=True, exist_ok=True)
    jobs = [(index, root, tuple(size)) for index in range(count)]
    workers = max(1, min(count, workers or os.cpu_count() or 1))
    if workers == 1:
        return [_write_pair(job) for job in jobs]
    with get_context('fork').Pool(workers) as pool:
        return pool.map(_write_pair, jobs)


def build_storage(pairs, root, val_count, kinds):
    """Storage of ``pairs`` in each of ``kinds`` ('lmdb', 'manifest'), ``val_count`` of them drawn for validation
    as make_lmdb draws them (the same pairs in both kinds); BuildError / OSError as make_lmdb would raise them."""
    root = Path(root)
    options = BuildOptions(checks=False, val_fraction=val_count / len(pairs), workers=os.cpu_count() or 1)
    splits = assign_splits(pairs, options)
    chosen = {split: [pair for pair, its in zip(pairs, splits) if its == split] for split in ('train', 'val')}
    storage = Storage(root=root, val_photos=[pair.src for pair in chosen['val']])
    if 'lmdb' in kinds:
        storage.lmdb = root / 'listings_lmdb'
        build_lmdb(pairs, storage.lmdb, options)
    if 'manifest' in kinds:
        for split, split_pairs in chosen.items():
            storage.manifests[split] = root / f'{split}.jsonl'
            write_manifest(split_pairs, storage.manifests[split], root)
    return storage
