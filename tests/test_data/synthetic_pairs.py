"""Writers of tiny synthetic pair sets and LMDBs of them, shared by the data, prep and other tests."""
import json
from pathlib import Path

import cv2
import numpy as np

from realestate_sr.data import lmdb_io
from realestate_sr.prep.lmdb_build import BuildOptions, build_lmdb
from realestate_sr.prep.planted_pairs import amateur_version, make_photo
from realestate_sr.utils.colour import to_uint8


def src_from_tar(tar_bgr):
    """The known pixel-wise relation the planted pairs obey: src = 255 - tar, channel by channel."""
    return 255 - tar_bgr


def make_tar_image(height, width, seed):
    """A target whose pixels are all different enough to reveal any misplaced crop or flip."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def write_image(path, img_bgr, ext_params=()):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(path.suffix, img_bgr, list(ext_params))
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def write_pair_set(root, pairs, ext='.png', folder_names=None, manifest_name='train.jsonl'):
    """Write (src, tar) BGR pairs in both layouts under ``root``: ``images/<i>_src|_tar`` + a JSONL
    manifest, and ``src/``, ``tar/`` folders where pair i is called ``folder_names[i]`` (default
    ``<i><ext>``). Returns (manifest path, src dir, tar dir)."""
    root = Path(root)
    lines = []
    for index, (src, tar) in enumerate(pairs):
        folder_name = folder_names[index] if folder_names else f'{index}{ext}'
        write_image(root / 'images' / f'{index}_src{ext}', src)
        write_image(root / 'images' / f'{index}_tar{ext}', tar)
        write_image(root / 'src' / folder_name, src)
        write_image(root / 'tar' / folder_name, tar)
        lines.append(json.dumps({'src': f'images/{index}_src{ext}', 'tar': f'images/{index}_tar{ext}'}))
    manifest = root / manifest_name
    manifest.write_text('\n'.join(lines) + '\n')
    return manifest, root / 'src', root / 'tar'


def make_pair_set(root, sizes=((40, 48), (36, 52), (44, 44)), ext='.png', seed=0):
    """Random targets whose src is ``src_from_tar`` of them, written by ``write_pair_set``."""
    targets = [make_tar_image(height, width, seed + index) for index, (height, width) in enumerate(sizes)]
    return write_pair_set(root, [(src_from_tar(tar), tar) for tar in targets], ext=ext)


def good_photo_pairs(count, size=(160, 192), seed=0):
    """Photo-like (src, tar) uint8 BGR pairs that pass every pair check (the noise pairs of make_pair_set are not
    photos)."""
    pairs = []
    for index in range(count):
        tar = make_photo(*size, seed=seed + index)
        pairs.append((to_uint8(amateur_version(tar, seed=seed + 100 + index)), to_uint8(tar)))
    return pairs


def retaken_pair(pair, seed):
    """Another capture of the same scene with the same edit: a near-duplicate photo of ``pair`` (src, tar)."""
    tar = pair[1].astype(np.float32) / 255.0
    return to_uint8(amateur_version(tar, seed=seed, gamma=1.4, gain=0.85)), pair[1]


def resolved_paths(pair):
    """(src, tar) of a PairPaths as absolute paths without '..', to compare pairs read through different roots."""
    return Path(pair.src).resolve(), Path(pair.tar).resolve()


def quick_lmdb(pairs, out, **changes):
    """src/tar LMDBs of ``pairs`` in ``out`` (make_lmdb's layout): no pair checks, every pair in train."""
    return build_lmdb(pairs, out, BuildOptions(checks=False, val_fraction=0.0, **changes))


def lmdb_opt(out, split='train', phase='val', **extra):
    """PairedListingDataset options reading the LMDBs in ``out`` through its ``split`` list."""
    opt = dict(name='l', phase=phase, io_backend={'type': 'lmdb'}, dataroot_lq=str(out / 'src.lmdb'),
               dataroot_gt=str(out / 'tar.lmdb'), split_file=str(out / f'{split}.txt'))
    opt.update(extra)
    return opt


def forget_environments_under(folder):
    """Close and drop the process's environments of LMDBs under ``folder``, as a fresh process would start."""
    root = str(Path(folder).resolve())
    for key in [key for key in lmdb_io._READONLY_ENVIRONMENTS if key[0].startswith(root)]:
        lmdb_io._READONLY_ENVIRONMENTS.pop(key).close()
