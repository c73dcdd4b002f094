"""Run BasicSR's training pipeline with the few fixes our users need: the entry point of ``realestate_sr/train.py``.

``basicsr.train.train_pipeline`` is used as it is. Some of its helpers assume a CUDA machine and the current
directory, so we replace them for this process:

- ``load_resume_state``: ours from ``realestate_sr.resume`` (loads on the CPU, reads
  ``opt['path']['training_states']``, skips states that do not load, same iteration on every rank).
- ``init_dist`` (in ``basicsr.utils.dist_util`` and as imported by ``basicsr.utils.options``): ours from
  ``realestate_sr.distributed`` (NCCL on GPUs, Gloo on CPUs, ``LOCAL_RANK`` pinning, ``dist_params``).
- ``parse_options``: basicsr's, plus ``--force_yml KEY=~`` deleting KEY, then the start-up checks of
  ``realestate_sr.models.option_checks`` (unknown keys, CUDA settings without CUDA), before any data is read.
- ``create_train_val_dataloader`` and ``MessageLogger``: basicsr's, plus a line once the data sets are built
  and the learning rate in tensorboard.

Relative paths in option files (datasets, pretrained weights) are relative to
the repository root: the pipeline runs with the root as working directory. The
command line is parsed with BasicSR's own arguments first (``-opt path`` and
``-opt=path`` alike) and handed on with ``-opt`` absolute.

``main`` is the command line's entry: errors whose message says what to do
(missing weights, a checkpoint that does not fit, a bad launch environment, an option file mistake)
print one message and exit with code 2; anything else keeps its traceback.
See docs/distributed.md for multi-GPU, multi-node and SLURM runs.
"""
import argparse
import os
import sys
from functools import partial
from pathlib import Path

import torch.distributed as dist

from realestate_sr.archs.checkpoint import CheckpointMismatchError
from realestate_sr.data.lmdb_io import LmdbFormatError
from realestate_sr.data.memory_cache import CacheTooLargeError
from realestate_sr.data.pair_lists import PairListError
from realestate_sr.data.paired_listing_dataset import DatasetOptionError
from realestate_sr.distributed import DistributedSetupError, init_dist, launch_settings
from realestate_sr.models.option_checks import OptionKeyError, check_training_options, unknown_key_message
from realestate_sr.resume import ResumeStateError, load_resume_state
from realestate_sr.utils.weights import MissingWeightsError

import basicsr.train as basicsr_train
import basicsr.utils.dist_util as basicsr_dist_util
import basicsr.utils.options as basicsr_options
from basicsr.models import build_model

REPO_ROOT = Path(__file__).resolve().parents[1]


class OptionFileError(FileNotFoundError):
    """``-opt`` names no file."""


# --- option file ------------------------------------------------------------------------------------------------
DELETE_VALUE = '~'


def split_force_yml(entries):
    """(keys to delete, entries for BasicSR): ``KEY=~`` deletes KEY (e.g. ``val:metrics:lpips=~``); BasicSR would
    set it to None, which for a metric, a dataset or a loss block is a crash later rather than "not there"."""
    deletions, kept = [], []
    for entry in entries or []:
        keys, _, value = entry.partition('=')
        if value.strip() == DELETE_VALUE:
            deletions.append(keys.strip())
        else:
            kept.append(entry)
    return deletions, kept


def delete_option(opt, keys):
    """Remove ``a:b:c`` from ``opt``; OptionKeyError naming the level that lacks the key."""
    path = keys.split(':')
    block = opt
    for depth, key in enumerate(path):
        if not isinstance(block, dict) or key not in block:
            known = list(block) if isinstance(block, dict) else []
            where = '.'.join(path[:depth]) or 'the option file'
            raise OptionKeyError(f'--force_yml {keys}={DELETE_VALUE}: {unknown_key_message(key, where, known)}')
        if depth == len(path) - 1:
            del block[key]
        else:
            block = block[key]


def parse_and_check_options(root_path, is_train=True, parse=basicsr_options.parse_options):
    """basicsr's ``parse_options`` plus ``--force_yml KEY=~`` deletions, then the option checks of
    realestate_sr.models.option_checks: a typo stops the run here, before any data is read."""
    args = basicsr_argument_parser().parse_args(sys.argv[1:])
    deletions, kept = split_force_yml(args.force_yml)
    full_argv = sys.argv
    if args.force_yml:
        sys.argv = full_argv[:full_argv.index('--force_yml')] + (['--force_yml', *kept] if kept else [])
    try:
        opt, parsed_args = parse(root_path, is_train)
    finally:
        sys.argv = full_argv  # copy_opt_file records the whole command line in the experiment's option file
    for keys in deletions:
        delete_option(opt, keys)
    check_training_options(opt, source=parsed_args.opt)
    return opt, parsed_args


