#!/usr/bin/env python
"""Pack before/after listing pairs into src/tar LMDBs with train/val/test splits for PairedListingDataset.

Examples:
  python scripts/make_lmdb.py --pairs datasets/listings/all.jsonl --root datasets/listings \\
      -o datasets/listings_lmdb --test-first 50 --sub-size 640 --exclude
  python scripts/make_lmdb.py --src-dir raw/before --tar-dir raw/after -o datasets/x --encoding jpg --dry-run

Then, in the option file (io_backend lmdb):
  dataroot_lq: datasets/listings_lmdb/src.lmdb
  dataroot_gt: datasets/listings_lmdb/tar.lmdb
  split_file: datasets/listings_lmdb/train.txt      (val.txt / test.txt for validation)
and train.jsonl / val.jsonl / test.jsonl list the original photos of each split (for scripts/evaluate.py); an
empty split (--val-fraction 0, no test pairs) gets no manifest.
A photo found in two splits stops the build unless --exclude or --allow-leakage is given. Validation is drawn
after --exclude has left pairs out. An empty train split is refused (exit code 2, nothing written); an empty
validation split is warned about.
Exit codes: 0 built; 1 pairs failed to decode or a photo is in two splits; 2 the command cannot run as given.
See docs/data.md for the layout and the key format.
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
    source = parser.add_argument_group('input (a manifest or two folders)')
    source.add_argument('--pairs', help='JSONL manifest, one {"src": ..., "tar": ...} per line')
    source.add_argument('--root', help='folder the manifest paths are relative to (default: the manifest\'s folder)')
    source.add_argument('--src-dir', help='folder of amateur photos')
    source.add_argument('--tar-dir', help='folder of edited photos with the same file names')
    parser.add_argument('-o', '--output', required=True, help='data set folder to create, e.g. datasets/NAME')
    split = parser.add_argument_group('splits')
    split.add_argument('--test-list', help='file of held-out test pairs: pair names/paths one per line, or JSONL')
    split.add_argument('--test-first', type=int, default=0, help='or: the first K pairs are the test split')
    split.add_argument('--val-fraction', type=float, default=0.1, help='share of the non-test pairs for validation')
    split.add_argument('--seed', type=int, default=0, help='seed of the validation draw')
    store = parser.add_argument_group('storage')
    store.add_argument('--encoding', choices=FLAGS.LMDB_ENCODINGS, default='png',
                       help='png (lossless, default), jpg (smaller, faster to decode, lossy) or raw (uint8 BGR)')
    store.add_argument('--png-level', type=int, default=1, help='PNG compression level 0-9')
    store.add_argument('--jpg-quality', type=int, default=95, help='JPEG quality (4:4:4 chroma)')
    store.add_argument('--sub-size', type=int, default=0,
                       help='cut training pairs into overlapping sub-images of this side (>= the gt_size you train '
                            'with; 0 = store whole); val/test pairs stay whole')
    store.add_argument('--sub-step', type=int, default=0, help='sub-image stride (default sub-size / 2)')
    run = parser.add_argument_group('run')
    run.add_argument('--workers', type=int, default=os.cpu_count() or 1, help='decode/encode processes')
    run.add_argument('--force', action='store_true',
                     help='replace an earlier build in the output folder (only a folder make_lmdb wrote, holding '
                          'nothing else)')
    run.add_argument('--dry-run', action='store_true', help='print the splits and sizes, write nothing')
    run.add_argument('--no-checks', action='store_true', help='skip the pair checks')
    run.add_argument('--exclude', action='store_true', help='leave out pairs flagged by the checks (recorded in '
                                                            'build_info.json with the reasons)')
    run.add_argument('--allow-leakage', action='store_true',
                     help='build even when the checks find a photo in two splits (kept pairs are recorded in '
                          'build_info.json); without it or --exclude such a set is refused')
    FLAGS.add_threshold_arguments(parser)
    return parser.parse_args(argv)


def input_paths(args):
    """The paths given on the command line that the output must not be or hold (the photos are checked too)."""
    root = args.root or (str(Path(args.pairs).parent) if args.pairs else None)
    return [path for path in (args.pairs, root, args.src_dir, args.tar_dir, args.test_list) if path]


def main(argv=None):
    args = parse_args(argv)
    from realestate_sr.data.pair_lists import PairListError, pairs_given
    from realestate_sr.prep.lmdb_build import (
        BuildError,
        BuildOptions,
        LeakageError,
        assign_splits,
        build_lmdb,
        check_output,
        check_train_not_empty,
        map_size_for,
        planned_bytes,
        read_test_list,
        split_counts_line,
    )
    from realestate_sr.prep.pair_checks import thresholds_from_args
    from realestate_sr.utils.wording import counted

    try:
        pairs, _ = pairs_given([args.pairs] if args.pairs else (), args.root, args.src_dir, args.tar_dir)
        options = BuildOptions(
            encoding=args.encoding, png_level=args.png_level, jpg_quality=args.jpg_quality, sub_size=args.sub_size,
            sub_step=args.sub_step, val_fraction=args.val_fraction, seed=args.seed,
            test_names=read_test_list(args.test_list) if args.test_list else (), test_first=args.test_first,
            checks=not args.no_checks, exclude=args.exclude, allow_leakage=args.allow_leakage,
            thresholds=thresholds_from_args(args),
            workers=max(1, args.workers), force=args.force)
        options.validate()
        inputs = input_paths(args)
        check_output(args.output, pairs, options, inputs)
        if args.dry_run:
            splits = assign_splits(pairs, options)
            check_train_not_empty(splits, range(len(pairs)), options)
            raw = planned_bytes(pairs, splits, options)
            counts = {s: splits.count(s) for s in ('train', 'val', 'test')}
            # without the checks nothing is excluded yet, so the real build may draw other validation pairs
            print(f'dry run: {counted(len(pairs), "pair")} -> {counts}; {raw / 2**30:.2f} GiB of pixels per LMDB '
                  f'before {args.encoding} encoding, map size {map_size_for(raw) / 2**30:.2f} GiB; would write '
                  f'{args.output}'
                  f'{" (checks not run in a dry run)" if options.checks else ""}')
            for pair, split in zip(pairs, splits):
                if split == 'test':
                    print(f'  test: {pair.name}')
            if not counts['val']:
                counts_line = split_counts_line(splits, range(len(pairs)))
                print(f'make_lmdb: warning: the val split would be empty ({counts_line})', file=sys.stderr)
            return 0
        summary = build_lmdb(pairs, args.output, options, progress=True, inputs=inputs)
    except LeakageError as err:
        print(err.report.summary(max_listed=20))
        print(f'make_lmdb: error: {err}', file=sys.stderr)
        return 1
    except (BuildError, PairListError, ValueError) as err:
        print(f'make_lmdb: error: {err}', file=sys.stderr)
        return 2
    except OSError as err:
        print(f'make_lmdb: error: {err}', file=sys.stderr)
        return 1

    if summary.removed_partial:
        removed = ', '.join(summary.removed_partial)
        print(f'removed {counted(len(summary.removed_partial), "unfinished earlier build")}: {removed}')
    if summary.report is not None:
        print(summary.report.summary(max_listed=20))
    out = Path(summary.output)
    print(f'\nwrote {out} in {summary.seconds:.1f} s: {summary.bytes_written / 2**20:.1f} MiB of {args.encoding}')
    for split in ('train', 'val', 'test'):
        manifest = (f'{split}.jsonl (original photos)' if f'{split}.jsonl' in summary.manifests
                    else f'no {split}.jsonl (no pairs)')
        print(f'  {split:<5} {summary.split_counts[split]:>5} pairs {summary.record_counts[split]:>7} records -> '
              f'{split}.txt (LMDB keys), {manifest}')
    if summary.excluded:
        print(f'  excluded {counted(len(summary.excluded), "flagged pair")} (reasons in {out / "build_info.json"})')
    if not summary.split_counts['val']:
        counts = ', '.join(f'{s} {summary.split_counts[s]}' for s in ('train', 'val', 'test'))
        print(f'make_lmdb: warning: the val split is empty ({counts}): training has no validation set from this '
              'build (raise --val-fraction or add pairs)', file=sys.stderr)
    if summary.leakage_allowed:
        print(f'  WARNING: kept {counted(len(summary.leakage_allowed), "pair")} whose photo is also in another split '
              f'(--allow-leakage; listed in {out / "build_info.json"})')
    if summary.failed:
        print(f'  FAILED {counted(len(summary.failed), "pair")} (left out):', file=sys.stderr)
        for failure in summary.failed[:20]:
            print(f'    {failure["pair"]}: {failure["error"]}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
