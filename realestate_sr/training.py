"""Run BasicSR's training pipeline with the few fixes our users need.

``basicsr.train.train_pipeline`` is used as it is. Some of its helpers assume a
CUDA machine and the current directory, so we replace them for this process:

- ``load_resume_state``: basicsr maps the state to ``torch.cuda.current_device()``
  (fails on CPU) and finds auto-resume states relative to the current directory.
  Ours loads to the CPU with ``weights_only=True`` (optimizers move their state to
  their parameters' device), reads ``opt['path']['training_states']`` and, in a
  distributed run, checks that every rank resumes from the same iteration. ``--auto_resume``
  takes the newest state that loads together with its ``net_g_<iter>.pth``, printing one line
  for each newer one it skips (EnhanceModel writes both through a temporary name, so only a
  file written by an older version or a damaged disk can be truncated).
- ``init_dist`` (in ``basicsr.utils.dist_util`` and as imported by ``basicsr.utils.options``): basicsr always calls
  ``torch.cuda.set_device`` and uses NCCL. Ours picks NCCL when CUDA is available
  and ``num_gpu`` is not 0, Gloo otherwise (CPU runs, tests, debugging), pins each
  process to its ``LOCAL_RANK`` GPU, and leaves the multiprocessing start method
  alone (basicsr forces ``spawn``; ``fork`` keeps ``cache: memory`` shared with
  DataLoader workers).

- ``parse_options``: basicsr's, plus ``--force_yml KEY=~`` deleting KEY, then the start-up checks of
  ``realestate_sr.utils.option_checks`` (unknown keys, CUDA settings without CUDA), before any data is read.
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
import datetime
import os
import socket
import subprocess
import sys
from functools import partial
from pathlib import Path

import torch
import torch.distributed as dist
import yaml

import realestate_sr  # noqa: F401  (compat alias + registrations before basicsr.train is imported)
import basicsr.train as basicsr_train
import basicsr.utils.dist_util as basicsr_dist_util
import basicsr.utils.options as basicsr_options
from basicsr.models import build_model
from basicsr.utils import check_resume, scandir

from realestate_sr.archs.checkpoint import CheckpointMismatchError, read_state_dict, save_atomically
from realestate_sr.data.lmdb_io import LmdbFormatError
from realestate_sr.data.memory_cache import CacheTooLargeError
from realestate_sr.data.pair_lists import PairListError
from realestate_sr.data.paired_listing_dataset import DatasetOptionError
from realestate_sr.losses.vgg_features import MissingWeightsError
from realestate_sr.utils.option_checks import OptionKeyError, check_training_options, unknown_key_message

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MASTER_PORT = 29500
# Debugging aid for distributed runs: when set to a folder, every rank writes its final
# network and optimizer state there as rank<r>.pth, so one can check that the ranks agree.
RANK_STATE_DIR_ENV = 'REALESTATE_SR_RANK_STATE_DIR'
DIST_PARAM_KEYS = ('backend', 'port', 'timeout_minutes')


class DistributedSetupError(RuntimeError):
    """The launcher's environment or the option file's ``dist_params`` do not describe a usable process group."""


class OptionFileError(FileNotFoundError):
    """``-opt`` names no file."""


# --- process group ----------------------------------------------------------------------------------------------
def wants_cuda(num_gpu):
    """Whether this run trains on GPUs: ``num_gpu`` (an int or 'auto') is not 0 and CUDA is there."""
    return num_gpu != 0 and torch.cuda.is_available()


def slurm_master_address(node_list):
    """First host name of a SLURM node list such as ``gpu[01-04]``, expanded by ``scontrol``."""
    try:
        result = subprocess.run(['scontrol', 'show', 'hostnames', node_list], capture_output=True, text=True,
                                check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise DistributedSetupError(f'cannot expand SLURM_NODELIST={node_list!r} with scontrol ({error}); '
                                    'export MASTER_ADDR in the sbatch script instead') from error
    hosts = result.stdout.split()
    if not hosts:
        raise DistributedSetupError(f'scontrol returned no host for SLURM_NODELIST={node_list!r}')
    return hosts[0]


def export_slurm_environment(port=None):
    """Translate ``srun``'s variables into the ``env://`` ones torch reads; return the local rank.

    One task per GPU (``--ntasks-per-node`` = GPUs per node). ``MASTER_ADDR`` / ``MASTER_PORT`` already
    in the environment win over the node list and the default port; ``port`` (``dist_params.port``)
    wins over ``MASTER_PORT``.
    """
    try:
        rank, world_size = int(os.environ['SLURM_PROCID']), int(os.environ['SLURM_NTASKS'])
    except KeyError as error:
        raise DistributedSetupError(f'--launcher slurm needs {error.args[0]} in the environment: '
                                    'start the training with srun inside an allocation') from error
    local_rank = int(os.environ.get('SLURM_LOCALID', rank % max(1, torch.cuda.device_count())))
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = slurm_master_address(os.environ['SLURM_NODELIST'])
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', str(DEFAULT_MASTER_PORT))
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(local_rank))
    return local_rank


def gpu_index(launcher, local_rank, visible_gpus):
    """The CUDA device a process with this local rank trains on.

    ``srun --gpus-per-task=1`` shows each task only its own GPU (index 0 for every local rank), while
    ``--gpus-per-node`` shows all of them; torchrun always shows all of them.
    """
    if launcher == 'slurm' and visible_gpus == 1:
        return 0
    if local_rank >= visible_gpus:
        raise DistributedSetupError(f'local rank {local_rank} but only {visible_gpus} GPU(s) visible: '
                                    'start at most one process per GPU on each node')
    return local_rank


def init_dist(launcher, num_gpu=0, backend=None, port=None, timeout_minutes=None):
    """Join the process group started by ``torchrun`` (launcher 'pytorch') or ``srun`` (launcher 'slurm').

    Backend: ``backend`` if given, else NCCL when training on GPUs, Gloo on CPUs. On GPUs each process
    is pinned to GPU ``LOCAL_RANK`` (right on nodes with any number of GPUs, unlike ``RANK % GPUs``).
    ``timeout_minutes`` bounds how long a rank waits in a collective, e.g. for rank 0 to finish
    validating (torch's defaults: 10 min NCCL, 30 min Gloo).
    """
    if launcher == 'pytorch':
        if 'LOCAL_RANK' not in os.environ:
            raise DistributedSetupError('--launcher pytorch needs the variables torchrun sets (RANK, LOCAL_RANK, '
                                        'WORLD_SIZE, MASTER_ADDR, MASTER_PORT): start it with torchrun')
        local_rank = int(os.environ['LOCAL_RANK'])
    elif launcher == 'slurm':
        local_rank = export_slurm_environment(port)
    else:
        raise ValueError(f'unknown launcher {launcher!r}: use pytorch or slurm')
    use_cuda = wants_cuda(num_gpu)
    if use_cuda:
        torch.cuda.set_device(gpu_index(launcher, local_rank, torch.cuda.device_count()))
    options = {'timeout': datetime.timedelta(minutes=float(timeout_minutes))} if timeout_minutes else {}
    dist.init_process_group(backend=backend or ('nccl' if use_cuda else 'gloo'), **options)


def launch_settings(opt_path):
    """``num_gpu`` and ``dist_params`` of an option file: they decide the backend before basicsr parses it."""
    with open(opt_path, encoding='utf-8') as file:
        opt = yaml.load(file, Loader=basicsr_options.ordered_yaml()[0]) or {}
    params = dict(opt.get('dist_params') or {})
    unknown = sorted(set(params) - set(DIST_PARAM_KEYS))
    if unknown:
        raise DistributedSetupError(f'{opt_path}: unknown dist_params {unknown}; known: {list(DIST_PARAM_KEYS)}')
    return {'num_gpu': opt.get('num_gpu', 1), **params}


# --- resume -----------------------------------------------------------------------------------------------------
class ResumeStateError(RuntimeError):
    """``path.resume_state`` names a training state that does not load."""


def state_paths_newest_first(states_dir):
    """The ``<iter>.state`` files of ``states_dir``, highest iteration first (temporary files are not states)."""
    if not os.path.isdir(states_dir):
        return []
    names = [name for name in scandir(states_dir, suffix='state', recursive=False)
             if name[:-len('.state')].isdigit()]
    return [os.path.join(states_dir, name) for name in sorted(names, key=lambda n: -int(n[:-len('.state')]))]


def first_line(error):
    """``error`` as one short line: its type and the first line of its message."""
    message = str(error).strip().splitlines()
    return f'{type(error).__name__}: {message[0][:200]}' if message else type(error).__name__


def load_state_and_weights(state_path, models_dir):
    """The training state at ``state_path``, once it and the ``net_g_<iter>.pth`` resuming loads from it read back
    completely; raises whatever stops either from loading."""
    state = torch.load(state_path, map_location='cpu', weights_only=True)
    if not isinstance(state, dict) or not {'iter', 'epoch', 'optimizers', 'schedulers'} <= set(state):
        raise ValueError('not a BasicSR training state (needs iter, epoch, optimizers, schedulers)')
    read_state_dict(os.path.join(models_dir, f'net_g_{state["iter"]}.pth'))
    return state


def newest_loadable_state(states_dir, models_dir, report=print):
    """(path, state) of the newest training state that loads with its network weights, or (None, None).

    A state (or its ``net_g_<iter>.pth``) that does not load, e.g. truncated by a kill of an older version that
    wrote in place, is skipped with one ``report`` line naming the file and the reason.
    """
    for path in state_paths_newest_first(states_dir):
        try:
            return path, load_state_and_weights(path, models_dir)
        except Exception as error:  # noqa: BLE001 (torch raises RuntimeError, EOFError, pickle errors...)
            report(f'auto_resume: skipping {path}: {first_line(error)}')
    return None, None


def resume_mismatch(points):
    """A message when ranks would resume from different points, else None.

    ``points``: one ``(rank, host, iter or None)`` per rank. Typical cause: a multi-node run whose
    ``experiments/`` folder is not on a filesystem shared by all nodes.
    """
    if len({point[2] for point in points}) <= 1:
        return None
    lines = ', '.join(f'rank {rank} on {host}: {"no state" if it is None else f"iter {it}"}'
                      for rank, host, it in points)
    return ('ranks would resume from different training states (' + lines + '); every node must see the same '
            'experiments/<name>/training_states (a shared filesystem) or be given the same path.resume_state')


def load_resume_state(opt):
    """Training state to resume from (``--auto_resume`` or ``path.resume_state``), loaded on the CPU; or None."""
    if opt['auto_resume']:
        report = partial(print, file=sys.stderr, flush=True)
        path, state = newest_loadable_state(opt['path']['training_states'], opt['path']['models'], report)
        if path is not None:
            opt['path']['resume_state'] = path
    else:
        path = opt['path'].get('resume_state')
        try:
            state = None if path is None else torch.load(path, map_location='cpu', weights_only=True)
        except Exception as error:  # noqa: BLE001
            raise ResumeStateError(f'path.resume_state: {path} does not load ({first_line(error)}); '
                                   'give an older training_states/<iter>.state or use --auto_resume') from error
    if dist.is_available() and dist.is_initialized():
        # a rank starting afresh next to resumed ones would silently train with other optimizer moments
        points = [None] * dist.get_world_size()
        resume_iter = None if state is None else state['iter']
        dist.all_gather_object(points, (dist.get_rank(), socket.gethostname(), resume_iter))
        message = resume_mismatch(points)
        if message:
            raise DistributedSetupError(message)
    if state is not None:
        check_resume(opt, state['iter'])
    return state


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
    realestate_sr.utils.option_checks: a typo stops the run here, before any data is read."""
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


def save_rank_state(model, folder):
    """Write this rank's network (and EMA) weights and optimizer states to ``folder/rank<r>.pth``."""
    rank = dist.get_rank() if dist.is_initialized() else 0
    state = {'params': model.get_bare_model(model.net_g).state_dict(),
             'optimizers': [optimizer.state_dict() for optimizer in model.optimizers]}
    if hasattr(model, 'net_g_ema'):
        state['params_ema'] = model.net_g_ema.state_dict()
    os.makedirs(folder, exist_ok=True)
    save_atomically(state, os.path.join(folder, f'rank{rank}.pth'))


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
    if os.environ.get(RANK_STATE_DIR_ENV):
        save_rank_state(model, os.environ[RANK_STATE_DIR_ENV])
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
