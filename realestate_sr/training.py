"""Train from an option file: the entry point of ``realestate_sr/train.py``.

Our own training loop, shaped like BasicSR 1.4.2's ``train_pipeline`` and built from basicsr's builders,
loggers and registries (``build_dataset``/``build_dataloader`` through ``create_train_val_dataloader``,
``build_model``, ``MessageLogger``, the tensorboard logger). What differs from basicsr's pipeline:

- options: read once from the command line; ``--force_yml KEY=~`` deletes KEY, and the start-up checks of
  ``realestate_sr.models.option_checks`` (unknown keys, CUDA settings without CUDA) run before any data is read.
- distributed: the process group comes from ``realestate_sr.distributed.init_dist`` (NCCL on GPUs, Gloo on
  CPUs, ``LOCAL_RANK`` pinning, the option file's ``num_gpu`` and ``dist_params``).
- resume: ``realestate_sr.resume.load_resume_state`` (loads on the CPU, reads ``opt['path']['training_states']``,
  skips states that do not load, same iteration on every rank).
- progress: a line once the data sets are built and the learning rate in tensorboard.
- the loop stops at ``total_iter``; basicsr's ran its counter on past it and validated again there.
- best checkpoint and early stopping (``val.best``, see ``realestate_sr.models.best_validation``): each validation
  that improves the chosen metric writes ``models/net_g_best.pth`` (EnhanceModel); with ``patience: N``, N
  validations in a row without improvement stop training there: that iteration is saved as at any periodic
  save, plus ``net_g_latest.pth``, one log line names the best iteration and value, and the exit code is 0.
- SIGINT / SIGTERM (Ctrl-C, ``kill``, a SLURM preemption) stop training after the current iteration: its
  networks and training state are saved, one log line says where and the command that resumes, and the exit
  code is 130 / 143. In a distributed run every rank stops at the same iteration; rank 0 writes. A second
  signal stops at once, without saving.

Relative paths in option files (datasets, pretrained weights) are relative to the repository root: training
runs with the root as working directory; ``-opt`` is made absolute first (``-opt path`` and ``-opt=path``).

``main`` is the command line's entry: errors whose message says what to do (missing weights, a checkpoint that
does not fit, a bad launch environment, an option file mistake) print one message and exit with code 2;
anything else keeps its traceback. See docs/distributed.md for multi-GPU, multi-node and SLURM runs.
"""
import copy
import datetime
import logging
import os
import random
import shlex
import signal
import sys
import time
from itertools import count
from pathlib import Path

import torch
import torch.distributed as dist
import yaml

from realestate_sr.archs.checkpoint import CheckpointMismatchError
from realestate_sr.data.lmdb_io import LmdbFormatError
from realestate_sr.data.memory_cache import CacheTooLargeError
from realestate_sr.data.pair_lists import PairListError
from realestate_sr.data.paired_listing_dataset import DatasetOptionError
from realestate_sr.distributed import DistributedSetupError, init_dist, launch_settings
from realestate_sr.models.option_checks import OptionKeyError, check_training_options, unknown_key_message
from realestate_sr.options import OptionFileError, read_option_file
from realestate_sr.resume import ResumeStateError, load_resume_state
from realestate_sr.utils.output_safety import atomic_write
from realestate_sr.utils.stop_signals import AbortRequested, StopSignals, exit_code
from realestate_sr.utils.train_arguments import argument_parser
from realestate_sr.utils.weights import MissingWeightsError

from basicsr.data.prefetch_dataloader import CPUPrefetcher, CUDAPrefetcher
from basicsr.models import build_model
from basicsr.train import create_train_val_dataloader, init_tb_loggers
from basicsr.utils import (
    AvgTimer,
    MessageLogger,
    get_env_info,
    get_root_logger,
    get_time_str,
    make_exp_dirs,
    mkdir_and_rename,
    set_random_seed,
)
from basicsr.utils.dist_util import get_dist_info
from basicsr.utils.options import _postprocess_yml_value, dict2str, ordered_yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


