#!/usr/bin/env python
"""Confusion table of the pair checks on real photographs: good pairs and planted geometric defects.

The photographs that ship in the scikit-image wheel (realestate_sr.prep.planted_pairs.PACKAGE_PHOTOS) are the
edits (tar); each gets one good pair per photometric change of its src (exposure -2..+1 EV, white-balance casts,
contrast, lifted blacks, shadow recovery, noise, JPEG, vignetting) and one pair per planted defect (shift 2, 4,
12 px; rotation 0.5, 2 deg; scale 2 %; crop-rescale; swapped pair; EXIF orientation on src). Prints the table
(planted kind x flag), the false alarms (good pairs flagged), the misses (defects not flagged) and the check time
per pair. Exit code 1 when there is a false alarm or a miss.

--tone calibrates the darkening checks instead: each photo is src, and its listing edits
(realestate_sr.prep.tone_edits.BRIGHTENING_EDITS: +0.9 EV, midtone gamma 0.66, shadows +15 %, highlights +25 %,
saturation -13 %, all of them, milder and stronger) are good tars, its darkening edits (-0.5 and -1 EV, inverse
gamma 1.5, shadows -30 %, shadows crushed) bad ones. Prints, per threshold, how many good pairs it flags and how many
bad ones it catches (docs/data.md, calibration of the darkening checks), then the flags of each edit at the defaults.

  python scripts/speed_pair_checks.py                          # photos at their own size (300-741 px)
  python scripts/speed_pair_checks.py --size 3300 2200 --photos astronaut coffee rocket --workers 1
  python scripts/speed_pair_checks.py --tone --workers 2
"""
import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from realestate_sr.data.pair_lists import load_manifest
from realestate_sr.prep.pair_checks import CHECKS, NOTES, CheckThresholds, run_checks
from realestate_sr.prep.planted_pairs import PACKAGE_PHOTOS, load_package_photos, write_photo_test_set
from realestate_sr.prep.tone_edits import DARKER_TAR_CHANGES, write_tone_test_set
from realestate_sr.utils.wording import counted


def confusion(rows, results):
    """kind -> Counter of flags (plus 'clean' and notes) and the false-alarm / miss lists. Pairs whose capture
    change leaves src brighter than tar (tone_edits.DARKER_TAR_CHANGES) are darkening edits, neither."""
    table = defaultdict(Counter)
    false_alarms, misses = [], []
    for row, result in zip(rows, results):
        if row['defect'] == 'none' and row['change'] in DARKER_TAR_CHANGES:
            table['darker tar:' + row['change']]['pairs'] += 1
            table['darker tar:' + row['change']]['clean'] += not result.flags
            for check in result.flags:
                table['darker tar:' + row['change']][check] += 1
            continue
        kind = 'good:' + row['change'] if row['defect'] == 'none' else row['defect']
        table[kind]['pairs'] += 1
        for check in result.flags:
            table[kind][check] += 1
        for note in result.notes:
            table[kind][note] += 1
        if not result.flags:
            table[kind]['clean'] += 1
        if row['defect'] == 'none' and result.flags:
            false_alarms.append(result)
        elif row['defect'] != 'none' and not result.flags:
            misses.append(result)
    return table, false_alarms, misses


def print_table(table):
    columns = ['pairs', 'clean'] + [c for c in CHECKS if any(t[c] for t in table.values())] + \
        [n for n in NOTES if any(t[n] for t in table.values())]
    width = max(len(k) for k in table) + 2
    print(f'{"planted kind":<{width}}' + ''.join(f'{c:>{max(len(c), 5) + 2}}' for c in columns))
    for kind in sorted(table, key=lambda k: (not k.startswith('good:'), k)):
        print(f'{kind:<{width}}' + ''.join(f'{table[kind][c]:>{max(len(c), 5) + 2}}' for c in columns))


# measure of the good pairs -> (threshold field, side a good pair must stay on)
CALIBRATED = {'tone_r2': ('min_tone_r2', 'above'), 'brightness_change_stops': ('max_darkening_stops', 'above -'),
              'shadow_change_stops': ('max_shadow_darkening_stops', 'above -'),
              'crushed_shadows': ('max_crushed_shadows', 'below'), 'sharpness_ratio': ('min_sharpness_ratio', 'above'),
              'brightness_difference': ('min_brightness_difference', 'within +-'),
              'brightness_z': ('brightness_z', 'within +-'), 'shift_px': ('max_shift_px', 'below'),
              'turn_px': ('max_turn_px', 'below')}


def print_distributions(rows, results, thresholds):
    """Spread of each calibrated measure over the good pairs, beside its threshold: how the thresholds were set."""
    import numpy as np
    print(f'{"measure (good pairs)":<24} {"min":>8} {"p5":>8} {"median":>8} {"p95":>8} {"max":>8}  threshold')
    for key, (limit, side) in CALIBRATED.items():
        values = np.array([r.measures.get(key) for row, r in zip(rows, results)
                           if row['defect'] == 'none' and row['change'] not in DARKER_TAR_CHANGES], dtype=float)
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        stats = np.percentile(values, [0, 5, 50, 95, 100])
        print(f'{key:<24} ' + ' '.join(f'{v:>8.3f}' for v in stats) + f'  {side} {getattr(thresholds, limit):g}')


# darkening threshold -> the measure it limits; a pair is flagged when the measure is below -threshold
DARKENING_LIMITS = {'max_darkening_stops': 'brightness_change_stops',
                    'max_shadow_darkening_stops': 'shadow_change_stops'}
SWEEP = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5)


