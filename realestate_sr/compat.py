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

sys.modules.setdefault('torchvision.transforms.functional_tensor',
                       importlib.import_module('torchvision.transforms._functional_tensor'))