class TrainingInterrupted(Exception):
    """SIGINT or SIGTERM stopped training between two iterations, after the state of ``iteration`` was saved."""

    def __init__(self, signum, iteration):
        super().__init__(f'{signal.Signals(signum).name} at iter {iteration}')
        self.signum, self.iteration = signum, iteration


# --- option file ------------------------------------------------------------------------------------------------
DELETE_VALUE = '~'


def _block_holding(opt, keys, entry, last_must_exist):
    """(the dict that holds the last key of ``a:b:c``, that key); OptionKeyError naming the level that lacks one."""
    path = keys.split(':')
    block = opt
    for depth, key in enumerate(path):
        last = depth == len(path) - 1
        if last and not last_must_exist and isinstance(block, dict):
            break
        if not isinstance(block, dict) or key not in block:
            known = list(block) if isinstance(block, dict) else []
            where = '.'.join(path[:depth]) or 'the option file'
            raise OptionKeyError(f'--force_yml {entry}: {unknown_key_message(key, where, known)}')
        if not last:
            block = block[key]
    return block, path[-1]


def delete_option(opt, keys):
    """Remove ``a:b:c`` from ``opt``; OptionKeyError naming the level that lacks the key."""
    block, key = _block_holding(opt, keys, f'{keys}={DELETE_VALUE}', last_must_exist=True)
    del block[key]


def set_option(opt, keys, value):
    """Set ``a:b:c`` in ``opt`` to ``value`` (text as BasicSR's ``--force_yml`` reads it: numbers, booleans,
    lists, ``none``); the blocks above it must exist. A new last key is allowed: the checks then name it."""
    block, key = _block_holding(opt, keys, f'{keys}={value}', last_must_exist=False)
    block[key] = _postprocess_yml_value(value)


def with_force_yml(option_file, force_yml):
    """A copy of the options of ``option_file`` (read once) with the ``--force_yml`` entries applied in
    command-line order."""
    opt = copy.deepcopy(option_file.options)
    for entry in force_yml or []:
        keys, equals, value = (part.strip() for part in entry.partition('='))
        if not equals or not keys:
            raise OptionKeyError(f'--force_yml {entry}: write KEY=VALUE (a:b=1) or KEY={DELETE_VALUE} to delete')
        if value == DELETE_VALUE:
            delete_option(opt, keys)
        else:
            set_option(opt, keys, value)
    return opt


def add_run_settings(opt, args, root_path):
    """What BasicSR's ``parse_options`` adds to the file's options: process group, rank, seed, debug mode,
    dataset phases, the experiment's folders. Joins the process group for ``--launcher pytorch|slurm``, as the
    option file (``args.option_file``) says."""
    opt['dist'] = args.launcher != 'none'
    if opt['dist']:
        # basicsr passed dist_params to init_dist only for slurm, and never num_gpu
        init_dist(args.launcher, **launch_settings(args.option_file))
    opt['rank'], opt['world_size'] = get_dist_info()
    set_random_seed(opt['manual_seed'] + opt['rank'])
    opt['auto_resume'], opt['is_train'], opt['root_path'] = args.auto_resume, True, root_path
    if args.debug and not opt['name'].startswith('debug'):
        opt['name'] = 'debug_' + opt['name']
    if opt['num_gpu'] == 'auto':
        opt['num_gpu'] = torch.cuda.device_count()
    for phase, dataset in opt['datasets'].items():
        dataset['phase'] = phase.split('_')[0]  # val_1, val_2: phase val
        if 'scale' in opt:
            dataset['scale'] = opt['scale']
        for key in ('dataroot_gt', 'dataroot_lq'):
            if dataset.get(key) is not None:
                dataset[key] = os.path.expanduser(dataset[key])
    for key, value in opt['path'].items():
        if value is not None and ('resume_state' in key or 'pretrain_network' in key):
            opt['path'][key] = os.path.expanduser(value)
    root = os.path.join(root_path, 'experiments', opt['name'])
    opt['path'].update(experiments_root=root, models=os.path.join(root, 'models'), log=root,
                       training_states=os.path.join(root, 'training_states'),
                       visualization=os.path.join(root, 'visualization'))
    if 'debug' in opt['name']:
        if 'val' in opt:
            opt['val']['val_freq'] = 8
        opt['logger'].update(print_freq=1, save_checkpoint_freq=8)
    return opt


