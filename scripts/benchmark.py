#!/usr/bin/env python
"""Train recipes on the benchmark and score them on photos and capture conditions never seen in training.

For each recipe (an option file), in order: a copy of the YAML pointed at the benchmark's training pairs
(realestate_sr/benchmark/recipes.py says what changes), training through realestate_sr/train.py for the
recipe's own budget (train.total_iter; --iters overrides it for every recipe), then scripts/evaluate.py on
the test photos at full resolution, tiled as the recipe's val block says. Baseline rows (input,
auto_correct) and the oracle rows (a global colour map fitted per photo on its own target) are scored once.
Prints one table per family and overall (PSNR / SSIM / dE00 / L1, mean ± sd over photos) and a cost table
(training seconds and peak memory, inference seconds, GMAC per 3300x2200 photo); writes benchmark.json and
benchmark.md into --out. Nothing is asserted: the machine is measured as it is. See docs/benchmark.md.

Build the data first: python scripts/make_bench_data.py

Examples:
  python scripts/benchmark.py                                       # today's recipes, full test split
  python scripts/benchmark.py options/nafnet_demo.yml my_recipe.yml # these recipes
  python scripts/benchmark.py --quick                               # 2 test photos, 2 iterations: a smoke run
  python scripts/benchmark.py --split val my_recipe.yml             # tune on the val photos, report on test
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from realestate_sr.benchmark import report
from realestate_sr.benchmark.macs import photo_macs
from realestate_sr.benchmark.oracle import ORACLE_FUNCTIONS
from realestate_sr.benchmark.recipes import RecipeError, bench_options, evaluate_args, training_budget
from realestate_sr.utils.tiling import validation_tile

REPO = Path(__file__).resolve().parents[1]

DEFAULT_RECIPES = ('options/nafnet_demo.yml', 'options/bench/nafnet_demo_ctx256.yml',
                   'options/bench/bilateral_grid_whole.yml', 'options/bench/bilateral_grid_light.yml')
BASELINES = ('input', 'auto_correct')
QUICK_PHOTOS = 2
SPLITS = ('test', 'val')
QUICK_ITERS = 2
# glibc otherwise returns big activation buffers to the kernel after each op (../shared/FACTS.md)
MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296'


class BenchmarkSetupError(Exception):
    """Missing benchmark data or an unusable recipe list: nothing was run."""


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('recipes', nargs='*', default=list(DEFAULT_RECIPES),
                        help=f'option files to train and score (default: {" ".join(DEFAULT_RECIPES)})')
    parser.add_argument('--data', default='datasets/bench', help='benchmark folder (default: %(default)s)')
    parser.add_argument('-o', '--out', default='results/bench', help='results folder (default: %(default)s)')
    parser.add_argument('--iters', type=int, help='train every recipe for this many iterations instead of its '
                        'own train.total_iter (scheduler periods scaled)')
    parser.add_argument('--photos', type=int, help='score only the first N test photos (all their pairs)')
    parser.add_argument('--split', choices=SPLITS, default='test',
                        help='photos to score: test (what a report quotes) or val (where recipe choices are made, '
                        'so that the test photos stay unseen by those choices too; default: %(default)s)')
    parser.add_argument('--quick', action='store_true',
                        help=f'smoke run: {QUICK_PHOTOS} test photos, {QUICK_ITERS} iterations (unless --photos/'
                        '--iters say otherwise)')
    parser.add_argument('--experiment-prefix', default='bench_',
                        help='experiments/<prefix><recipe>/ (replaced on every run; default: %(default)s)')
    parser.add_argument('--no-oracle', action='store_true', help='leave the oracle rows out')
    return parser


def run_measured(command, log_path, env):
    """Run ``command`` with output to ``log_path``; (exit code, wall seconds, peak RSS of the child in MB)."""
    started = time.perf_counter()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, 'w', encoding='utf-8') as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, time.perf_counter() - started, usage.ru_maxrss / 1024.0


def last_lines(path, count=3):
    try:
        lines = [line for line in Path(path).read_text(encoding='utf-8', errors='replace').splitlines() if line]
    except OSError:
        return ''
    return ' | '.join(lines[-count:])


def select_test_rows(data_dir, photos, split='test'):
    rows = report.read_manifest(data_dir / f'{split}.jsonl')
    if photos:
        keep = sorted({row['photo'] for row in rows})[:photos]
        rows = [row for row in rows if row['photo'] in keep]
    return rows


def write_oracles(rows, data_dir, out_dir):
    """Oracle outputs as 8-bit PNGs named like the pairs' src paths, one folder per oracle."""
    import cv2
    import numpy as np

    from realestate_sr.data.image_io import read_bgr
    folders = {name: out_dir / name for name in ORACLE_FUNCTIONS}
    failures = []
    for row in rows:
        try:
            src = read_bgr(data_dir / row['src'])[:, :, ::-1].astype(np.float32) / 255.0
            tar = read_bgr(data_dir / row['tar'])[:, :, ::-1].astype(np.float32) / 255.0
            for name, function in ORACLE_FUNCTIONS.items():
                path = (folders[name] / row['src']).with_suffix('.png')
                path.parent.mkdir(parents=True, exist_ok=True)
                bgr = (np.clip(function(src, tar), 0, 1) * 255.0 + 0.5).astype(np.uint8)[:, :, ::-1]
                if not cv2.imwrite(str(path), bgr):
                    raise OSError(f'cannot write {path}')
        except Exception as err:  # noqa: BLE001  one bad pair costs its oracle rows, not the run
            failures.append(f'oracles for {row["src"]}: {err}')
    return folders, failures


