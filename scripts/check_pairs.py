#!/usr/bin/env python
"""Check before/after listing pairs for defects that would teach the wrong edit; write JSON + print a summary.

Checks: unreadable/missing files, size mismatch, EXIF orientation disagreement, misalignment (shift, rotation and
scale measured on image structure region by region, flagged only when confidently above the limits), near-duplicate
photos across splits (leakage), and tone signals (monotone tone curve, brightness outliers, darkening beyond an
exposure fix, shadows crushed to black, blur), measured on the sRGB pixels training sees. Each threshold is an option
below and each flag states its value and threshold. Notes, not flags: different embedded ICC colour profiles
(profile_mismatch; training converts both to sRGB) and alignment_unmeasurable (too little structure, e.g. a sky).

Examples:
  python scripts/check_pairs.py --pairs datasets/demo/train.jsonl datasets/demo/val.jsonl -o checks.json
  python scripts/check_pairs.py --src-dir raw/before --tar-dir raw/after --exclude raw/clean.jsonl
  python scripts/check_pairs.py --pairs datasets/demo/train.jsonl --contact-sheet flagged.png
  python scripts/check_pairs.py --pairs datasets/demo/train.jsonl --explain 0007_src.jpg

Several manifests are several splits (named after the files: train.jsonl -> train): a photo found in two of them
is flagged in the earlier split of train < val < test. Exit code 0 when no pair is flagged, 1 otherwise, 2 when
the command cannot run as given (unreadable manifest, an output path that is one of the inputs, or an existing
file without --overwrite). Every output is written to a temporary name and renamed.
"""
import argparse
import os
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

# the flags come from this file alone, loaded by path: the package (torch, basicsr) loads once the arguments parse
FLAGS = SimpleNamespace(**runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/cli_flags.py'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--pairs', nargs='+', help='JSONL manifest(s); each one is a split named after its file')
    parser.add_argument('--root', help='folder the manifest paths are relative to (default: each manifest\'s folder)')
    parser.add_argument('--src-dir', help='folder of amateur photos')
    parser.add_argument('--tar-dir', help='folder of edited photos with the same file names')
    parser.add_argument('-o', '--output', default='pair_checks.json', help='JSON report (default pair_checks.json)')
    parser.add_argument('--exclude', metavar='CLEAN.jsonl',
                        help='also write a manifest of the pairs that passed, its paths relative to its own folder '
                             '(it loads without a root wherever it is written); the JSON report records why the '
                             'others were left out')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1, help='processes')
    parser.add_argument('--max-listed', type=int, default=50, help='flagged pairs listed in the summary')
    parser.add_argument('--contact-sheet', metavar='SHEET.png',
                        help='also write a PNG of the flagged pairs (src beside tar, the reasons below)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace output files that already exist (without it an existing file is refused)')
    parser.add_argument('--explain', metavar='ID',
                        help='check only the pair whose name or src/tar path is (or ends with) ID and print all '
                             'its measures; writes nothing (set-level checks need the whole set)')
    FLAGS.add_threshold_arguments(parser)
    return parser.parse_args(argv)


def load(args):
    """(pairs, the split of each pair or None for two folders): several manifests are splits named after their
    files."""
    from realestate_sr.data.pair_lists import pairs_given, readable_pair_names

    pairs, listed_in = pairs_given(args.pairs, args.root, args.src_dir, args.tar_dir)
    if listed_in is None:
        return pairs, None
    return readable_pair_names(pairs), [Path(manifest).stem if len(args.pairs) > 1 else '' for manifest in listed_in]


def check_outputs(args, pairs):
    """Refuse (before any pair is read) an output that is, or is a folder holding, an input, or that exists already
    (without --overwrite)."""
    from realestate_sr.utils.output_safety import (
        check_clear_of_inputs,
        check_distinct_outputs,
        check_file_output,
        check_new_file,
    )

    inputs = [*(args.pairs or ()), args.root, args.src_dir, args.tar_dir,
              *(path for pair in pairs for path in (pair.src, pair.tar))]
    outputs = [path for path in (args.output, args.exclude, args.contact_sheet) if path]
    for output in outputs:
        check_file_output(output)
        check_clear_of_inputs(output, inputs)
        check_new_file(output, args.overwrite)
    check_distinct_outputs(outputs)


def main(argv=None):
    args = parse_args(argv)
    from realestate_sr.data.pair_lists import PairListError, write_manifest
    from realestate_sr.prep.pair_checks import run_checks, thresholds_from_args
    from realestate_sr.utils.output_safety import UnsafeOutputError, atomic_write
    from realestate_sr.utils.wording import counted

    try:
        pairs, splits = load(args)
        check_outputs(args, pairs)
    except (PairListError, UnsafeOutputError) as err:
        print(f'check_pairs: error: {err}', file=sys.stderr)
        return 2
    if args.explain:
        return explain_one(args, pairs, splits)
    report = run_checks(pairs, splits, thresholds_from_args(args), workers=max(1, args.workers), progress=True)
    output = Path(args.output)
    atomic_write(output, report.to_json().encode('utf-8'))
    print(report.summary(max_listed=args.max_listed))
    print(f'report: {output}')
    if args.exclude:
        kept = [pair for pair, result in zip(pairs, report.results) if not result.flags]
        # relative to its own folder, the default root of whatever reads it: written elsewhere than the input
        # manifest, paths relative to that one's folder would all read as missing
        write_manifest(kept, Path(args.exclude), Path(args.exclude).parent)
        print(f'clean manifest: {args.exclude} ({len(kept)} of {counted(len(pairs), "pair")} kept)')
    if args.contact_sheet:
        write_contact_sheet(report.flagged, Path(args.contact_sheet), args.max_listed)
        print(f'contact sheet: {args.contact_sheet} '
              f'({counted(min(len(report.flagged), args.max_listed), "flagged pair")})')
    return 1 if report.flagged else 0


def explain_one(args, pairs, splits):
    """--explain: measure one pair alone and print everything measured on it."""
    from realestate_sr.prep.pair_checks import CheckReport, PairResult, explain, run_checks, thresholds_from_args

    report = CheckReport(thresholds=thresholds_from_args(args), results=[
        PairResult(name=p.name, src=p.src, tar=p.tar) for p in pairs])
    try:
        wanted = report.find(args.explain)
    except KeyError as err:
        print(f'check_pairs: error: --explain: {err.args[0]}', file=sys.stderr)
        return 2
    index = report.results.index(wanted)
    split = splits[index] if splits else ''
    result = run_checks([pairs[index]], [split], report.thresholds).results[0]
    print(explain(result))
    print('(brightness_outlier and duplicate_across_splits compare pairs: run without --explain for them)')
    return 1 if result.flags else 0


def write_contact_sheet(results, path, max_pairs):
    import cv2

    from realestate_sr.prep.pair_checks import contact_sheet
    from realestate_sr.utils.output_safety import atomic_write

    ok, png = cv2.imencode('.png', contact_sheet(results, max_pairs=max_pairs))
    if not ok:
        raise OSError(f'could not encode {path}')
    atomic_write(path, png.tobytes())


if __name__ == '__main__':
    sys.exit(main())