def parse_and_check_options(root_path, argv=None):
    """(options, arguments) of this run from ``argv`` (default ``sys.argv``): the file with ``--force_yml``
    applied (``KEY=~`` deletes), then what BasicSR's ``parse_options`` adds, then the option checks of
    realestate_sr.models.option_checks: a typo stops the run here, before any data is read."""
    args = argument_parser().parse_args((argv or sys.argv)[1:])
    args.option_file = read_option_file(args.opt)  # the one read: the resolved copy and the launch reuse it
    opt = with_force_yml(args.option_file, args.force_yml)
    if opt.get('manual_seed') is None:
        opt['manual_seed'] = random.randint(1, 10000)
    add_run_settings(opt, args, root_path)
    check_training_options(opt, source=args.opt)
    return opt, args


# --- progress and logging ---------------------------------------------------------------------------------------
def create_dataloaders_and_say_so(opt, logger, create=create_train_val_dataloader):
    """basicsr's ``create_train_val_dataloader``, then one line with the pairs of each data set, so the wait for the
    model and the first batch (long with ``cache: memory`` or many workers) does not look like a hang."""
    logger.info('building the data sets')
    result = create(opt, logger)
    train_loader, _, val_loaders = result[:3]
    sizes = ', '.join(f'{loader.dataset.opt["name"]}: {len(loader.dataset)} pairs'
                      for loader in [train_loader, *val_loaders])
    logger.info(f'data sets built ({sizes}); building the model, then the first iteration starts')
    return result


class LearningRateMessageLogger(MessageLogger):
    """BasicSR's MessageLogger, plus the learning rate in tensorboard (``train/lr``; ``train/lr_<i>`` for more
    than one parameter group), which it prints but does not add there."""

    def __call__(self, log_vars):
        if self.use_tb_logger and self.tb_logger is not None and 'debug' not in self.exp_name:
            lrs = log_vars['lrs']
            for index, lr in enumerate(lrs):
                self.tb_logger.add_scalar('train/lr' if len(lrs) == 1 else f'train/lr_{index}', lr, log_vars['iter'])
        super().__call__(log_vars)


def training_prefetcher(opt, train_loader, logger):
    """The prefetcher ``datasets.train.prefetch_mode`` names: ``cpu`` (or none) or ``cuda`` (needs pin_memory)."""
    train_opt = opt['datasets']['train']
    mode = train_opt.get('prefetch_mode')
    if mode is None or mode == 'cpu':
        return CPUPrefetcher(train_loader)
    if mode == 'cuda':
        if train_opt.get('pin_memory') is not True:
            raise ValueError('datasets.train.prefetch_mode: cuda needs pin_memory: true')
        logger.info('Use cuda prefetch dataloader')
        return CUDAPrefetcher(train_loader, opt)
    raise ValueError(f"datasets.train.prefetch_mode: {mode!r}; supported: ~, 'cpu', 'cuda'")


# --- the run ----------------------------------------------------------------------------------------------------
RESOLVED_OPTIONS = 'options_resolved.yml'


def copy_option_file(opt, args):
    """Write BasicSR's copy of the option file into the experiment folder: its file name, BasicSR's header (the time
    and the command line) and the text this run read (``args.option_file``), in one atomic write, so an edit to the
    file after start-up does not show in the copy and an interrupted write leaves none. Return its path; None on
    ranks other than 0 and when it is the option file being read."""
    path = os.path.join(opt['path']['experiments_root'], os.path.basename(args.opt))
    if opt['rank'] != 0 or (os.path.exists(path) and os.path.samefile(path, args.opt)):
        return None
    header = f'# GENERATE TIME: {time.asctime()}\n# CMD:\n# {" ".join(sys.argv)}\n\n'
    atomic_write(path, (header + args.option_file.text).encode('utf-8'))
    return path


