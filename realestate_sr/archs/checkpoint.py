"""Load NAFNet weights from the files people actually have.

Accepted layouts (all read with ``torch.load(weights_only=True)``):
- a BasicSR checkpoint: ``{'params': sd}``, ``{'params_ema': sd}`` or both
  (ours, and the official NAFNet release files);
- a bare state_dict: ``{name: tensor}``.
Keys saved from a DistributedDataParallel wrapper (``module.`` prefix) are accepted.

Without an explicit key, ``params_ema`` is preferred over ``params``: with
``train.ema_decay > 0`` BasicSR saves both and validates with the EMA weights, so
``params_ema`` is the network the training log measured (and usually the better
one); ``param_key='params'`` picks the raw weights. A BasicSR training state
(``training_states/<iter>.state``: optimizer and scheduler state, no network) is
refused with a message naming the matching ``models/net_g_<iter>.pth``. Beside the weights, EnhanceModel's
checkpoints keep the settings they were trained with under TRAINED_WITH_KEY (plain values, see
``realestate_sr.inference.trained_with``); the loaders here read only the weights. ``net_g_best.pth`` (written
when the option file sets ``val.best``) is such a checkpoint plus BEST_KEY, the validation that chose it.
"""
from collections import OrderedDict
from pathlib import Path

import torch

from realestate_sr.utils.output_safety import atomic_write

PARAM_KEYS_BY_PREFERENCE = ('params_ema', 'params')
# our net_g_*.pth also hold {'network_g': ..., 'inference': ...}: what the tools need to run them as trained
TRAINED_WITH_KEY = 'trained_with'
TRAINING_STATE_KEYS = {'iter', 'optimizers', 'schedulers'}  # what basicsr's save_training_state writes
# an experiment's models/ folder: the checkpoint of the best validation (val.best), and the one of the last iteration
BEST_CHECKPOINT, LATEST_CHECKPOINT = 'net_g_best.pth', 'net_g_latest.pth'
BEST_KEY = 'best'  # in net_g_best.pth: {iter, metric, value, dataset} of the validation that chose it


class CheckpointMismatchError(ValueError):
    """The checkpoint does not fit the network: lists missing, unexpected and mis-shaped keys."""


def save_atomically(obj, path):
    """``torch.save(obj, path)`` through a temporary file in the same folder, renamed when complete.

    A process killed mid-write leaves at most ``.<name>.partial`` behind, never a truncated file under ``path``:
    auto-resume and the tools pick files by their final names (``<iter>.state``, ``net_g_<iter>.pth``).
    """
    return atomic_write(path, obj, write=lambda handle, state: torch.save(state, handle))


def training_state_message(path, iteration=None):
    """What to load instead of the BasicSR training state ``path`` (of ``iteration``, if known)."""
    path = Path(path)
    iteration = iteration if iteration is not None else (path.stem if path.stem.isdigit() else '<iter>')
    if path.parent.name == 'training_states':
        weights = path.parent.parent / 'models' / f'net_g_{iteration}.pth'
    else:
        weights = f'experiments/<name>/models/net_g_{iteration}.pth'
    return (f'{path} is a training state (.state: iteration, optimizer and scheduler state for resuming), not '
            f'network weights; load {weights}')


def read_state_dict(path, param_key=None):
    """Return the state_dict stored in ``path``.

    Args:
        path (str | Path): The checkpoint file.
        param_key (str | None): 'params', 'params_ema', or None to take
            'params_ema' when present (the EMA weights BasicSR validated with), else
            'params', else the file as a bare state_dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'Checkpoint not found: {path}')
    loaded = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(loaded, dict):
        raise CheckpointMismatchError(f'{path} holds a {type(loaded).__name__}, not a state_dict')
    if TRAINING_STATE_KEYS <= set(loaded):
        raise CheckpointMismatchError(training_state_message(path, loaded['iter']))
    if param_key is not None:
        if param_key not in loaded:
            raise KeyError(f'{path} has no {param_key!r} entry; its top-level keys are {sorted(loaded)[:10]}')
        state_dict = loaded[param_key]
    else:
        state_dict = next((loaded[k] for k in PARAM_KEYS_BY_PREFERENCE if k in loaded), loaded)
    return OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v) for k, v in state_dict.items())


def describe_mismatch(expected, found):
    """Human-readable lines for the keys and shapes that differ between two state_dicts (empty when they fit)."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    misshaped = [
        f'{k}: network {tuple(expected[k].shape)} vs checkpoint {tuple(found[k].shape)}'
        for k in sorted(set(expected) & set(found)) if tuple(expected[k].shape) != tuple(found[k].shape)
    ]
    lines = []
    for title, items in (('missing keys', missing), ('unexpected keys', unexpected), ('shape mismatches', misshaped)):
        if items:
            shown = ', '.join(items[:8]) + (f', ... ({len(items)} in all)' if len(items) > 8 else '')
            lines.append(f'{title}: {shown}')
    return lines


def load_checkpoint(net, path, param_key=None, strict=True):
    """Load ``path`` into ``net`` (NAFNet, NAFNetLocal or any module) and return ``net``.

    With ``strict`` any missing, unexpected or mis-shaped key raises
    CheckpointMismatchError naming them; otherwise the matching keys are loaded.
    """
    state_dict = read_state_dict(path, param_key)
    problems = describe_mismatch(net.state_dict(), state_dict)
    if problems and strict:
        raise CheckpointMismatchError(f'{path} does not fit {type(net).__name__}:\n  ' + '\n  '.join(problems))
    expected = net.state_dict()
    fitting = {k: v for k, v in state_dict.items() if k in expected and v.shape == expected[k].shape}
    net.load_state_dict(fitting, strict=strict)
    return net
