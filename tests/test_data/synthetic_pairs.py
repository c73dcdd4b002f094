"""Writers of tiny synthetic pair sets, shared by the data tests."""
import json
from pathlib import Path

import cv2
import numpy as np


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


def make_pair_set(root, sizes=((40, 48), (36, 52), (44, 44)), ext='.png', seed=0):
    """Write pairs in both layouts under ``root``: ``images/*_src|_tar`` + ``train.jsonl``, and
    ``src/``, ``tar/`` folders with the same names. Returns (manifest path, src dir, tar dir)."""
    root = Path(root)
    lines = []
    for index, (height, width) in enumerate(sizes):
        tar = make_tar_image(height, width, seed + index)
        src = src_from_tar(tar)
        write_image(root / 'images' / f'{index}_src{ext}', src)
        write_image(root / 'images' / f'{index}_tar{ext}', tar)
        write_image(root / 'src' / f'{index}{ext}', src)
        write_image(root / 'tar' / f'{index}{ext}', tar)
        lines.append(json.dumps({'src': f'images/{index}_src{ext}', 'tar': f'images/{index}_tar{ext}'}))
    manifest = root / 'train.jsonl'
    manifest.write_text('\n'.join(lines) + '\n')
    return manifest, root / 'src', root / 'tar'
