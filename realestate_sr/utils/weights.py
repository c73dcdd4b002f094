"""Where pretrained weights live on this machine: an explicit path, else the torch hub cache; never a download.

The VGG19 perceptual loss, the LPIPS backbones and the pretrained generator all look here, so a missing file
is the same one-line ``MissingWeightsError`` everywhere: which file, where we looked, where to download it.
"""
import os
from pathlib import Path

import torch


class MissingWeightsError(FileNotFoundError):
    """Pretrained weights are not on this machine; the message says how to get them."""


def hub_checkpoint_path(file_name):
    return Path(torch.hub.get_dir()) / 'checkpoints' / file_name


def find_weights(file_name, url, explicit_path=None):
    """Path of pretrained weights: ``explicit_path`` if given, else the torch hub cache copy."""
    candidates = [Path(explicit_path).expanduser()] if explicit_path else [hub_checkpoint_path(file_name)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ', '.join(str(c) for c in candidates)
    raise MissingWeightsError(
        f'Pretrained weights {file_name} not found (looked in: {looked}). Download {url} and put it there '
        f'(or set its path in the option file); TORCH_HOME={os.environ.get("TORCH_HOME", "<unset>")} '
        'moves the hub cache.')
