"""LPIPS (learned perceptual distance) with its backbone read from a local file, never downloaded.

``lpips.LPIPS(net=...)`` normally fetches the torchvision ImageNet backbone on
first use; offline that fails with a raw ``URLError`` after a network timeout.
Here the LPIPS model is built with a random trunk (``pnet_rand=True``; the
learned linear layers ship inside the lpips wheel) and the torchvision backbone
file is loaded into it from the torch hub cache or an explicit path. Missing
weights raise ``MissingWeightsError`` naming the file, where we looked and the
download URL. Built models are cached per (net, weights, device), so validation
does not rebuild one per image.
"""
import re
import warnings
from functools import lru_cache

import lpips
import torch

from realestate_sr.metrics.metric_inputs import bgr_to_rgb, metric_pair
from realestate_sr.utils.weights import find_weights

from basicsr.utils.registry import METRIC_REGISTRY

__all__ = ['calculate_lpips', 'lpips_model', 'preload_lpips', 'LPIPS_BACKBONES']

# LPIPS ``net`` name -> torchvision ImageNet weights file of its backbone.
LPIPS_BACKBONES = {'alex': 'alexnet-owt-7be5be79.pth', 'vgg': 'vgg16-397923af.pth'}
_SLICE_KEY = re.compile(r'^slice\d+\.(\d+)\.(weight|bias)$')


def backbone_url(net):
    return f'https://download.pytorch.org/models/{LPIPS_BACKBONES[net]}'


def load_backbone_(model, weights_file):
    """Copy a torchvision backbone file (``features.{i}.*``) into LPIPS's trunk (``slice{k}.{i}.*``)."""
    state = torch.load(weights_file, map_location='cpu', weights_only=True)
    mapped = {}
    for key in model.net.state_dict():
        match = _SLICE_KEY.match(key)
        source = f'features.{match.group(1)}.{match.group(2)}' if match else None
        if source not in state:
            raise KeyError(f'{weights_file} has no {source} for LPIPS trunk parameter {key}; '
                           'is it the torchvision ImageNet file for this backbone?')
        mapped[key] = state[source]
    model.net.load_state_dict(mapped)


def lpips_model(net='alex', weights=None, random_backbone_for_testing=False, device='cpu'):
    """The LPIPS v0.1 model for ``net`` ('alex' or 'vgg') in eval mode, built once per weights file and device.

    Args:
        weights (str | None): torchvision backbone file; None looks in ``$TORCH_HOME/hub/checkpoints/``.
        random_backbone_for_testing (bool): Keep the random trunk (tests only: the distance is then
            a property of random features, not a perceptual measure).
        device (str): Where the model runs.
    """
    if net not in LPIPS_BACKBONES:
        raise ValueError(f'LPIPS net must be one of {sorted(LPIPS_BACKBONES)}, got {net!r}')
    weights_file = None
    if not random_backbone_for_testing:
        # Resolved before the cache lookup, so the cache key is the file actually loaded.
        weights_file = str(find_weights(LPIPS_BACKBONES[net], backbone_url(net), weights).resolve())
    return _build_lpips(net, weights_file, str(device))


@lru_cache(maxsize=4)
def _build_lpips(net, weights_file, device):
    with warnings.catch_warnings():
        # lpips passes torchvision's deprecated ``pretrained=False``; the warning says nothing about our use.
        warnings.simplefilter('ignore', UserWarning)
        model = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
    if weights_file is not None:
        load_backbone_(model, weights_file)
    return model.eval().requires_grad_(False).to(device)


def preload_lpips(metric_opt):
    """Build (and cache) the model a ``val.metrics`` entry of type calculate_lpips will use.

    Call it at start-up so missing backbone weights stop a training run before its first
    stretch of iterations instead of at the first validation.
    """
    return lpips_model(metric_opt.get('net', 'alex'), metric_opt.get('weights'),
                       bool(metric_opt.get('random_backbone_for_testing', False)), metric_opt.get('device', 'cpu'))


@METRIC_REGISTRY.register()
def calculate_lpips(img, img2, crop_border=0, input_order='HWC', net='alex', weights=None,
                    random_backbone_for_testing=False, device='cpu', **kwargs):
    """LPIPS distance between two BGR images as BasicSR passes them (uint8, OpenCV channel order).

    YAML (``val.metrics``)::

        lpips: {type: calculate_lpips, net: alex, weights: ~, better: lower}

    Keys:
        net: 'alex' (alexnet-owt-7be5be79.pth, the usual LPIPS) or 'vgg' (vgg16-397923af.pth).
        weights: path of that torchvision file; ~ looks in ``$TORCH_HOME/hub/checkpoints/``
            (default ``~/.cache/torch/hub/checkpoints/``). Missing: ``MissingWeightsError``.
        random_backbone_for_testing: true only in tests (random trunk; not a perceptual measure).
        device: where LPIPS runs (default cpu; the images are whole, so GPU memory grows with them).
        crop_border, input_order: as in BasicSR's PSNR. ``better`` is BasicSR's.

    Returns:
        float: LPIPS distance, 0 for identical images, lower is better.
    """
    img, img2 = metric_pair(img, img2, crop_border, input_order)
    model = lpips_model(net, weights, bool(random_backbone_for_testing), device)

    def to_tensor(bgr):
        rgb = bgr_to_rgb(bgr).copy()
        return torch.from_numpy(rgb).permute(2, 0, 1)[None].to(device, torch.float32)

    with torch.no_grad():
        distance = model(to_tensor(img), to_tensor(img2), normalize=True)  # normalize: [0, 1] -> [-1, 1]
    return float(distance.item())
