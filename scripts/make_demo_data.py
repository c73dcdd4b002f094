#!/usr/bin/env python
"""Build the embedded demo set: before/after pairs from real photographs shipped inside scikit-image.

Each bundled colour photo plays the professional edit (``tar``); the amateur
capture model of ``realestate_sr/data/amateur_capture.py`` makes its ``src``.
Photos of the same scene (the two motorcycle stereo views) stay in one split,
so no scene leaks from training into validation.

Writes OUT/images/<name>_v<k>_{src,tar}.jpg, OUT/train.jsonl, OUT/val.jsonl and
OUT/capture_params.json. The folder is built under a temporary name and renamed
at the end, so an interrupted run never leaves a half-built set.
"""
import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from realestate_sr.data.amateur_capture import sample_capture_params, simulate_amateur_capture  # noqa: E402

# scene -> bundled files; a scene is the unit of the train/val split
SCENES = {
    'astronaut': ['astronaut.png'],
    'rocket': ['rocket.jpg'],
    'motorcycle': ['motorcycle_left.png', 'motorcycle_right.png'],
    'coffee': ['coffee.png'],
    'chelsea': ['chelsea.png'],
}
VAL_SCENES = ('coffee', 'chelsea')
TARGET_JPEG_QUALITY = 95


def skimage_data_dir():
    import skimage.data
    return Path(skimage.data.__file__).parent


def read_rgb(path):
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f'cannot read bundled photo {path}')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def write_jpeg(path, rgb, quality):
    bgr = cv2.cvtColor((np.clip(rgb, 0, 1) * 255.0 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]):
        raise OSError(f'cannot write {path}')


def build(out_dir, train_variants, val_variants, seed):
    rng = np.random.default_rng(seed)
    data_dir = skimage_data_dir()
    (out_dir / 'images').mkdir(parents=True)
    manifests = {'train': [], 'val': []}
    params_log = {}
    for scene, files in SCENES.items():
        split = 'val' if scene in VAL_SCENES else 'train'
        variants = val_variants if split == 'val' else train_variants
        for file_name in files:
            target = read_rgb(data_dir / file_name)
            stem = Path(file_name).stem
            for variant in range(variants):
                name = f'{stem}_v{variant}'
                params = sample_capture_params(rng)
                source = simulate_amateur_capture(target, params, rng)
                write_jpeg(out_dir / 'images' / f'{name}_src.jpg', source, params.jpeg_quality)
                write_jpeg(out_dir / 'images' / f'{name}_tar.jpg', target, TARGET_JPEG_QUALITY)
                manifests[split].append({'src': f'images/{name}_src.jpg', 'tar': f'images/{name}_tar.jpg',
                                         'scene': scene})
                params_log[name] = params.as_dict()
    for split, rows in manifests.items():
        with (out_dir / f'{split}.jsonl').open('w') as handle:
            handle.writelines(json.dumps(row) + '\n' for row in rows)
    (out_dir / 'capture_params.json').write_text(json.dumps(params_log, indent=1))
    return manifests


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-o', '--out', default='datasets/demo', help='output folder (default: %(default)s)')
    parser.add_argument('--train-variants', type=int, default=3, help='amateur captures per training photo')
    parser.add_argument('--val-variants', type=int, default=2, help='amateur captures per validation photo')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='replace an existing output folder')
    args = parser.parse_args(argv)

    out_dir = Path(args.out)
    if out_dir.exists() and not args.force:
        print(f'{out_dir} exists; keeping it (use --force to rebuild)')
        return 0
    start = time.time()
    partial = out_dir.with_name(out_dir.name + '.partial')
    shutil.rmtree(partial, ignore_errors=True)
    manifests = build(partial, args.train_variants, args.val_variants, args.seed)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    partial.rename(out_dir)
    counts = ', '.join(f'{len(rows)} {split} pairs' for split, rows in manifests.items())
    print(f'demo set: {counts} in {out_dir} ({time.time() - start:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
