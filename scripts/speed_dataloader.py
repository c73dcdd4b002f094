#!/usr/bin/env python
"""Patches/s of PairedListingDataset in each mode next to stock BasicSR PairedImageDataset, one table.

Two rows time WholePhotoDataset (the whole-photo networks' samples: a crop plus the thumbnails of the whole
source and target photo, --thumb-size) from the memory cache, with its thumbnail cache and without it.

Generates N photo-like 3300x2200 JPEG q92 pairs (or the --size you give), builds stock BasicSR's PNG LMDB and
ours (whole images and sub-images), then times a DataLoader at gt_size 512 with flips and rotations on, with 0
and 2 workers. "per core" divides by max(1, workers). The GB10 line below the table projects the best per-worker
rate of the runs with workers (never a 0-worker run) to the 16 workers of options/nafnet_gb10.yml. Takes the
machine as it is; never asserts a time.

  python scripts/speed_dataloader.py                 # 4 pairs, under a minute on 2 idle cores
  python scripts/speed_dataloader.py --pairs 8 --patches 48 --workdir /tmp/bench
"""
import argparse
import copy
import json
import os
import runpy
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __name__ == '__main__':  # glibc reads its malloc settings only at start-up: re-exec before torch loads
    runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/malloc_tuning.py', run_name='__main__')

import torch
from torch.utils.data import DataLoader

from realestate_sr.data.image_io import write_jpeg
from realestate_sr.data.pair_lists import pairs_from_folders
from realestate_sr.data.paired_listing_dataset import PairedListingDataset
from realestate_sr.data.whole_photo_dataset import WholePhotoDataset
from realestate_sr.prep.lmdb_build import BuildOptions, build_lmdb
from realestate_sr.prep.planted_pairs import amateur_version, make_photo
from realestate_sr.utils.colour import to_uint8
from realestate_sr.utils.output_safety import (
    INFO_FILE,
    MARKER_FIELD,
    UnsafeOutputError,
    is_empty_folder,
    is_own_output,
    write_info,
)

GB10_PATCHES_PER_S = 60  # batch 8 of 512x512 at ~7.5 steps/s
GB10_CORES = 20
TOOL = 'speed_dataloader'
FORMER_TOOL = 'bench_dataloader'  # this script's name before the speed_ rename: what it wrote is ours
WHOLE_PHOTO_ROWS = 'WholePhotoDataset'  # how those rows' labels start
# what this script writes into WORKDIR/data; a rebuild deletes these and nothing else
GENERATED = ('src', 'tar', 'stock_src.lmdb', 'stock_tar.lmdb', 'ours_whole', 'ours_sub', INFO_FILE)
GB10_WORKERS = 16  # num_worker_per_gpu of options/nafnet_gb10.yml: 4 of the 20 cores stay with the training process


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--pairs', type=int, default=4, help='generated pairs (default 4)')
    parser.add_argument('--size', type=int, nargs=2, default=(2200, 3300), metavar=('H', 'W'))
    parser.add_argument('--gt-size', type=int, default=512)
    parser.add_argument('--patches', type=int, default=32, help='patches timed per row, after one warm-up batch')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 2])
    parser.add_argument('--thumb-size', type=int, default=512,
                        help='WholePhotoDataset rows: thumbnail side (options/bilateral_grid_gb10.yml: 512)')
    parser.add_argument('--sub-size', type=int, default=640)
    parser.add_argument('--sub-step', type=int, default=320)
    parser.add_argument('--lmdb-encoding', default='jpg', choices=('png', 'jpg', 'raw'),
                        help='encoding of our LMDBs (stock BasicSR LMDB is always PNG level 1)')
    parser.add_argument('--workdir', help='keep generated data in WORKDIR/data and reuse it (default: a temporary '
                        'folder, removed); a WORKDIR/data this script did not write is refused')
    return parser.parse_args(argv)


def generate(root, count, size):
    for index in range(count):
        tar = make_photo(*size, seed=index)
        write_jpeg(root / 'tar' / f'{index:03d}.jpg', to_uint8(tar), quality=92)
        write_jpeg(root / 'src' / f'{index:03d}.jpg', to_uint8(amateur_version(tar, seed=100 + index)), quality=92)


def stock_lmdb(root):
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs  # stock BasicSR: importable once realestate_sr is

    for role in ('src', 'tar'):
        names = sorted(p.name for p in (root / role).iterdir())
        make_lmdb_from_imgs(str(root / role), str(root / f'stock_{role}.lmdb'), names,
                            [Path(n).stem for n in names], compress_level=1)


