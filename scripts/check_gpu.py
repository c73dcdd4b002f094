#!/usr/bin/env python
"""Pre-flight check of a training recipe on the GPU machine, before a long run: one table, or one error line.

Builds the recipe's network, losses and data pipeline at its real sizes on synthetic 3300x2200 pairs made in a
temporary folder (stored as the recipe reads them: an LMDB by make_lmdb's builder, or manifests), runs ~50
training iterations through the recipe's model class with its precision and memory format, times the data
pipeline alone and the step alone (is the GPU starved?), validates the held-out synthetic pairs and times one
photo through the inference object. Prints the device, bf16 support, it/s, samples/s, peak GPU and host memory,
the projected time of the whole recipe and the inference seconds per photo. About 1-3 minutes on a GPU.

Exits 1 with one line when something would stop the real run: missing pretrained weights (named, with where to
get them), no CUDA device for a CUDA recipe, out of memory, a data error, a mistake in the option file.

--quick runs the same on a CPU at small sizes (330x220 photos, 64 px crops and thumbnails, batch 2, a few
iterations, NAFNets above width 16 at width 8) so CI keeps the check working; its numbers project nothing.
--random-weights uses random VGG19/LPIPS trunks (and no missing starting checkpoint): for machines without the
weights; the table says so.

Examples:
  python scripts/check_gpu.py --opt options/nafnet_gb10.yml
  python scripts/check_gpu.py --opt options/bilateral_grid_gb10.yml --quick --random-weights
"""
import argparse
import dataclasses
import runpy
import sys
from pathlib import Path

if __name__ == '__main__':  # glibc reads its malloc settings only at start-up: re-exec before torch loads
    runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/malloc_tuning.py', run_name='__main__')

from realestate_sr.models.option_checks import OptionKeyError
from realestate_sr.preflight.check import run_check
from realestate_sr.preflight.recipe import CheckPlan, PreflightError, load_recipe, quick_plan
from realestate_sr.preflight.report import format_table, table_rows

REPO_ROOT = Path(__file__).resolve().parents[1]
# README's make_lmdb example: 577 pairs, 30 for test, 5 % of the rest for validation
DEFAULT_VAL_PHOTOS = 27


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--opt', required=True, help='the training option file to check')
    parser.add_argument('--quick', action='store_true', help='small sizes on a CPU (CI); the numbers project nothing')
    parser.add_argument('--random-weights', action='store_true',
                        help='random VGG19/LPIPS trunks and no missing starting checkpoint (the losses and LPIPS '
                             'then mean nothing)')
    parser.add_argument('--iterations', type=int, help='timed training iterations (default 50; --quick 2)')
    parser.add_argument('--pairs', type=int, help='synthetic pairs (default 10; --quick 4)')
    parser.add_argument('--val-photos', type=int, default=DEFAULT_VAL_PHOTOS,
                        help=f'validation photos of the real run, for the projection (default {DEFAULT_VAL_PHOTOS})')
    parser.add_argument('--stage-seconds', type=float, help='cut a timed stage after this many seconds (default 45)')
    return parser.parse_args(argv)


def plan_from_args(args):
    plan = quick_plan(args.random_weights) if args.quick else CheckPlan(random_weights=args.random_weights)
    given = {'iterations': args.iterations, 'pairs': args.pairs, 'stage_seconds': args.stage_seconds}
    plan = dataclasses.replace(plan, **{key: value for key, value in given.items() if value is not None})
    if plan.iterations < 1 or plan.pairs <= plan.val_pairs:
        raise PreflightError(f'--iterations must be >= 1 and --pairs > {plan.val_pairs} (the validation pairs)')
    return plan


def main(argv=None):
    args = parse_args(argv)
    try:
        plan = plan_from_args(args)
        recipe = load_recipe(args.opt)
        result = run_check(recipe, plan, REPO_ROOT, source=args.opt)
    except (PreflightError, OptionKeyError) as error:
        print(f'check_gpu: error: {error}', file=sys.stderr, flush=True)
        return 1
    print(format_table(table_rows(result, args.opt, plan, args.val_photos)), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
