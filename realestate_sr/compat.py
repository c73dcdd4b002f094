"""Compatibility shims that let basicsr 1.4.2 run on the current PyTorch stack.

Imported first by ``realestate_sr/__init__.py``, before anything imports basicsr.
Nothing here touches site-packages: every shim lives in this process only.

1. ``torchvision.transforms.functional_tensor`` was removed from torchvision
   (0.17+); basicsr 1.4.2 still imports ``rgb_to_grayscale`` from it in
   ``basicsr/data/degradations.py``. We register the module under its old name
   as an alias of its private successor ``torchvision.transforms._functional_tensor``
   (which still provides ``rgb_to_grayscale``).
"""
import importlib
import sys

LEGACY_TORCHVISION_MODULE = 'torchvision.transforms.functional_tensor'


def alias_torchvision_functional_tensor():
    """Make ``import torchvision.transforms.functional_tensor`` work again.

    Returns the module registered under the legacy name.
    """
    if LEGACY_TORCHVISION_MODULE in sys.modules:
        return sys.modules[LEGACY_TORCHVISION_MODULE]
    try:
        return importlib.import_module(LEGACY_TORCHVISION_MODULE)
    except ImportError:
        pass
    try:
        successor = importlib.import_module('torchvision.transforms._functional_tensor')
    except ImportError:  # a future torchvision without the private module
        successor = importlib.import_module('torchvision.transforms.functional')
    sys.modules[LEGACY_TORCHVISION_MODULE] = successor
    return successor


alias_torchvision_functional_tensor()