def read_report(report_dir, rc, log_path, what, failures):
    """Scores of an evaluate.py run: all of them when it succeeded, the scored pairs when some failed (exit 1),
    none when it could not run; what went wrong goes to ``failures``."""
    metrics = report_dir / 'metrics.json'
    if rc not in (0, 1) or not metrics.is_file():
        failures.append(f'{what}: evaluate.py exited {rc}: {last_lines(log_path)}')
        return None
    if rc == 1:
        failures.append(f'{what}: some pairs failed (listed in {metrics})')
    return report.scores_by_pair(metrics) + (report.metric_directions(metrics),)


def evaluate_command(test_manifest, data_dir, report_dir, opt=None, checkpoint=None, baselines=(), preds=(),
                     extra=()):
    command = [sys.executable, str(REPO / 'scripts' / 'evaluate.py'), '--pairs', str(test_manifest),
               '--root', str(data_dir), '--baselines', ','.join(baselines), '--skip-lpips', '--no-html', '-q',
               '-o', str(report_dir), '--overwrite']
    if checkpoint:
        command += ['--opt', str(opt), '--model', str(checkpoint)]
    for folder in preds:
        command += ['--pred', str(folder)]
    return command + list(extra)


def load_recipes(paths):
    recipes = {}
    for path in paths:
        path = Path(path)
        if not path.is_absolute() and not path.exists():
            path = REPO / path
        try:
            opt = yaml.safe_load(path.read_text(encoding='utf-8'))
        except (OSError, yaml.YAMLError) as err:
            raise BenchmarkSetupError(f'cannot read recipe {path}: {err}') from err
        if path.stem in recipes:
            raise BenchmarkSetupError(f'two recipes are called {path.stem}; rename one file')
        if not isinstance(opt, dict):
            raise BenchmarkSetupError(f'recipe {path} is not an option file')
        recipes[path.stem] = (path, opt)
    return recipes


