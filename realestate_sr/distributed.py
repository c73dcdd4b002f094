"""The process group of a distributed run: the launcher's environment (torchrun or SLURM), backend and GPU.

BasicSR 1.4.2's ``init_dist`` always calls ``torch.cuda.set_device`` and uses NCCL, pins ``RANK % GPUs`` and
forces the ``spawn`` start method. Ours picks NCCL when CUDA is available and ``num_gpu`` is not 0, Gloo
otherwise (CPU runs, tests, debugging), pins each process to its ``LOCAL_RANK`` GPU, and leaves the start
method alone (``fork`` keeps ``cache: memory`` shared with DataLoader workers). ``realestate_sr.training``
calls it (basicsr's is never used), as do other entry points that shard work over ranks.
See docs/distributed.md for multi-GPU, multi-node and SLURM runs.
"""
import datetime
import os
import subprocess

import torch
import torch.distributed as dist

from realestate_sr.options import read_option_file
from realestate_sr.utils.wording import counted

DEFAULT_MASTER_PORT = 29500
DIST_PARAM_KEYS = ('backend', 'port', 'timeout_minutes')


class DistributedSetupError(RuntimeError):
    """The launcher's environment or the option file's ``dist_params`` do not describe a usable process group."""


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
        raise DistributedSetupError(f'local rank {local_rank} but only {counted(visible_gpus, "GPU")} visible: '
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


def launch_settings(option_file):
    """``num_gpu`` and ``dist_params`` of an option file (a path, or ``realestate_sr.options.OptionFile`` read
    already), as written: they decide the backend before the run's options are resolved."""
    option_file = read_option_file(option_file)
    opt = option_file.options
    params = dict(opt.get('dist_params') or {})
    unknown = sorted(set(params) - set(DIST_PARAM_KEYS))
    if unknown:
        raise DistributedSetupError(f'{option_file.path}: unknown dist_params {unknown}; known: '
                                    f'{list(DIST_PARAM_KEYS)}')
    return {'num_gpu': opt.get('num_gpu', 1), **params}
