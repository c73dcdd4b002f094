#!/usr/bin/env python
"""Check before/after listing pairs for defects that would teach the wrong edit; write JSON + print a summary.

Checks: unreadable/missing files, size mismatch, EXIF orientation disagreement, misalignment (global shift / scale /
rotation), near-duplicate photos across splits (leakage), and tone signals (gamma-fit R^2, brightness outliers,
darkening edits, darker shadows, blur), measured on the sRGB pixels training sees. Each threshold is an option below.
Different embedded ICC colour profiles are noted (profile_mismatch), not flagged: training converts both to sRGB.

Examples:
  python scripts/check_pairs.py --pairs datasets/demo/train.jsonl datasets/demo/val.jsonl -o checks.json
  python scripts/check_pairs.py --src-dir raw/before --tar-dir raw/after --exclude raw/clean.jsonl

Several manifests are several splits (named after the files: train.jsonl -> train): a photo found in two of them
is flagged in the earlier split of train < val < test. Exit code 0 when no pair is flagged, 1 otherwise, 2 when
the command cannot run as given (unreadable manifest, a report or clean-manifest path that is one of the inputs).
Both outputs are written to a temporary name and renamed.
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import realestate_sr  # noqa: E402,F401  (before basicsr)
from realestate_sr.data.pair_checks import add_threshold_arguments, run_checks, thresholds_from_args  # noqa: E402
from realestate_sr.data.pair_lists import PairListError, load_manifest, pairs_from_folders, write_manifest  # noqa
from realestate_sr.utils.output_safety import UnsafeOutputError, check_clear_of_inputs, check_distinct_outputs, \
    check_file_output, temp_sibling, write_text_atomic  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--pairs', nargs='+', help='JSONL manifest(s); each one is a split named after its file')
    parser.add_argument('--root', help='folder the manifest paths are relative to (default: each manifest\'s folder)')
    parser.add_argument('--src-dir', help='folder of amateur photos')
    parser.add_argument('--tar-dir', help='folder of edited photos with the same file names')
    parser.add_argument('-o', '--output', default='pair_checks.json', help='JSON report (default pair_checks.json)')
    parser.add_argument('--exclude', metavar='CLEAN.jsonl',
                        help='also write a manifest of the pairs that passed (paths relative to --root, or to '
                             'the first manifest\'s folder; with --src-dir/--tar-dir relative to the folder of '
                             'CLEAN.jsonl); the JSON report records why the others were left out')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1, help='processes')
    parser.add_argument('--max-listed', type=int, default=50, help='flagged pairs listed in the summary')
    add_threshold_arguments(parser)
    return parser.parse_args(argv)


def load(args):
    if args.pairs and not (args.src_dir or args.tar_dir):
        pairs, splits = [], []
        for manifest in args.pairs:
            loaded = load_manifest(manifest, args.root)
            pairs += loaded
            splits += [Path(manifest).stem if len(args.pairs) > 1 else ''] * len(loaded)
        return pairs, splits, Path(args.root or Path(args.pairs[0]).parent)
    if args.src_dir and args.tar_dir and not args.pairs:
        # folders have no root of their own: the clean manifest's folder is its default dataroot
        root = Path(args.exclude).parent if args.exclude else None
        return pairs_from_folders(args.src_dir, args.tar_dir), None, root
    raise PairListError('give --pairs or both --src-dir and --tar-dir')


def check_outputs(args, pairs):
    """Refuse (before any pair is read) a report or clean-manifest path that is, or is a folder holding, an input."""
    inputs = [*(args.pairs or ()), args.root, args.src_dir, args.tar_dir,
              *(path for pair in pairs for path in (pair.src, pair.tar))]
    outputs = [path for path in (args.output, args.exclude) if path]
    for output in outputs:
        check_file_output(output)
        check_clear_of_inputs(output, inputs)
    check_distinct_outputs(outputs)


def write_clean_manifest(pairs, path, root):
    temp = temp_sibling(path, 'tmp')
    try:
        write_manifest(pairs, temp, root)
        temp.replace(path)
    finally:
        temp.unlink(missing_ok=True)


def main(argv=None):
    args = parse_args(argv)
    try:
        pairs, splits, root = load(args)
        check_outputs(args, pairs)
    except (PairListError, UnsafeOutputError) as err:
        print(f'check_pairs: error: {err}', file=sys.stderr)
        return 2
    report = run_checks(pairs, splits, thresholds_from_args(args), workers=max(1, args.workers), progress=True)
    output = Path(args.output)
    write_text_atomic(output, report.to_json())
    print(report.summary(max_listed=args.max_listed))
    print(f'report: {output}')
    if args.exclude:
        kept = [pair for pair, result in zip(pairs, report.results) if not result.flags]
        write_clean_manifest(kept, Path(args.exclude), root)
        print(f'clean manifest: {args.exclude} ({len(kept)} of {len(pairs)} pairs kept)')
    return 1 if report.flagged else 0


if __name__ == '__main__':
    sys.exit(main())
