#!/usr/bin/env python
"""Write a synthetic pair set with one planted bad pair per pair check, to try scripts/check_pairs.py on.

  python scripts/make_planted_pairs.py -o /tmp/planted --good 10
  python scripts/check_pairs.py --pairs /tmp/planted/train.jsonl /tmp/planted/test.jsonl -o /tmp/planted_checks.json

train.jsonl lists every pair with a "defect" field naming what was planted ("none" for good pairs); test.jsonl
holds the test-split twin of the duplicated photo. The folder is written under a temporary name and renamed
at the end (the next run removes the temporary folder a killed run left); --force replaces only a folder this
script wrote that holds nothing else (exit code 2 otherwise).
"""
import argparse
import shutil
import sys
from pathlib import Path

from realestate_sr.prep.planted_pairs import FILE_DEFECTS, PLANTED_DEFECTS, write_planted_set
from realestate_sr.utils.output_safety import (
    UnsafeOutputError,
    check_replaceable,
    is_empty_folder,
    remove_stale_temps,
    replace_folder,
    temp_sibling,
    write_info,
)

TOOL = 'make_planted_pairs'
LAYOUT = {'images': ('*_src.jpg', '*_tar.jpg'), 'train.jsonl': None, 'test.jsonl': None, 'build_info.json': None}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-o', '--output', required=True, help='folder to write (must not exist unless --force)')
    parser.add_argument('--good', type=int, default=10, help='good pairs besides the planted ones')
    parser.add_argument('--size', type=int, nargs=2, default=(384, 512), metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true')
    args = parser.parse_args(argv)
    output = Path(args.output)
    for name in remove_stale_temps(output, 'partial'):
        print(f'removed {name}, the unfinished build of a run that was killed')
    if (output.exists() or output.is_symlink()) and not is_empty_folder(output):
        try:
            check_replaceable(output, TOOL, LAYOUT)
        except UnsafeOutputError as err:
            print(f'make_planted_pairs: error: {err}', file=sys.stderr)
            return 2
        if not args.force:
            print(f'make_planted_pairs: error: {output} holds a planted set (use --force to replace it)',
                  file=sys.stderr)
            return 2
    temp = temp_sibling(output, 'partial')
    try:
        write_planted_set(temp, good=args.good, size=tuple(args.size), seed=args.seed)
        write_info(temp, TOOL, command=sys.argv, good=args.good, size=list(args.size), seed=args.seed)
        replace_folder(temp, output)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    manifest = output / 'train.jsonl'
    planted = len(PLANTED_DEFECTS) + len(FILE_DEFECTS)
    print(f'wrote {args.good} good and {planted} planted pairs (+1 test twin) to {output}: {manifest}, '
          f'{output / "test.jsonl"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
