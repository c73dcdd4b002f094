"""Which training state a run resumes from, loaded on the CPU, and the same one on every rank.

BasicSR 1.4.2's ``load_resume_state`` maps the state to ``torch.cuda.current_device()`` (fails on CPU) and
looks for auto-resume states relative to the current directory. Ours loads to the CPU with
``weights_only=True`` (optimizers move their state to their parameters' device), reads
``opt['path']['training_states']`` and, in a distributed run, checks that every rank resumes from the same
iteration. ``--auto_resume`` takes the newest state that loads together with its ``net_g_<iter>.pth``,
printing one line for each newer one it skips (EnhanceModel writes both through a temporary name, so only a
file written by an older version or a damaged disk can be truncated).
"""
import os
import socket
import sys
from functools import partial

import torch
import torch.distributed as dist

from realestate_sr.archs.checkpoint import read_state_dict
from realestate_sr.distributed import DistributedSetupError
from realestate_sr.utils.wording import one_line

from basicsr.utils import check_resume, scandir


class ResumeStateError(RuntimeError):
    """``path.resume_state`` names a training state that does not load."""


def state_paths_newest_first(states_dir):
    """The ``<iter>.state`` files of ``states_dir``, highest iteration first (temporary files are not states)."""
    if not os.path.isdir(states_dir):
        return []
    names = [name for name in scandir(states_dir, suffix='state', recursive=False)
             if name[:-len('.state')].isdigit()]
    return [os.path.join(states_dir, name) for name in sorted(names, key=lambda n: -int(n[:-len('.state')]))]


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
            report(f'auto_resume: skipping {path}: {type(error).__name__}: {one_line(error)[:200]}')
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
            raise ResumeStateError(f'path.resume_state: {path} does not load ({type(error).__name__}: '
                                   f'{one_line(error)[:200]}); '
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
