#!/usr/bin/env python
"""Write a synthetic pair set with one planted bad pair per pair check, to try scripts/check_pairs.py on.

  python scripts/make_planted_pairs.py -o /tmp/planted --good 10
  python scripts/check_pairs.py --pairs /tmp/planted/train.jsonl /tmp/planted/test.jsonl -o /tmp/planted/checks.json

train.jsonl lists every pair with a "defect" field naming what was planted ("none" for good pairs); test.jsonl
holds the test-split twin of the duplicated photo.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import realestate_sr  # noqa: E402,F401
from realestate_sr.data.planted_pairs import FILE_DEFECTS, PLANTED_DEFECTS, write_planted_set  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-o', '--output', required=True, help='folder to write (must not exist unless --force)')
    parser.add_argument('--good', type=int, default=10, help='good pairs besides the planted ones')
    parser.add_argument('--size', type=int, nargs=2, default=(384, 512), metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true')
    args = parser.parse_args(argv)
    output = Path(args.output)
    if output.exists() and not args.force:
        print(f'make_planted_pairs: {output} exists (use --force)', file=sys.stderr)
        return 1
    manifest = write_planted_set(output, good=args.good, size=tuple(args.size), seed=args.seed)
    planted = len(PLANTED_DEFECTS) + len(FILE_DEFECTS)
    print(f'wrote {args.good} good and {planted} planted pairs (+1 test twin) to {output}: {manifest}, '
          f'{output / "test.jsonl"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