def darkening_sweep(rows, results, name):
    """For each threshold of the darkening check ``name`` (alone): (good pairs flagged, bad pairs caught)."""
    key = DARKENING_LIMITS[name]
    values = {group: [r.measures[key] for row, r in zip(rows, results) if row['group'] == group]
              for group in ('good', 'bad')}
    return [(sum(v < -limit for v in values['good']), sum(v < -limit for v in values['bad'])) for limit in SWEEP]


def print_darkening_sweep(rows, results, thresholds):
    """Per threshold of each darkening check alone: good pairs flagged, bad ones caught."""
    good, bad = (sum(row['group'] == group for row in rows) for group in ('good', 'bad'))
    for name in DARKENING_LIMITS:
        counts = darkening_sweep(rows, results, name)
        print(f'{name + " (alone)":<34}' + ''.join(f'{value:>6g}' for value in SWEEP)
              + f'   (default {getattr(thresholds, name):g})')
        print(f'  {f"good flagged (of {good})":<32}' + ''.join(f'{g:>6}' for g, _ in counts))
        print(f'  {f"bad caught (of {bad})":<32}' + ''.join(f'{c:>6}' for _, c in counts))


def tone_main(args, photos):
    """--tone: the darkening checks on brightening (good) and darkening (bad) edits of each photo."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_tone_test_set(Path(args.keep or tmp), photos)
        rows = [json.loads(line) for line in manifest.read_text().splitlines()]
        report = run_checks(load_manifest(manifest), thresholds=CheckThresholds(), workers=args.workers)
    print(f'{counted(len(photos), "photo")} ({", ".join(sorted(photos))}); {counted(len(rows), "pair")}')
    print_darkening_sweep(rows, report.results, report.thresholds)
    table = defaultdict(Counter)
    for row, result in zip(rows, report.results):
        kind = f'{row["group"]}:{row["edit"]}'
        table[kind]['pairs'] += 1
        table[kind]['clean'] += not result.flags
        for check in result.flags:
            table[kind][check] += 1
    print_table(table)
    # brightness_outlier compares a tar with the other pairs' tars, not with its src: not a darkening check
    darkening = ('darkening_edit', 'darker_shadows')
    wrong = [(row, result) for row, result in zip(rows, report.results)
             if (row['group'] == 'good') == any(check in result.flags for check in darkening)]
    for row, result in wrong:
        print(f'  {"false alarm" if row["group"] == "good" else "miss"}: {row["tar"]} {result.flags or ""}')
    print(f'darkening flags: false alarms {sum(row["group"] == "good" for row, _ in wrong)} of '
          f'{sum(row["group"] == "good" for row in rows)} good pairs, misses '
          f'{sum(row["group"] == "bad" for row, _ in wrong)} of {sum(row["group"] == "bad" for row in rows)}')
    return 1 if wrong else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', type=int, nargs=2, metavar=('W', 'H'), help='resize every photo (bicubic)')
    parser.add_argument('--photos', nargs='+', help=f'subset of {", ".join(Path(p).stem for p in PACKAGE_PHOTOS)}')
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument('--keep', metavar='DIR', help='write the set and report here instead of a temporary folder')
    parser.add_argument('--explain', action='store_true', help='print the measures of every false alarm and miss')
    parser.add_argument('--tone', action='store_true',
                        help='calibrate the darkening checks on brightening and darkening edits of the photos')
    parser.add_argument('--distributions', action='store_true',
                        help='print the spread of the calibrated measures over the good pairs beside the thresholds')
    args = parser.parse_args(argv)
    names = PACKAGE_PHOTOS if not args.photos else [p for p in PACKAGE_PHOTOS if Path(p).stem in args.photos]
    photos = load_package_photos(names, size=args.size)
    if not photos:
        print('speed_pair_checks: no package photographs found (is scikit-image installed?)', file=sys.stderr)
        return 2
    if args.tone:
        return tone_main(args, photos)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        start = time.perf_counter()
        manifest = write_photo_test_set(root, photos)
        written = time.perf_counter() - start
        rows = [json.loads(line) for line in manifest.read_text().splitlines()]
        pairs = load_manifest(manifest)
        start = time.perf_counter()
        report = run_checks(pairs, thresholds=CheckThresholds(), workers=args.workers)
        checked = time.perf_counter() - start
        if args.keep:
            (root / 'checks.json').write_text(report.to_json(), encoding='utf-8')
    table, false_alarms, misses = confusion(rows, report.results)
    sizes = sorted({f'{img.shape[1]}x{img.shape[0]}' for img in photos.values()})
    print(f'{counted(len(photos), "photo")} ({", ".join(sorted(photos))}), sizes {", ".join(sizes)}; '
          f'{counted(len(pairs), "pair")}')
    print_table(table)
    good = sum(r['defect'] == 'none' and r['change'] not in DARKER_TAR_CHANGES for r in rows)
    planted = sum(r['defect'] != 'none' for r in rows)
    print(f'false alarms: {len(false_alarms)} of {good} good pairs; misses: {len(misses)} of {planted} '
          f'planted defects')
    if args.distributions:
        print_distributions(rows, report.results, report.thresholds)
    for result in false_alarms + misses:
        kind = 'false alarm' if result in false_alarms else 'miss'
        print(f'  {kind}: {result.name} {result.flags or ""}')
        if args.explain:
            print('    ' + json.dumps({k: v for k, v in result.measures.items() if k != 'regions'}))
    print(f'check time: {checked:.1f} s for {counted(len(pairs), "pair")} with {counted(args.workers, "worker")} = '
          f'{checked / len(pairs):.3f} s per pair ({checked * args.workers / len(pairs):.3f} s per pair per worker); '
          f'writing the set took {written:.1f} s')
    return 1 if false_alarms or misses else 0


if __name__ == '__main__':
    sys.exit(main())
