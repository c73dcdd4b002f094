#!/usr/bin/env python
"""Write the colour reference that --postprocess match-lab moves outputs towards: a set's mean CIELAB histogram.

The reference is the mean, over the photos, of each CIELAB channel's quantile function
(realestate_sr/inference/postprocess.py, docs/models.md): give it the edited targets of a training set (a
manifest's "tar" files) or a folder of photos in the wanted style. Photos are read one at a time; the JSON
file is written under a temporary name and renamed. Unreadable photos are reported and left out; the exit
code is 1 when any was.

Examples:
  python scripts/make_lab_reference.py --pairs datasets/bench/train.jsonl -o datasets/bench/lab_reference_train.json
  python scripts/make_lab_reference.py --photos style_examples/ -o house_style.json
  python scripts/tiled_infer.py ... --postprocess match-lab --reference house_style.json
"""
import argparse
import sys
import time
from pathlib import Path

from realestate_sr.data.pair_lists import PairListError, load_manifest
from realestate_sr.inference.photo_io import read_photo
from realestate_sr.inference.postprocess import LabReference, PostProcessError
from realestate_sr.utils.photo_decode import PhotoReadError, is_image_file
from realestate_sr.utils.wording import counted


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--pairs', metavar='MANIFEST', help='a JSONL manifest: its targets ("tar") are the photos')
    source.add_argument('--photos', metavar='FOLDER', help='a folder of photos (searched recursively)')
    parser.add_argument('--root', help='data root the manifest paths are relative to (default: its folder)')
    parser.add_argument('-o', '--output', required=True, help='the JSON file to write')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing output file')
    return parser


def photo_paths(args):
    if args.pairs:
        return [Path(pair.tar) for pair in load_manifest(args.pairs, args.root)]
    folder = Path(args.photos)
    if not folder.is_dir():
        raise FileNotFoundError(f'--photos {folder} is not a folder')
    return sorted(path for path in folder.rglob('*') if path.is_file() and is_image_file(path))


def main(argv=None):
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    output = Path(args.output)
    try:
        if args.root and not args.pairs:
            raise ValueError('--root applies to --pairs')
        paths = photo_paths(args)
        if not paths:
            raise ValueError('no photos to read')
        if output.exists() and not args.overwrite:
            raise FileExistsError(f'{output} exists; pass --overwrite to replace it')
        if output.resolve() in {path.resolve() for path in paths}:
            raise ValueError(f'{output} is one of the photos read; choose another output')
    except (PairListError, ValueError, FileNotFoundError, FileExistsError, OSError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    failed = []

    def photos():
        for path in paths:
            try:
                yield read_photo(path).rgb
            except PhotoReadError as err:  # one bad photo must not end the run
                failed.append(f'{path}: {err}')

    try:
        reference = LabReference.from_photos(photos())
        reference.save(output)
    except (PostProcessError, OSError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'{reference.photos}/{counted(len(paths), "photo")} read, {len(failed)} failed, '
          f'{time.perf_counter() - started:.1f} s; '
          f'reference written to {output}')
    for line in failed:
        print(f'FAILED {line}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