def main(argv=None):
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    data_dir, out_dir = Path(args.data).resolve(), Path(args.out).resolve()
    photos = args.photos or (QUICK_PHOTOS if args.quick else None)
    iters = args.iters or (QUICK_ITERS if args.quick else None)
    try:
        if not (data_dir / 'build_info.json').is_file() or not (data_dir / 'test.jsonl').is_file():
            raise BenchmarkSetupError(f'{data_dir} holds no benchmark; build it with scripts/make_bench_data.py')
        build_info = json.loads((data_dir / 'build_info.json').read_text(encoding='utf-8'))
        recipes = load_recipes(args.recipes)
        options = {stem: bench_options(opt, data_dir, f'{args.experiment_prefix}{stem}', iters)
                   for stem, (_, opt) in recipes.items()}
        extra_eval_args = {stem: evaluate_args(opt) for stem, (_, opt) in recipes.items()}
        test_rows = select_test_rows(data_dir, photos, args.split)
    except (BenchmarkSetupError, RecipeError, OSError, ValueError, KeyError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    out_dir.mkdir(parents=True, exist_ok=True)
    test_manifest = out_dir / f'{args.split}.jsonl'
    test_manifest.write_text(''.join(json.dumps(row) + '\n' for row in test_rows), encoding='utf-8')
    env = dict(os.environ)
    env.setdefault('GLIBC_TUNABLES', MALLOC_TUNABLES)
    failures, costs, scores, directions = [], {}, {}, {}

    oracle_dirs = []
    if not args.no_oracle:
        folders, oracle_failures = write_oracles(test_rows, data_dir, out_dir / 'oracle')
        oracle_dirs = list(folders.values())
        failures += oracle_failures
    print(f'{len(test_rows)} {args.split} pairs of {len({r["photo"] for r in test_rows})} photos; scoring baselines'
          f'{"" if args.no_oracle else " and oracles"}', flush=True)
    baseline_report, baseline_log = out_dir / 'eval' / 'baselines', out_dir / 'logs' / 'evaluate_baselines.log'
    rc, _, _ = run_measured(evaluate_command(test_manifest, data_dir, baseline_report, baselines=BASELINES,
                                             preds=oracle_dirs), baseline_log, env)
    scored = read_report(baseline_report, rc, baseline_log, 'baselines', failures)
    if scored:
        directions.update(scored[2])
        for row, values in scored[0].items():
            scores[row.removeprefix('pred:')] = values

    for stem, opt in options.items():
        name = opt['name']
        iterations, batch, patch = training_budget(opt)
        cost = {'budget': f'{iterations} x {batch} x {patch}²',
                'training_megapixels': iterations * batch * patch**2 / 1e6}
        costs[stem] = cost
        opt_path = out_dir / 'options' / f'{stem}.yml'
        opt_path.parent.mkdir(parents=True, exist_ok=True)
        opt_path.write_text(f'# {recipes[stem][0]} as scripts/benchmark.py trains it\n'
                            + yaml.safe_dump(opt, sort_keys=False), encoding='utf-8')
        try:
            tile = None if opt['val'].get('tile') is None else validation_tile(opt['val'])
            cost['gmac_per_listing_photo'] = photo_macs(opt['network_g'], tile) / 1e9
        except Exception as err:  # noqa: BLE001  a network the meta device cannot run still trains and scores
            cost['gmac_note'] = f'not counted: {err}'
        for folder in (REPO / 'experiments' / name, REPO / 'tb_logger' / name):
            shutil.rmtree(folder, ignore_errors=True)
        print(f'{stem}: training {cost["budget"]} as experiments/{name}', flush=True)
        train_log = out_dir / 'logs' / f'{stem}_train.log'
        rc, seconds, peak = run_measured([sys.executable, str(REPO / 'realestate_sr' / 'train.py'), '-opt',
                                          str(opt_path)], train_log, env)
        cost.update(train_s=seconds, train_peak_mb=peak)
        checkpoint = REPO / 'experiments' / name / 'models' / 'net_g_latest.pth'
        if rc != 0 or not checkpoint.is_file():
            failures.append(f'{stem}: training exited {rc}: {last_lines(train_log)}')
            continue
        print(f'{stem}: trained in {seconds:.0f} s; scoring', flush=True)
        report_dir = out_dir / 'eval' / stem
        eval_log = out_dir / 'logs' / f'{stem}_evaluate.log'
        rc, _, peak = run_measured(evaluate_command(test_manifest, data_dir, report_dir, opt_path, checkpoint,
                                                    extra=extra_eval_args[stem]), eval_log, env)
        cost['eval_peak_mb'] = peak
        scored = read_report(report_dir, rc, eval_log, stem, failures)
        if not scored:
            continue
        recipe_scores, recipe_seconds, recipe_directions = scored
        directions.update(recipe_directions)
        label = next(iter(recipe_scores))
        for row, values in recipe_scores.items():  # the checkpoint's row, then any that evaluate_args add (+tta)
            scores[stem + row.removeprefix(label) if row.startswith(label) else f'{stem}:{row}'] = values
        cost.update(report.infer_cost(recipe_seconds.get(label)))

    document, markdown = tables(scores, costs, test_rows, build_info, args, iters, photos,
                                report.metric_columns(directions))
    document['failures'] = failures
    document['seconds'] = time.perf_counter() - started
    (out_dir / 'benchmark.json').write_text(json.dumps(document, indent=1) + '\n', encoding='utf-8')
    (out_dir / 'benchmark.md').write_text(markdown, encoding='utf-8')
    print(markdown)
    print(f'{len(options)} recipes, {len(test_rows)} {args.split} pairs, {len(failures)} failures, '
          f'{document["seconds"]:.0f} s; results in {out_dir} (benchmark.md, benchmark.json, eval/, logs/)')
    for failure in failures:
        print(f'FAILED {failure}')
    return 1 if failures else 0


def tables(scores, costs, test_rows, build_info, args, iters, photos, columns):
    """(benchmark.json document, benchmark.md text)."""
    held_out = build_info.get('held_out')
    families = list(dict.fromkeys(row['family'] for row in test_rows))
    references = [m for m in (*BASELINES, *ORACLE_FUNCTIONS) if m in scores]
    methods = references + [m for m in scores if m not in references]
    sections = [('overall', None)] + [(family, family) for family in families]
    summaries = {}
    markdown = ['# Benchmark', '',
                f'{len(test_rows)} {args.split} pairs of {len({r["photo"] for r in test_rows})} photos never seen in '
                f'training; trained on {", ".join(build_info.get("train_families", []))}; held-out family: '
                f'{held_out}. Mean ± sd over photos. '
                + ('Quick run: not a result. ' if args.quick else '')
                + (f'Every recipe trained {iters} iterations (--iters). ' if iters else '')
                + ('Oracles are references (a global colour map fitted on the target), not methods.' if
                   any(m.startswith('oracle') for m in methods) else ''), '']
    for title, family in sections:
        summaries[title] = {m: report.family_summary(scores[m], test_rows, family) for m in methods}
        label = title if family is None else (f'{title} (held out: never trained on)' if family == held_out
                                                 else title)
        markdown += [f'## {label}', '', report.metric_table(methods, summaries[title], columns)]
    markdown += ['## cost', '', report.cost_table(costs)]
    document = {'data': str(Path(args.data)), 'build_settings': build_info.get('settings'), 'held_out': held_out,
                'train_families': build_info.get('train_families'), 'quick': args.quick, 'iters_override': iters,
                'photos_limit': photos, 'split': args.split, 'test_pairs': len(test_rows),
                'summaries': {section: {m: s for m, s in by_method.items() if s} for section, by_method in
                              summaries.items()},
                'costs': costs}
    return document, '\n'.join(markdown)


if __name__ == '__main__':
    sys.exit(main())