def time_loader(dataset, workers, patches, batch):
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers, drop_last=False,
                        persistent_workers=False, multiprocessing_context='fork' if workers else None)
    seen, started = 0, None
    while seen < patches:
        for data in loader:  # epochs repeat: a few pairs give few items per epoch
            if started is None:  # first batch is the warm-up (worker start, page cache)
                started = time.perf_counter()
                continue
            seen += data['gt'].shape[0]
            if seen >= patches:
                break
    return seen / (time.perf_counter() - started)


class Enlarged(torch.utils.data.Dataset):
    """Repeats a dataset so a few whole-image pairs give enough items per epoch (like dataset_enlarge_ratio)."""

    def __init__(self, dataset, times):
        self.dataset, self.times = dataset, times

    def __len__(self):
        return len(self.dataset) * self.times

    def __getitem__(self, index):
        return self.dataset[index % len(self.dataset)]


def whole_photo(stock, thumb_size, thumb_cache):
    """WholePhotoDataset over the same pairs, memory cache, uint8 crops (as options/bilateral_grid_gb10.yml)."""
    return WholePhotoDataset(dict(stock, name='whole', cache='memory', output_dtype='uint8', thumb_size=thumb_size,
                                  thumb_cache=thumb_cache))


def written_under_former_name(folder, info):
    return info is not None and info.get(MARKER_FIELD) == FORMER_TOOL


def prepare_data(root, count, size):
    """Generate ``count`` pairs into ``root``, or reuse the ones a previous run generated there.

    ``root`` must be missing, empty or written by this script (its build_info.json): a user's folder of the
    same name is never deleted nor added to. A rebuild removes only the GENERATED entries.
    """
    root = Path(root)
    if root.exists() or root.is_symlink():
        if not is_empty_folder(root) and not is_own_output(root, TOOL, accept_older=written_under_former_name):
            raise UnsafeOutputError(f'{root} exists and was not written by {TOOL} (no {INFO_FILE} of it); nothing '
                                    'was changed: pass another --workdir')
        info = json.loads((root / INFO_FILE).read_text()) if (root / INFO_FILE).is_file() else {}
        if info.get('pairs') == count and info.get('size') == list(size):
            return False
        for name in GENERATED:
            target = root / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
    root.mkdir(parents=True, exist_ok=True)
    # marked before anything is generated, counts only at the end: a killed run leaves a folder the next run
    # knows as its own and rebuilds
    write_info(root, TOOL, pairs=None, size=None)
    generate(root, count, size)
    stock_lmdb(root)
    write_info(root, TOOL, pairs=count, size=list(size))
    return True


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix='speed_dataloader_'))
    try:
        return run(args, workdir / 'data')
    except UnsafeOutputError as err:
        print(f'speed_dataloader: error: {err}', file=sys.stderr)
        return 2
    finally:
        if not args.workdir:
            shutil.rmtree(workdir)


