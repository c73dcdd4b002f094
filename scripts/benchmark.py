#!/usr/bin/env python
"""The benchmark of the real task: amateur captures in, one editor's house style out, cross-validated by scene.

A task is one house style with every capture family as sources (scripts/make_bench_data.py builds them). For
each recipe (an option file), task, fold and seed, one model: a copy of the YAML pointed at that fold's
training photos of that task (every capture family but the held-out one; realestate_sr/benchmark/recipes.py
says what changes), trained through realestate_sr/train.py at the chosen budget, then scored by
scripts/evaluate.py on the fold's scored photos, every capture family, at full resolution. The folds deal
whole scenes (realestate_sr/benchmark/folds.py): every photo is scored once. Reference rows per task: input,
auto_correct, and the ceilings oracle_lut (a per-photo global 3D LUT) and oracle_local (a per-photo bilateral
grid of affine transforms), both fitted on the target.

Each finished piece (one recipe/task/fold/seed/budget/training-photo count, or one task's references) is its
own JSON file under --out/pieces/ and is reused by a later run with the same settings unless --rerun, so a run
can be split over sittings (--recipes, --tasks, --folds, --seeds) and the tables made from all pieces of
several folders (--merge). Writes benchmark.md and benchmark.json into --out. Nothing is asserted: the machine
is measured as it is. See docs/benchmark.md.

Exit codes: 0 every piece done; 1 some piece failed (the others are in the tables); 2 nothing could run.

Examples:
  python scripts/benchmark.py                                     # the default run: 2 recipes, all tasks, 3 folds
  python scripts/benchmark.py --recipes options/bench/bilateral_grid_whole.yml --seeds 0 1 --folds 0
  python scripts/benchmark.py --split val my_recipe.yml           # recipe decisions: inner val folds
  python scripts/benchmark.py --train-photos 4 --tasks listing_hdr  # a learning curve's point
  python scripts/benchmark.py --merge results/bench results/bench_seed1 -o results/bench_all
  python scripts/benchmark.py --quick -o results/bench_quick      # plumbing only: not a result
"""
import argparse
import hashlib
import json
import os
import runpy
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
# the parser's flags come from this file alone, loaded by path: the package (numpy, torch) loads once they parse
FLAGS = SimpleNamespace(**runpy.run_path(f'{REPO}/realestate_sr/utils/cli_flags.py'))

DEFAULT_RECIPES = ('options/nafnet_demo.yml', 'options/bench/bilateral_grid_whole.yml')
BASELINE_RECIPE = 'bilateral_grid_whole'  # today's default: every other recipe's paired difference is against it
DEFAULT_HELD_OUT = 'mixed_light'
BASELINES = ('input', 'auto_correct')
BUDGETS = {'demo': 1, 'long': 5}  # times each recipe's own train.total_iter
QUICK = {'tasks': 2, 'folds': [0], 'iters': 2, 'photos': 6}


def child_environment(environ):
    """The environment of the training and scoring processes: the malloc settings, and every core for the one
    process that runs at a time (OMP_NUM_THREADS = the CPU count) unless the user set OMP_NUM_THREADS."""
    env = dict(environ)
    env.setdefault('GLIBC_TUNABLES', MALLOC_TUNABLES)
    env.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
    return env


