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


def weights_candidate(file_name, explicit_path=None):
    """Where ``find_weights`` looks: ``explicit_path`` if given, else the torch hub cache copy."""
    return Path(explicit_path).expanduser() if explicit_path else hub_checkpoint_path(file_name)


def missing_weights_message(file_name, url, explicit_path=None, setting=None):
    """None when the weights ``find_weights`` would load are on this machine, else its one-line message;
    ``setting`` names the option key that gives their path (e.g. ``train.perceptual_opt.vgg_weights``).

    The start-up checks of a training run call this for every file the option file needs, so a missing
    file stops the run before any data set is built.
    """
    candidate = weights_candidate(file_name, explicit_path)
    if candidate.is_file():
        return None
    return (f'Pretrained weights {file_name} not found (looked in: {candidate}). Download {url} and put it there '
            f'(or set its path in {setting or "the option file"}); '
            f'TORCH_HOME={os.environ.get("TORCH_HOME", "<unset>")} moves the hub cache.')


def find_weights(file_name, url, explicit_path=None):
    """Path of pretrained weights: ``explicit_path`` if given, else the torch hub cache copy."""
    message = missing_weights_message(file_name, url, explicit_path)
    if message:
        raise MissingWeightsError(message)
    return weights_candidate(file_name, explicit_path)
