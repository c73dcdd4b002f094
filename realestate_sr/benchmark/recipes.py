"""A recipe (an option file) as the benchmark trains it: the same network, losses, optimiser and budget, pointed
at the benchmark's training pairs.

What changes in the copy (everything else is the recipe's own):

- ``name``: the benchmark's experiment name (experiments/<name>/);
- ``manual_seed``: the run's seed (``--seeds``);
- ``datasets``: only ``train``, reading the piece's training manifest from disk (``cache`` as the recipe says);
  validation data sets are dropped, the benchmark evaluates afterwards on the test photos;
- ``train.total_iter`` only when the runner is given one (``--iters``, ``--quick``, ``--budget long``: 5x the
  recipe's own); the scheduler's ``periods`` are then scaled to it;
- ``val.val_freq``: never during training (``val.tile`` and ``val.tlc`` stay: evaluation reads them);
- ``logger``: one checkpoint at the end, no tensorboard;
- ``path.resume_state``: none;
- a top-level ``bench`` block, read by the runner and left out of the copy: ``bench.evaluate_args``, a list
  of extra scripts/evaluate.py arguments for this recipe's scoring (e.g. a post-processing option).
"""
import copy
from pathlib import Path

NEVER = 10**12


class RecipeError(ValueError):
    """An option file the benchmark cannot train."""


def evaluate_args(opt):
    """The recipe's ``bench.evaluate_args`` (a list of strings; empty without a ``bench`` block)."""
    extra = (opt.get('bench') or {}).get('evaluate_args') or []
    if not isinstance(extra, list) or not all(isinstance(arg, str) for arg in extra):
        raise RecipeError(f'bench.evaluate_args must be a list of strings, got {extra!r}')
    return list(extra)


def training_budget(opt):
    """(iterations, batch, patch side) of a recipe."""
    train = opt['datasets']['train']
    return int(opt['train']['total_iter']), int(train['batch_size_per_gpu']), int(train['gt_size'])


def scaled_periods(periods, total_iter):
    total = sum(periods)
    scaled = [max(1, round(p * total_iter / total)) for p in periods]
    scaled[-1] += total_iter - sum(scaled)
    if scaled[-1] < 1:
        return [total_iter]
    return scaled


def budget_iters(opt, budget_scale=1, iters=None):
    """The iterations a recipe trains for: ``iters`` when given, else its own ``train.total_iter`` times
    ``budget_scale`` (``--budget long``: 5); None when that is the recipe's own budget."""
    if iters is not None:
        return int(iters)
    if budget_scale == 1:
        return None
    return int(round(int(opt['train']['total_iter']) * budget_scale))


def bench_options(opt, bench_dir, name, total_iter=None, meta_file=None, seed=None):
    """A copy of option dict ``opt`` that trains on ``bench_dir``'s pairs listed in ``meta_file`` (default
    ``<bench_dir>/train.jsonl``) under experiment ``name``, with ``manual_seed`` = ``seed`` when given."""
    try:
        train_set = dict(opt['datasets']['train'])
        opt['train']['total_iter']
        opt['network_g']['type']
    except (KeyError, TypeError) as err:
        raise RecipeError(f'not a training option file (missing {err})') from err
    bench = copy.deepcopy(opt)
    bench.pop('bench', None)
    bench['name'] = name
    bench_dir = Path(bench_dir).resolve()
    meta_file = Path(meta_file).resolve() if meta_file else bench_dir / 'train.jsonl'
    train_set.update(dataroot=str(bench_dir), meta_file=str(meta_file), io_backend={'type': 'disk'})
    train_set.pop('split_file', None)
    train_set['name'] = 'bench_train'
    bench['datasets'] = {'train': train_set}
    if seed is not None:
        bench['manual_seed'] = int(seed)
    if total_iter is not None:
        bench['train']['total_iter'] = int(total_iter)
        scheduler = bench['train'].get('scheduler') or {}
        if 'periods' in scheduler:
            scheduler['periods'] = scaled_periods(scheduler['periods'], int(total_iter))
            scheduler['restart_weights'] = list(scheduler.get('restart_weights', [1]))[:len(scheduler['periods'])]
        for key in ('milestones',):
            if key in scheduler:
                scheduler[key] = [m for m in scheduler[key] if m < int(total_iter)]
    iterations = int(bench['train']['total_iter'])
    bench.setdefault('val', {})
    bench['val'] = dict(bench['val'] or {}, val_freq=NEVER, save_img=False)
    logger = dict(bench.get('logger') or {})
    logger.update(save_checkpoint_freq=iterations, use_tb_logger=False,
                  print_freq=max(1, min(int(logger.get('print_freq', 100)), iterations)))
    logger.setdefault('wandb', {'project': None, 'resume_id': None})
    bench['logger'] = logger
    bench.setdefault('path', {})
    bench['path'] = dict(bench['path'] or {}, resume_state=None)
    return bench