class BenchmarkSetupError(Exception):
    """Missing benchmark data or an unusable recipe list: nothing was run."""


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('recipes', nargs='*', help=f'option files (default: {" ".join(DEFAULT_RECIPES)})')
    parser.add_argument('--recipes', dest='recipe_list', nargs='+', metavar='YML', help='the same as the positionals')
    parser.add_argument('--data', default='datasets/bench', help='benchmark folder (default: %(default)s)')
    parser.add_argument('-o', '--out', default='results/bench', help='results folder (default: %(default)s)')
    parser.add_argument('--tasks', nargs='+', help='house styles to run (default: every task of the benchmark)')
    parser.add_argument('--held-out', default=DEFAULT_HELD_OUT,
                        help='capture family never trained on, scored on its own (default: %(default)s)')
    parser.add_argument('--k', type=int, default=3, help='number of folds (default: %(default)s)')
    parser.add_argument('--folds', type=int, nargs='+', help='which folds to run (default: all)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0], help='training seeds (default: 0)')
    parser.add_argument('--split', choices=FLAGS.BENCHMARK_SPLITS, default='test',
                        help='test: score each fold; val: score an inner group of each fold\'s training photos '
                        '(where recipe decisions are made; default: %(default)s)')
    parser.add_argument('--budget', choices=BUDGETS, default='demo',
                        help='demo: each recipe\'s own train.total_iter; long: 5x (default: %(default)s)')
    parser.add_argument('--iters', type=int, help='train every recipe this many iterations (scheduler scaled)')
    parser.add_argument('--train-photos', type=int, help='train on N of the fold\'s training photos (by scene)')
    parser.add_argument('--train-variants', type=int, default=2, help='captures per training photo and family')
    parser.add_argument('--eval-variants', type=int, default=1, help='captures per scored photo and family')
    parser.add_argument('--photos', type=int, help='use only the first N photos of the benchmark (plumbing runs)')
    parser.add_argument('--no-oracle', action='store_true', help='references without the oracles (input, '
                        'auto_correct only)')
    parser.add_argument('--no-references', action='store_true', help='no reference rows (another sitting has them)')
    parser.add_argument('--only-references', action='store_true', help='the reference rows only (a sitting of '
                        'their own): no recipe is trained')
    parser.add_argument('--rerun', action='store_true', help='recompute pieces that exist already')
    parser.add_argument('--merge', nargs='+', metavar='DIR', help='make the tables from the pieces of these '
                        'results folders into --out; train nothing')
    parser.add_argument('--quick', action='store_true',
                        help=f'plumbing only: {QUICK["tasks"]} tasks, fold 0, {QUICK["iters"]} iterations, '
                        f'{QUICK["photos"]} photos')
    parser.add_argument('--experiment-prefix', default='bench_', help='experiments/<prefix>... (default: %(default)s)')
    parser.add_argument('--keep-models', action='store_true', help='keep each piece\'s experiments/ folder')
    return parser


if __name__ == '__main__':  # --help and argument errors answer before the imports below load numpy and torch
    build_parser().parse_args()

import yaml

from realestate_sr.benchmark import cv_report, report
from realestate_sr.benchmark.folds import choose_train_photos, fold_photos
from realestate_sr.benchmark.macs import photo_macs
from realestate_sr.benchmark.oracle_files import one_thread, oracle_fits, write_pair_oracles
from realestate_sr.benchmark.pieces import REFERENCES, PieceKey, read_pieces, reusable_piece, write_piece
from realestate_sr.benchmark.recipes import RecipeError, bench_options, budget_iters, evaluate_args, training_budget
from realestate_sr.options import OptionFileError, read_option_file, validation_tile
from realestate_sr.utils.malloc_tuning import MALLOC_TUNABLES  # glibc keeps big buffers mapped (../shared/FACTS.md)


def run_measured(command, log_path, env):
    """Run ``command`` with output to ``log_path``; (exit code, wall seconds, peak RSS of the child in MB)."""
    [(rc, peak)], seconds = run_side_by_side([(command, log_path)], env)
    return rc, seconds, peak


def run_side_by_side(jobs, env):
    """Run every (command, log path) of ``jobs`` at once; [(exit code, peak RSS in MB)] in order, wall seconds."""
    started = time.perf_counter()
    running = []
    for command, log_path in jobs:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, 'w', encoding='utf-8')  # noqa: SIM115  closed once its process ends
        running.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env), log))
    ended = []
    for process, log in running:
        _, status, usage = os.wait4(process.pid, 0)
        log.close()
        ended.append((os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024.0))
    return ended, time.perf_counter() - started


