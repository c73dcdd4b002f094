"""Load NAFNet weights from the files people actually have.

Accepted layouts (all read with ``torch.load(weights_only=True)``):
- a BasicSR checkpoint: ``{'params': sd}``, ``{'params_ema': sd}`` or both
  (ours, and the official NAFNet release files);
- a bare state_dict: ``{name: tensor}``.
Keys saved from a DistributedDataParallel wrapper (``module.`` prefix) are accepted.
"""
from collections import OrderedDict
from pathlib import Path

import torch

PARAM_KEYS_BY_PREFERENCE = ('params_ema', 'params')


class CheckpointMismatchError(ValueError):
    """The checkpoint does not fit the network: lists missing, unexpected and mis-shaped keys."""


def read_state_dict(path, param_key=None):
    """Return the state_dict stored in ``path``.

    Args:
        path (str | Path): The checkpoint file.
        param_key (str | None): 'params', 'params_ema', or None to take
            'params_ema' when present, else 'params', else the file as a bare state_dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'Checkpoint not found: {path}')
    loaded = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(loaded, dict):
        raise CheckpointMismatchError(f'{path} holds a {type(loaded).__name__}, not a state_dict')
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
