"""One delivery enhanced by several processes: ``torchrun --nproc_per_node N scripts/tiled_infer.py ...`` or
``srun scripts/tiled_infer.py --launcher slurm ...``.

Every rank walks and plans the whole tree (the same sorted plan, so output names, clash renames and alpha
fallbacks are those of a single-process run), then takes every ``world_size``-th planned photo from its rank
on. The shard is cut from the plan *before* ``--skip-existing`` looks at the output folder: a rank that sees
another's fresh output would otherwise shift its share, and a photo could be skipped by all or done twice.
At the end the ranks exchange their summaries (``all_gather_object``) and rank 0 prints the combined one;
every rank exits 1 when any rank failed a photo, so the launcher's exit code says so.

The process group is the one training uses (``realestate_sr.distributed.init_dist``: torchrun's or SLURM's
variables, NCCL on GPUs, Gloo on CPUs); each GPU process is pinned to its local rank's GPU.
"""
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from realestate_sr.utils.cli_flags import LAUNCHERS


@dataclass(frozen=True)
class Shard:
    """This process's part of a run: ``rank`` of ``world_size``; ``launcher`` 'none' for a single process."""
    rank: int = 0
    world_size: int = 1
    launcher: str = 'none'

    @property
    def distributed(self):
        return self.world_size > 1

    @property
    def label(self):
        return f'[rank {self.rank}/{self.world_size}] ' if self.distributed else ''

    def take(self, jobs):
        """This rank's jobs of the planned list ``jobs`` (every world_size-th, from ``rank``)."""
        return list(jobs)[self.rank::self.world_size]


def launcher_from_environment(launcher=None, environ=None):
    """``launcher`` if given, else 'pytorch' when torchrun started several processes, else 'none'."""
    if launcher:
        if launcher not in LAUNCHERS:
            raise ValueError(f'launcher must be one of {list(LAUNCHERS)}, got {launcher!r}')
        return launcher
    environ = os.environ if environ is None else environ
    if int(environ.get('WORLD_SIZE', '1') or 1) > 1 and 'LOCAL_RANK' in environ:
        return 'pytorch'
    return 'none'


def join(launcher=None, device='auto', timeout_minutes=None):
    """The Shard of this process, joining the launcher's process group (none for a single process).

    ``device`` decides the backend as in training: NCCL when the run uses CUDA, else Gloo.
    """
    from realestate_sr.distributed import init_dist  # training's process-group code, imported only when needed

    launcher = launcher_from_environment(launcher)
    if launcher == 'none':
        return Shard()
    use_cuda = device != 'cpu' and torch.cuda.is_available()
    init_dist(launcher, num_gpu=1 if use_cuda else 0, timeout_minutes=timeout_minutes)
    return Shard(dist.get_rank(), dist.get_world_size(), launcher)


def gather(shard, summary):
    """Every rank's ``summary`` (any picklable value) in rank order; ``[summary]`` for a single process."""
    if not shard.distributed:
        return [summary]
    summaries = [None] * shard.world_size
    dist.all_gather_object(summaries, summary)
    return summaries


def leave(shard):
    if shard.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(shard):
    """Wait until every rank got here (nothing for a single process)."""
    if shard.distributed:
        dist.barrier()