def side_by_side_workers(env, count):
    """How many processes share work that splits by pair: the cores the run may use (its OMP_NUM_THREADS),
    at most ``count``."""
    try:
        cores = int(env.get('OMP_NUM_THREADS', '1'))
    except ValueError:
        cores = 1
    return max(1, min(cores, count))


def last_lines(path, count=3):
    try:
        lines = [line for line in Path(path).read_text(encoding='utf-8', errors='replace').splitlines() if line]
    except OSError:
        return ''
    return ' | '.join(lines[-count:])


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


def evaluate_command(manifest, data_dir, report_dir, opt=None, checkpoint=None, baselines=(), preds=(), extra=()):
    command = [sys.executable, str(REPO / 'scripts' / 'evaluate.py'), '--pairs', str(manifest),
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
            recipe = read_option_file(path)
        except OptionFileError as err:
            raise BenchmarkSetupError(f'cannot read recipe: {err}') from err
        if path.stem in recipes:
            raise BenchmarkSetupError(f'two recipes are called {path.stem}; rename one file')
        recipes[path.stem] = (path, recipe.options, hashlib.sha256(recipe.text.encode('utf-8')).hexdigest())
    return recipes


def write_manifest(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(row) + '\n' for row in rows), encoding='utf-8')
    return path


def train_command(opt_path):
    return [sys.executable, str(REPO / 'realestate_sr' / 'train.py'), '-opt', str(opt_path)]


def write_options(opt_path, recipe_path, options):
    opt_path.parent.mkdir(parents=True, exist_ok=True)
    opt_path.write_text(f'# {recipe_path} as scripts/benchmark.py trains it\n'
                        + yaml.safe_dump(options, sort_keys=False), encoding='utf-8')
    return opt_path


def pair_record(row, fold=None):
    return {'src': row['src'], 'task': row['task'], 'family': row['family'], 'photo': row['photo'],
            'variant': row['variant'], 'fold': fold}