# --- progress and logging ---------------------------------------------------------------------------------------
def create_dataloaders_and_say_so(opt, logger, create=basicsr_train.create_train_val_dataloader):
    """basicsr's ``create_train_val_dataloader``, then one line with the pairs of each data set, so the wait for the
    model and the first batch (long with ``cache: memory`` or many workers) does not look like a hang."""
    logger.info('building the data sets')
    result = create(opt, logger)
    train_loader, _, val_loaders = result[:3]
    sizes = ', '.join(f'{loader.dataset.opt["name"]}: {len(loader.dataset)} pairs'
                      for loader in [train_loader, *val_loaders])
    logger.info(f'data sets built ({sizes}); building the model, then the first iteration starts')
    return result


class LearningRateMessageLogger(basicsr_train.MessageLogger):
    """BasicSR's MessageLogger, plus the learning rate in tensorboard (``train/lr``; ``train/lr_<i>`` for more
    than one parameter group), which it prints but does not add there."""

    def __call__(self, log_vars):
        if self.use_tb_logger and self.tb_logger is not None and 'debug' not in self.exp_name:
            lrs = log_vars['lrs']
            for index, lr in enumerate(lrs):
                self.tb_logger.add_scalar('train/lr' if len(lrs) == 1 else f'train/lr_{index}', lr, log_vars['iter'])
        super().__call__(log_vars)


# --- entry point ------------------------------------------------------------------------------------------------
def basicsr_argument_parser():
    """The arguments of ``basicsr.utils.options.parse_options``, so we read argv exactly as BasicSR will."""
    parser = argparse.ArgumentParser(prog='realestate_sr/train.py')
    parser.add_argument('-opt', type=str, required=True, help='Path to option YAML file.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none', help='job launcher')
    parser.add_argument('--auto_resume', action='store_true')
    parser.add_argument('--debug', action='store_true')
    parser.add_argument('--local_rank', type=int, default=0)
    parser.add_argument(
        '--force_yml', nargs='+', default=None, help='Force to update yml files. Examples: train:ema_decay=0.999')
    return parser


def canonical_argv(argv):
    """(argv for BasicSR, absolute option file path): ``argv`` parsed as BasicSR parses it, written back with a
    separate ``-opt`` whose path is absolute, so it survives the change of directory whichever form was given
    (``-opt path``, ``-opt=path``). Usage errors exit through argparse, as BasicSR's own parser would."""
    args = basicsr_argument_parser().parse_args(argv[1:])
    opt_path = Path(args.opt).resolve()
    if not opt_path.is_file():
        raise OptionFileError(f'-opt {args.opt}: no such option file ({opt_path})')
    canonical = [argv[0], '-opt', str(opt_path), '--launcher', args.launcher, '--local_rank', str(args.local_rank)]
    canonical += ['--auto_resume'] * args.auto_resume + ['--debug'] * args.debug
    if args.force_yml:
        canonical += ['--force_yml', *args.force_yml]
    return canonical, opt_path


def run_training(root=REPO_ROOT):
    """Train as ``realestate_sr/train.py`` does with the current ``sys.argv``; return the trained model."""
    sys.argv, opt_path = canonical_argv(sys.argv)
    os.chdir(root)
    # basicsr's parse_options passes dist_params to init_dist only for slurm and never num_gpu
    ours = partial(init_dist, **launch_settings(opt_path))
    basicsr_options.init_dist = basicsr_dist_util.init_dist = ours
    basicsr_train.load_resume_state = load_resume_state
    basicsr_train.parse_options = parse_and_check_options
    basicsr_train.create_train_val_dataloader = create_dataloaders_and_say_so
    basicsr_train.MessageLogger = LearningRateMessageLogger
    built = []

    def build_and_keep(opt):
        built.append(build_model(opt))
        return built[-1]

    basicsr_train.build_model = build_and_keep
    basicsr_train.train_pipeline(str(root))
    model = built[-1]
    if dist.is_initialized():
        dist.destroy_process_group()
    return model


# Errors whose message says what to do: the command line prints it without a traceback.
CLEAR_ERRORS = (MissingWeightsError, CheckpointMismatchError, DistributedSetupError, OptionFileError, ResumeStateError,
                OptionKeyError,
                # the datasets are built before training starts: a wrong path, split file or RAM budget
                PairListError, LmdbFormatError, DatasetOptionError, CacheTooLargeError)


def main():
    """``realestate_sr/train.py``: train, returning the exit code (2 with one message for CLEAR_ERRORS)."""
    try:
        run_training()
    except CLEAR_ERRORS as error:
        print(f'realestate_sr/train.py: error: {error}', file=sys.stderr, flush=True)
        return 2
    return 0