def run(args, root):
    from basicsr.data.paired_image_dataset import PairedImageDataset  # stock BasicSR: importable once realestate_sr is

    t0 = time.time()
    prepare_data(root, args.pairs, args.size)
    pairs = pairs_from_folders(root / 'src', root / 'tar')
    common = dict(checks=False, val_fraction=0.0, encoding=args.lmdb_encoding, workers=min(2, os.cpu_count() or 1),
                  force=True)
    build_lmdb(pairs, root / 'ours_whole', BuildOptions(**common))
    build_lmdb(pairs, root / 'ours_sub', BuildOptions(sub_size=args.sub_size, sub_step=args.sub_step, **common))
    setup_s = time.time() - t0

    train = dict(phase='train', gt_size=args.gt_size, use_hflip=True, use_rot=True, scale=1)
    stock = dict(train, io_backend={'type': 'disk'}, dataroot_lq=str(root / 'src'), dataroot_gt=str(root / 'tar'))
    ours_lmdb = dict(train, io_backend={'type': 'lmdb'})
    enlarge = max(1, (args.patches + 2 * args.batch) // args.pairs + 1)
    cache_started = time.time()
    cached = PairedListingDataset(dict(stock, name='cache', cache='memory'))
    cache_s = time.time() - cache_started
    cached_uint8 = copy.copy(cached)  # same shared cache, samples left 8-bit for the model to convert
    cached_uint8.output_dtype = 'uint8'
    # stock PairedImageDataset pops keys out of its io_backend dict, so every dataset gets fresh option dicts
    modes = [
        ('stock PairedImageDataset, JPEG folders', lambda: Enlarged(PairedImageDataset(copy.deepcopy(stock)), enlarge)),
        ('stock PairedImageDataset, its PNG LMDB', lambda: Enlarged(PairedImageDataset(dict(
            train, io_backend={'type': 'lmdb'}, dataroot_lq=str(root / 'stock_src.lmdb'),
            dataroot_gt=str(root / 'stock_tar.lmdb'))), enlarge)),
        ('ours, JPEG folders (disk)', lambda: Enlarged(PairedListingDataset(dict(stock, name='disk')), enlarge)),
        (f'ours, LMDB whole images ({args.lmdb_encoding})', lambda: Enlarged(PairedListingDataset(dict(
            ours_lmdb, name='lmdb', dataroot_lq=str(root / 'ours_whole/src.lmdb'),
            dataroot_gt=str(root / 'ours_whole/tar.lmdb'), split_file=str(root / 'ours_whole/train.txt'))), enlarge)),
        (f'ours, LMDB sub-images {args.sub_size}/{args.sub_step} ({args.lmdb_encoding})',
         lambda: PairedListingDataset(dict(ours_lmdb, name='sub', dataroot_lq=str(root / 'ours_sub/src.lmdb'),
                                           dataroot_gt=str(root / 'ours_sub/tar.lmdb'),
                                           split_file=str(root / 'ours_sub/train.txt')))),
        ('ours, memory cache (decoded uint8)', lambda: Enlarged(cached, enlarge)),
        ('ours, memory cache, uint8 batches', lambda: Enlarged(cached_uint8, enlarge)),
        (f'{WHOLE_PHOTO_ROWS}, memory cache, thumbnails {args.thumb_size} px per sample',
         lambda: Enlarged(whole_photo(stock, args.thumb_size, thumb_cache=False), enlarge)),
        (f'{WHOLE_PHOTO_ROWS}, memory cache + thumbnail cache ({args.thumb_size} px)',
         lambda: Enlarged(whole_photo(stock, args.thumb_size, thumb_cache=True), enlarge)),
    ]
    rates = {}
    for label, make in modes:
        for workers in args.workers:
            rates[label, workers] = time_loader(make(), workers, args.patches, args.batch)

    h, w = args.size
    print(f'\n{args.pairs} pairs of {w}x{h} JPEG q92, gt_size {args.gt_size}, flips+rot, batch {args.batch}, '
          f'{args.patches} patches per cell, {os.cpu_count()} CPU cores, torch threads 1; setup {setup_s:.0f} s, '
          f'memory cache fill {cache_s:.1f} s')
    header = '| mode | ' + ' | '.join(f'patches/s, {n} workers | per core, {n} workers | vs stock disk, {n} workers'
                                       for n in args.workers) + ' |'
    print(header)
    print('|' + '---|' * (1 + 3 * len(args.workers)))
    base_label = modes[0][0]
    for label, _ in modes:
        cells = []
        for workers in args.workers:
            rate = rates[label, workers]
            cells += [f'{rate:.1f}', f'{rate / max(1, workers):.1f}', f'{rate / rates[base_label, workers]:.1f}x']
        print(f'| {label} | ' + ' | '.join(cells) + ' |')
    print('\n' + gb10_projection(rates, args.gt_size))
    return 0


def gb10_projection(rates, gt_size):
    """The footer line: best per-worker rate of the runs with workers, times the workers the GB10 YAML uses.

    Runs with 0 workers are left out: they load in the main process and skip the transfer of every batch from a
    worker, which training with workers pays (for the memory cache that transfer costs more than the cropping).
    So are the WholePhotoDataset rows: the line projects NAFNet's feed.
    """
    with_workers = {key: rate for key, rate in rates.items()
                    if key[1] >= 1 and not key[0].startswith(WHOLE_PHOTO_ROWS)}
    need = (f'GB10 feed: batch 8 of {gt_size}x{gt_size} at ~7.5 steps/s needs ~{GB10_PATCHES_PER_S} patches/s; '
            f'the GB10 has {GB10_CORES} cores and options/nafnet_gb10.yml runs {GB10_WORKERS} workers, leaving '
            f'{GB10_CORES - GB10_WORKERS} to the training process (batch collation, CUDA launches, logging).')
    if not with_workers:
        return need + ' No run with workers >= 1 here, so no projection (pass --workers 0 2).'
    (label, workers), rate = max(with_workers.items(), key=lambda item: item[1] / item[0][1])
    per_worker = rate / workers
    return (need + f'\nProjection: best per worker here ({label}, {workers} workers) {per_worker:.1f} x '
            f'{GB10_WORKERS} workers = {per_worker * GB10_WORKERS:.0f} patches/s (at the per-worker rate of the '
            'cores measured here).')


if __name__ == '__main__':
    sys.exit(main())