def write_resolved_options(opt, args):
    """Write ``experiments/<name>/options_resolved.yml`` beside BasicSR's copy of the option file: the options this
    run trains with (``--force_yml`` applied, ``KEY=~`` deleted, ``manual_seed`` filled in), in the option file's
    own form. Return its path; None on ranks other than 0 and when it is the option file being read."""
    path = os.path.join(opt['path']['experiments_root'], RESOLVED_OPTIONS)
    if opt['rank'] != 0 or (os.path.exists(path) and os.path.samefile(path, args.opt)):
        return None
    resolved = with_force_yml(args.option_file, args.force_yml)
    resolved['manual_seed'] = opt['manual_seed']
    header = (f'# {args.opt}\n# with --force_yml {" ".join(args.force_yml)}\n' if args.force_yml else f'# {args.opt}\n')
    header += ('# as this run read it, with manual_seed filled in. To train with it, copy it out of this folder\n'
               '# first: a fresh run of the same name archives the folder.\n')
    text = yaml.dump(resolved, Dumper=ordered_yaml()[1], sort_keys=False, default_flow_style=False)
    atomic_write(path, (header + text).encode('utf-8'))
    return path


def start_experiment(opt, args):
    """(resume state or None, logger): folders made (a fresh run archives an older one of the same name), the
    option file copied as given and as resolved, the log file opened with the environment and the options."""
    resume_state = load_resume_state(opt)
    if resume_state is None:
        make_exp_dirs(opt)
        if opt['logger'].get('use_tb_logger') and 'debug' not in opt['name'] and opt['rank'] == 0:
            mkdir_and_rename(os.path.join(opt['root_path'], 'tb_logger', opt['name']))
    copy_option_file(opt, args)
    resolved = write_resolved_options(opt, args)
    # the first get_root_logger call decides the log file: nothing above may log
    log_file = os.path.join(opt['path']['log'], f"train_{opt['name']}_{get_time_str()}.log")
    logger = get_root_logger(logger_name='basicsr', log_level=logging.INFO, log_file=log_file)
    logger.info(get_env_info())
    logger.info(dict2str(opt))
    if resolved:
        logger.info(f'the options as resolved (--force_yml applied, ~ keys deleted): {resolved}')
    return resume_state, logger


def validate(model, val_loaders, current_iter, tb_logger, opt):
    for val_loader in val_loaders:
        model.validation(val_loader, current_iter, tb_logger, opt['val']['save_img'])


def stop_signal_on_any_rank(signum):
    """``signum`` (or None) of this process, or in a distributed run the signal any rank received: every rank
    then stops after the same iteration (a rank leaving alone would hang the others in their next all-reduce)."""
    if not (dist.is_available() and dist.is_initialized()):
        return signum
    flag = torch.tensor([signum or 0], device='cuda' if dist.get_backend() == 'nccl' else 'cpu')
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return int(flag.item()) or None