class Run:
    """One benchmark run: the data, the options, and the pieces it makes."""

    def __init__(self, args, data_dir, out_dir):
        self.args, self.data_dir, self.out_dir = args, data_dir, out_dir
        build_info = json.loads((data_dir / 'build_info.json').read_text(encoding='utf-8'))
        self.build_code = build_info['settings'].get('code_sha256')
        tasks = args.tasks or build_info['tasks'][:QUICK['tasks'] if args.quick else None]
        unknown = sorted(set(tasks) - set(build_info['tasks']))
        if unknown:
            raise BenchmarkSetupError(f'tasks {unknown} are not in {data_dir} (it has {build_info["tasks"]})')
        if args.held_out not in build_info['captures']:
            raise BenchmarkSetupError(f'held-out family {args.held_out!r} is not among {build_info["captures"]}')
        self.rows = {task: report.read_manifest(data_dir / f'task_{task}.jsonl') for task in tasks}
        scene_of = {row['photo']: row['scene'] for rows in self.rows.values() for row in rows}
        limit = args.photos or (QUICK['photos'] if args.quick else None)
        self.scene_of = {p: scene_of[p] for p in sorted(scene_of)[:limit]}
        self.folds = args.folds if args.folds is not None else (QUICK['folds'] if args.quick else range(args.k))
        self.iters = args.iters or (QUICK['iters'] if args.quick else None)
        self.env = child_environment(os.environ)
        self.failures = []

    def settings(self, **extra):
        args = self.args
        return {'build_code_sha256': self.build_code, 'held_out': args.held_out, 'k': args.k,
                'eval_variants': args.eval_variants, 'photos': sorted(self.scene_of), **extra}

    def scored_rows(self, task, photos):
        return [row for row in self.rows[task] if row['photo'] in photos and row['variant'] < self.args.eval_variants]

    def references(self, task):
        """Input, auto_correct and (unless --no-oracle) the oracles on every photo of ``task``; one piece."""
        key = PieceKey(REFERENCES, task)
        settings = self.settings(oracles=not self.args.no_oracle)
        if not self.args.rerun and reusable_piece(self.out_dir, key, settings):
            print(f'{key.file_name()}: reused', flush=True)
            return
        started = time.perf_counter()
        rows = self.scored_rows(task, set(self.scene_of))
        work = self.out_dir / 'work' / REFERENCES / task
        write_manifest(work / 'pairs.jsonl', rows)
        folders = [] if self.args.no_oracle else self.write_oracles(rows, work / 'oracle')
        print(f'{task}: references on {len(rows)} pairs', flush=True)
        scored, _, _ = self.score_side_by_side(rows, work, f'references_{task}', f'references of {task}',
                                               baselines=BASELINES, preds=folders)
        if not scored:
            return
        rows_scores = {row.removeprefix('pred:'): values for row, values in scored[0].items()}
        write_piece(self.out_dir, key, {'settings': settings, 'pairs': [pair_record(r) for r in rows],
                                        'rows': rows_scores, 'directions': scored[2],
                                        'cost': {'eval_s': time.perf_counter() - started}})

    def score_side_by_side(self, rows, work, log_stem, what, **rows_to_score):
        """``rows`` scored by evaluate.py (``rows_to_score``: evaluate_command's baselines, preds, opt, checkpoint,
        extra), the pairs dealt to ``side_by_side_workers`` processes of one thread each (scoring uses one core);
        returns ((scores by row and pair, inference seconds by row and pair, directions), or None when a share
        could not be scored (reported in ``failures``); wall seconds; the largest peak RSS of one process, MB)."""
        workers = side_by_side_workers(self.env, len(rows))
        env = dict(self.env, OMP_NUM_THREADS='1') if workers > 1 else self.env
        part = [f'_share{i}' if workers > 1 else '' for i in range(workers)]
        shares = [(rows[i::workers], work / f'eval{part[i]}', self.out_dir / 'logs' / f'{log_stem}{part[i]}.log')
                  for i in range(workers)]
        jobs = [(evaluate_command(write_manifest(work / f'pairs{part[i]}.jsonl', share), self.data_dir, folder,
                                  **rows_to_score), log)
                for i, (share, folder, log) in enumerate(shares)]
        ended, seconds = run_side_by_side(jobs, env)
        peak = max(peak for _, peak in ended)
        scores, infer_seconds, directions = {}, {}, None
        for (rc, _), (_, folder, log) in zip(ended, shares):
            scored = read_report(folder, rc, log, what, self.failures)
            if not scored:
                return None, seconds, peak
            for merged, found in ((scores, scored[0]), (infer_seconds, scored[1])):
                for row, by_pair in found.items():
                    merged.setdefault(row, {}).update(by_pair)
            directions = scored[2]
        return (scores, infer_seconds, directions), seconds, peak

    def write_oracles(self, rows, out):
        """Oracle outputs as 8-bit PNGs named like the pairs' src paths, one folder per oracle; the pairs fitted
        in ``side_by_side_workers`` processes."""
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool
        from multiprocessing import get_context
        folders = {name: out / name for name in oracle_fits()}
        jobs = [(self.data_dir / row['src'], self.data_dir / row['tar'],
                 {name: (folder / row['src']).with_suffix('.png') for name, folder in folders.items()})
                for row in rows]
        workers = side_by_side_workers(self.env, len(rows))
        # spawned, not forked: a fork of a process whose OpenMP pool has run (torch) can hang
        try:
            with ProcessPoolExecutor(workers, mp_context=get_context('spawn'), initializer=one_thread) as pool:
                errors = list(pool.map(write_pair_oracles, *zip(*jobs))) if jobs else []
        except BrokenProcessPool as err:  # a worker killed (out of memory): the oracle rows go, the run goes on
            errors = [f'the oracle processes ended: {err}'] * len(rows)
        for row, error in zip(rows, errors):
            if error:
                self.failures.append(f'oracles for {row["task"]} {row["src"]}: {error}')
        return list(folders.values())

    def recipe_piece(self, stem, recipe, task, fold, seed):
        args = self.args
        path, opt, recipe_sha = recipe
        key = PieceKey(stem, task, args.split, fold, seed, args.budget, args.train_photos)
        total_iter = budget_iters(opt, BUDGETS[args.budget], self.iters)
        settings = self.settings(recipe_sha256=recipe_sha, total_iter=total_iter, train_variants=args.train_variants)
        if not args.rerun and reusable_piece(self.out_dir, key, settings):
            print(f'{key.file_name()}: reused', flush=True)
            return
        train, scored = fold_photos(self.scene_of, args.k, fold, args.split)
        train = choose_train_photos(train, self.scene_of, args.train_photos, seed=fold)
        train_rows = [row for row in self.rows[task] if row['photo'] in set(train)
                      and row['family'] != args.held_out and row['variant'] < args.train_variants]
        test_rows = self.scored_rows(task, set(scored))
        if not train_rows or not test_rows:
            self.failures.append(f'{key.file_name()}: no training or no scored pairs (too few photos for {args.k} '
                                 'folds?)')
            return
        piece = key.file_name().removesuffix('.json')
        work = self.out_dir / 'work' / piece
        train_manifest = write_manifest(work / 'train.jsonl', train_rows)
        write_manifest(work / 'scored.jsonl', test_rows)  # every scored pair in one file, for scoring other outputs
        name = f'{args.experiment_prefix}{piece}'
        options = bench_options(opt, self.data_dir, name, total_iter, meta_file=train_manifest, seed=seed)
        opt_path = write_options(work / 'options.yml', path, options)
        iterations, batch, patch = training_budget(options)
        cost = {'budget': f'{iterations} x {batch} x {patch}²', 'train_pairs': len(train_rows),
                'train_photos': len(train), 'scored_pairs': len(test_rows)}
        try:
            tile = None if options['val'].get('tile') is None else validation_tile(options['val'])
            cost['gmac_per_listing_photo'] = photo_macs(options['network_g'], tile) / 1e9
        except Exception as err:  # noqa: BLE001  a network the meta device cannot run still trains and scores
            cost['gmac_note'] = f'not counted: {err}'
        experiment = REPO / 'experiments' / name
        for folder in (experiment, REPO / 'tb_logger' / name):
            shutil.rmtree(folder, ignore_errors=True)
        print(f'{piece}: training {cost["budget"]} on {len(train_rows)} pairs of {len(train)} photos', flush=True)
        log = self.out_dir / 'logs' / f'{piece}_train.log'
        rc, seconds, peak = run_measured(train_command(opt_path), log, self.env)
        cost.update(train_s=seconds, train_peak_mb=peak)
        checkpoint = experiment / 'models' / 'net_g_latest.pth'
        if rc != 0 or not checkpoint.is_file():
            self.failures.append(f'{piece}: training exited {rc}: {last_lines(log)}')
            return
        scored_report, seconds, peak = self.score_side_by_side(test_rows, work, f'{piece}_evaluate', piece,
                                                               opt=opt_path, checkpoint=checkpoint,
                                                               extra=evaluate_args(opt))
        cost.update(eval_s=seconds, eval_peak_mb=peak, eval_processes=side_by_side_workers(self.env, len(test_rows)))
        print(f'{piece}: trained in {cost["train_s"]:.0f} s, scored {len(test_rows)} pairs in {seconds:.0f} s',
              flush=True)
        if not scored_report:
            return
        recipe_scores, recipe_seconds, directions = scored_report
        label = next(iter(recipe_scores))
        rows_scores = {stem + row.removeprefix(label) if row.startswith(label) else f'{stem}:{row}': values
                       for row, values in recipe_scores.items()}
        cost.update(report.infer_cost(recipe_seconds.get(label)))
        write_piece(self.out_dir, key, {'settings': settings, 'pairs': [pair_record(r, fold) for r in test_rows],
                                        'rows': rows_scores, 'directions': directions, 'cost': cost})
        if not args.keep_models:
            shutil.rmtree(experiment, ignore_errors=True)


