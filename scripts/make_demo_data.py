#!/usr/bin/env python
"""Build the embedded demo set: before/after pairs from real photographs shipped inside scikit-image.

The real task in small: one editing house's style on sources that vary. Each bundled colour photo is the
scene; its ``src`` is an amateur capture of it (``realestate_sr/benchmark/capture_amateur.py``, new parameters
per variant) and its ``tar`` is the house style ``--style`` of it (``realestate_sr/benchmark/styles.py``; default
``bright_airy``, the style calibrated on real professional edits), the same target for every variant.
Photos of the same scene (the two motorcycle stereo views) stay in one split,
so no scene leaks from training into validation.

Writes OUT/images/<name>_v<k>_{src,tar}.jpg, OUT/train.jsonl, OUT/val.jsonl,
OUT/capture_params.json and OUT/build_info.json. The folder is built under a
temporary name and renamed at the end, so an interrupted run never leaves a
half-built set; the next run removes the temporary folder a killed run left.
An existing demo set of this format and style is kept (--force rebuilds it); one
of an older format (``FORMAT_VERSION``) or another style is rebuilt; any other
existing folder is refused (exit code 2), as is --force or a rebuild on a folder
holding files this script did not write.
"""
import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from realestate_sr.benchmark.capture_amateur import sample_capture_params, simulate_amateur_capture
from realestate_sr.benchmark.styles import style, style_names
from realestate_sr.data.image_io import write_jpeg
from realestate_sr.utils.output_safety import (
    UnsafeOutputError,
    check_replaceable,
    is_empty_folder,
    is_own_output,
    read_info,
    remove_stale_temps,
    replace_folder,
    temp_sibling,
    write_info,
)

TOOL = 'make_demo_data'
LAYOUT = {'images': ('*_src.jpg', '*_tar.jpg'), 'train.jsonl': None, 'val.jsonl': None, 'capture_params.json': None,
          'build_info.json': None}

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
DEFAULT_STYLE = 'bright_airy'
# 2: src = a capture of the photo, tar = a house style of it (1, before build_info.json recorded it: tar = the
# photo); a set of another format is rebuilt
FORMAT_VERSION = 2


def skimage_data_dir():
    import skimage.data
    return Path(skimage.data.__file__).parent


def read_rgb(path):
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f'cannot read bundled photo {path}')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def to_bgr_uint8(rgb):
    """uint8 BGR of a float RGB photo, halves rounded up: not utils.colour.to_uint8's halves to even, which would move
    about 0.02 % of the demo set's values by one level and so change its files."""
    return np.ascontiguousarray((np.clip(rgb, 0, 1) * 255.0 + 0.5).astype(np.uint8)[..., ::-1])


def build(out_dir, train_variants, val_variants, seed, style_name=DEFAULT_STYLE):
    rng = np.random.default_rng(seed)
    house_style = style(style_name)
    data_dir = skimage_data_dir()
    (out_dir / 'images').mkdir(parents=True)
    manifests = {'train': [], 'val': []}
    params_log = {}
    for scene, files in SCENES.items():
        split = 'val' if scene in VAL_SCENES else 'train'
        variants = val_variants if split == 'val' else train_variants
        for file_name in files:
            photo = read_rgb(data_dir / file_name)
            target = house_style.apply_style(photo)
            stem = Path(file_name).stem
            for variant in range(variants):
                name = f'{stem}_v{variant}'
                params = sample_capture_params(rng)
                source = simulate_amateur_capture(photo, params, rng)
                write_jpeg(out_dir / 'images' / f'{name}_src.jpg', to_bgr_uint8(source), params.jpeg_quality)
                write_jpeg(out_dir / 'images' / f'{name}_tar.jpg', to_bgr_uint8(target), TARGET_JPEG_QUALITY)
                manifests[split].append({'src': f'images/{name}_src.jpg', 'tar': f'images/{name}_tar.jpg',
                                         'scene': scene})
                params_log[name] = params.as_dict()
    for split, rows in manifests.items():
        with (out_dir / f'{split}.jsonl').open('w') as handle:
            handle.writelines(json.dumps(row) + '\n' for row in rows)
    (out_dir / 'capture_params.json').write_text(json.dumps(params_log, indent=1))
    return manifests


def is_current(folder, style_name):
    """Whether ``folder``'s demo set has this script's format and ``style_name`` as its target."""
    info = read_info(folder) or {}
    return info.get('format_version') == FORMAT_VERSION and info.get('style') == style_name


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-o', '--out', default='datasets/demo', help='output folder (default: %(default)s)')
    parser.add_argument('--train-variants', type=int, default=3, help='amateur captures per training photo')
    parser.add_argument('--val-variants', type=int, default=2, help='amateur captures per validation photo')
    parser.add_argument('--style', default=DEFAULT_STYLE, choices=style_names(),
                        help='the house style of the targets (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='replace an existing output folder')
    args = parser.parse_args(argv)

    out_dir = Path(args.out)
    for name in remove_stale_temps(out_dir, 'partial'):
        print(f'removed {name}, the unfinished build of a run that was killed')
    if (out_dir.exists() or out_dir.is_symlink()) and not is_empty_folder(out_dir):
        own = is_own_output(out_dir, TOOL)
        if not args.force and own and is_current(out_dir, args.style):
            print(f'{out_dir} holds a demo set; keeping it (use --force to rebuild)')
            return 0
        if own and not args.force:
            print(f'{out_dir} holds a demo set of another format or style; rebuilding it')
        try:
            check_replaceable(out_dir, TOOL, LAYOUT)
        except UnsafeOutputError as err:
            print(f'make_demo_data: error: {err}', file=sys.stderr)
            return 2
    start = time.time()
    partial = temp_sibling(out_dir, 'partial')
    try:
        manifests = build(partial, args.train_variants, args.val_variants, args.seed, args.style)
        write_info(partial, TOOL, command=sys.argv, format_version=FORMAT_VERSION, seed=args.seed,
                   train_variants=args.train_variants, val_variants=args.val_variants, style=args.style,
                   style_recipe=style(args.style).RECIPE)
        replace_folder(partial, out_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    counts = ', '.join(f'{len(rows)} {split} pairs' for split, rows in manifests.items())
    print(f'demo set: {counts} (amateur captures -> {args.style}) in {out_dir} ({time.time() - start:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