def resume_command(args, world_size):
    """The command line that continues this run from its newest training state."""
    script = REPO_ROOT / 'realestate_sr' / 'train.py'
    arguments = ['-opt', str(Path(args.opt).resolve()), '--auto_resume'] + ['--debug'] * args.debug
    if args.launcher != 'none':
        arguments += ['--launcher', args.launcher]
    if args.force_yml:
        arguments += ['--force_yml', *args.force_yml]
    if args.launcher == 'pytorch':
        per_node = int(os.environ.get('LOCAL_WORLD_SIZE', world_size))
        nodes = ['--nnodes', str(world_size // per_node)] if world_size != per_node else []
        return shlex.join(['torchrun', *nodes, '--nproc_per_node', str(per_node), str(script), *arguments])
    launcher = ['srun'] if args.launcher == 'slurm' else []
    return shlex.join([*launcher, sys.executable, str(script), *arguments])


def checkpoint_paths(opt, iteration):
    """(network weights, training state) that ``model.save`` writes at ``iteration``."""
    return (os.path.join(opt['path']['models'], f'net_g_{iteration}.pth'),
            os.path.join(opt['path']['training_states'], f'{iteration}.state'))


def save_checkpoint(opt, model, logger, epoch, current_iter):
    """Save networks and training state at ``current_iter``, after a line naming both files."""
    weights, state = checkpoint_paths(opt, current_iter)
    logger.info(f'Saving models and training states at iter {current_iter}: {weights}, {state}')
    model.save(epoch, current_iter)


def patience_exhausted_on_rank_0(model):
    """Whether ``val.best.patience`` validations in a row brought no better value, as rank 0 (the one that
    validates) counted them, the same answer on every rank; False without ``val.best``."""
    best = getattr(model, 'best_validation', None)
    exhausted = bool(best is not None and best.patience_exhausted())
    if not (dist.is_available() and dist.is_initialized()):
        return exhausted
    flag = torch.tensor([int(exhausted)], device='cuda' if dist.get_backend() == 'nccl' else 'cpu')
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def early_stop_message(model, current_iter):
    """The one line that says why training stopped at ``current_iter`` and where its best state is."""
    best = model.best_validation
    return (f'early stop at iter {current_iter}: {best.metric} on {best.dataset} did not improve in '
            f'{best.validations_since} validation(s) (val.best.patience: {best.patience}); best {best.describe()}, '
            f'in {model.best_checkpoint_path()}')


def save_and_stop(opt, args, model, logger, epoch, current_iter, signum, saved_iter):
    """Save networks and training state at ``current_iter`` (unless just saved), say where and how to resume in
    one line, and raise TrainingInterrupted."""
    if saved_iter != current_iter:
        model.save(epoch, current_iter)
    if dist.is_available() and dist.is_initialized():
        dist.barrier()  # the other ranks exit only once rank 0 has written: torchrun kills the rest on an exit
    weights, state = checkpoint_paths(opt, current_iter)
    name, command = signal.Signals(signum).name, resume_command(args, opt['world_size'])
    if os.path.isfile(state) and os.path.isfile(weights):
        logger.info(f'{name}: stopped at iter {current_iter}; saved {weights} and {state}; resume with: {command}')
    else:
        logger.info(f'{name}: stopped at iter {current_iter}; saving it failed (see the warnings above): '
                    f'resuming continues from the newest earlier state: {command}')
    raise TrainingInterrupted(signum, current_iter)


def train_iterations(opt, args, model, loaders, logger, tb_logger, start_epoch, current_iter, stop):
    """Train from ``current_iter`` to ``train.total_iter``, logging, saving and validating at their frequencies;
    return (the epoch it ended in, its last iteration): ``total_iter``, or earlier when ``val.best.patience`` ran
    out (that iteration saved). After an iteration in which ``stop`` (StopSignals) received a signal, save and
    raise TrainingInterrupted."""
    train_loader, train_sampler, val_loaders, _, total_iters = loaders
    msg_logger = LearningRateMessageLogger(opt, current_iter, tb_logger)
    prefetcher = training_prefetcher(opt, train_loader, logger)
    logger.info(f'Start training from epoch: {start_epoch}, iter: {current_iter}')
    first_iter = current_iter + 1
    data_timer, iter_timer = AvgTimer(), AvgTimer()
    logger_opt, val_opt = opt['logger'], opt.get('val')
    saved_iter = None
    if current_iter >= total_iters:
        return start_epoch, current_iter
    for epoch in count(start_epoch):
        train_sampler.set_epoch(epoch)
        prefetcher.reset()
        train_data = prefetcher.next()
        while train_data is not None and current_iter < total_iters:
            data_timer.record()
            current_iter += 1
            model.update_learning_rate(current_iter, warmup_iter=opt['train'].get('warmup_iter', -1))
            model.feed_data(train_data)
            model.optimize_parameters(current_iter)
            iter_timer.record()
            if current_iter == first_iter:
                msg_logger.reset_start_time()  # the ETA leaves out the set-up and the first step
            if current_iter % logger_opt['print_freq'] == 0:
                msg_logger({'epoch': epoch, 'iter': current_iter, 'lrs': model.get_current_learning_rate(),
                            'time': iter_timer.get_avg_time(), 'data_time': data_timer.get_avg_time(),
                            **model.get_current_log()})
            if current_iter % logger_opt['save_checkpoint_freq'] == 0:
                save_checkpoint(opt, model, logger, epoch, current_iter)
                saved_iter = current_iter
            if val_opt is not None and current_iter % val_opt['val_freq'] == 0:
                validate(model, val_loaders, current_iter, tb_logger, opt)
                if patience_exhausted_on_rank_0(model):
                    if saved_iter != current_iter:
                        save_checkpoint(opt, model, logger, epoch, current_iter)
                    logger.info(early_stop_message(model, current_iter))
                    return epoch, current_iter
            signum = stop_signal_on_any_rank(stop.received)
            if signum:
                save_and_stop(opt, args, model, logger, epoch, current_iter, signum, saved_iter)
            data_timer.start()
            iter_timer.start()
            train_data = prefetcher.next()
        if current_iter >= total_iters:
            return epoch, current_iter


def train(opt, args):
    """Run the training ``opt`` describes; return the model."""
    torch.backends.cudnn.benchmark = True
    resume_state, logger = start_experiment(opt, args)
    tb_logger = init_tb_loggers(opt)
    try:
        loaders = create_dataloaders_and_say_so(opt, logger)
        model = build_model(opt)
        start_epoch, current_iter = 0, 0
        if resume_state:
            model.resume_training(resume_state)  # optimizers and schedulers; the weights came through the options
            start_epoch, current_iter = resume_state['epoch'], resume_state['iter']
            logger.info(f'Resuming training from epoch: {start_epoch}, iter: {current_iter}.')
        start_time = time.time()
        with StopSignals() as stop:
            _, last_iter = train_iterations(opt, args, model, loaders, logger, tb_logger, start_epoch, current_iter,
                                            stop)
        logger.info(f'End of training. Time consumed: {datetime.timedelta(seconds=int(time.time() - start_time))}')
        logger.info('Save the latest model.')
        model.save(epoch=-1, current_iter=-1)  # -1: net_g_latest.pth
        if opt.get('val') is not None and last_iter >= loaders[4]:  # once more at total_iter, unless val_freq just
            validate(model, loaders[2], loaders[4], tb_logger, opt)   # did it; an early stop validated just now
    finally:
        if tb_logger:
            tb_logger.close()
    return model


# --- entry point ------------------------------------------------------------------------------------------------
def canonical_argv(argv):
    """(argv, absolute option file path): ``argv`` written back with a separate ``-opt`` whose path is absolute,
    so it survives the change of directory whichever form was given (``-opt path``, ``-opt=path``), and the
    experiment's copy of the option file records a command that works from anywhere. Usage errors exit
    through argparse."""
    args = argument_parser().parse_args(argv[1:])
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
    sys.argv, _ = canonical_argv(sys.argv)  # copy_option_file records sys.argv in the experiment's option file
    os.chdir(root)
    opt, args = parse_and_check_options(str(root))
    try:
        return train(opt, args)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


# Errors whose message says what to do: the command line prints it without a traceback.
CLEAR_ERRORS = (MissingWeightsError, CheckpointMismatchError, DistributedSetupError, OptionFileError, ResumeStateError,
                OptionKeyError,
                # the datasets are built before training starts: a wrong path, split file or RAM budget
                PairListError, LmdbFormatError, DatasetOptionError, CacheTooLargeError)


def main():
    """``realestate_sr/train.py``: train, returning the exit code (2 with one message for CLEAR_ERRORS; 130 / 143
    after SIGINT / SIGTERM, whose first arrival saves the current iteration, see ``train_iterations``)."""
    try:
        run_training()
    except CLEAR_ERRORS as error:
        print(f'realestate_sr/train.py: error: {error}', file=sys.stderr, flush=True)
        return 2
    except TrainingInterrupted as stop:  # the log said where the state is and how to resume
        return exit_code(stop.signum)
    except AbortRequested as abort:
        print(f'realestate_sr/train.py: {abort}: stopped at once, nothing saved since the last checkpoint',
              file=sys.stderr, flush=True)
        return exit_code(abort.signum)
    except KeyboardInterrupt:  # outside the training iterations (start-up, the final validation)
        print('realestate_sr/train.py: interrupted outside the training iterations; nothing saved',
              file=sys.stderr, flush=True)
        return exit_code(signal.SIGINT)
    return 0