def write_tables(folders, out_dir, split, note=''):
    pieces = read_pieces(folders)
    splits = {p['key']['split'] for p in pieces if p['key']['recipe'] != REFERENCES}
    if splits and split not in splits:
        raise ValueError(f'the pieces in {", ".join(map(str, folders))} are {"/".join(sorted(splits))} pieces, '
                         f'none {split}: add --split {sorted(splits)[0]}')
    held_out = next((p['settings'].get('held_out') for p in pieces if p.get('settings')), None)
    document, markdown = cv_report.tables(pieces, split, held_out, note, baseline=BASELINE_RECIPE)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / 'benchmark.json').write_text(json.dumps(document, indent=1) + '\n', encoding='utf-8')
    (out_dir / 'benchmark.md').write_text(markdown, encoding='utf-8')
    return document, markdown


def main(argv=None):
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    out_dir = Path(args.out).resolve()
    if args.merge:
        try:
            _, markdown = write_tables([Path(folder) for folder in args.merge], out_dir, args.split)
        except (OSError, ValueError, KeyError) as err:
            print(f'error: {err}', file=sys.stderr)
            return 2
        print(markdown)
        print(f'merged {len(args.merge)} folders into {out_dir} (benchmark.md, benchmark.json)')
        return 0
    data_dir = Path(args.data).resolve()
    try:
        if not (data_dir / 'build_info.json').is_file():
            raise BenchmarkSetupError(f'{data_dir} holds no benchmark; build it with scripts/make_bench_data.py')
        if 'tasks' not in json.loads((data_dir / 'build_info.json').read_text(encoding='utf-8')):
            raise BenchmarkSetupError(f'{data_dir} is a benchmark of the retired layout; rebuild it with '
                                      'scripts/make_bench_data.py --force')
        if args.only_references and args.no_references:
            raise BenchmarkSetupError('--only-references and --no-references leave nothing to run')
        recipes = {} if args.only_references else load_recipes(args.recipe_list or args.recipes or DEFAULT_RECIPES)
        for stem, (_, opt, _) in recipes.items():
            bench_options(opt, data_dir, stem)  # refuses what cannot train before anything runs
            evaluate_args(opt)
        run = Run(args, data_dir, out_dir)
    except (BenchmarkSetupError, RecipeError, OSError, ValueError, KeyError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    pieces_done = 0
    for task in run.rows:
        if not args.no_references:
            run.references(task)
        for stem, recipe in recipes.items():
            for fold in run.folds:
                for seed in args.seeds:
                    run.recipe_piece(stem, recipe, task, fold, seed)
                    pieces_done += 1
    note = ('Quick run: not a result. ' if args.quick else '') + (
        f'Every recipe trained {run.iters} iterations (--iters). ' if run.iters else '')
    document, markdown = write_tables([out_dir], out_dir, args.split, note)
    print(markdown)
    print(f'{pieces_done} recipe pieces ({len(recipes)} recipes, {len(run.rows)} tasks, {len(list(run.folds))} '
          f'folds, {len(args.seeds)} seeds), {len(run.failures)} failures, {time.perf_counter() - started:.0f} s; '
          f'results in {out_dir} (benchmark.md, benchmark.json, pieces/, logs/)')
    for failure in run.failures:
        print(f'FAILED {failure}')
    return 1 if run.failures else 0


if __name__ == '__main__':
    sys.exit(main())
