"""realestate_sr: learn the editing style of real-estate photo editors, as a BasicSR plugin.

Importing this package (1) installs the compatibility shims that basicsr 1.4.2
needs on current torchvision (see ``realestate_sr.compat``) and (2) registers
our architectures, datasets, losses, metrics and models into BasicSR's
registries, so YAML option files can name them.
"""
from realestate_sr import compat  # noqa: F401  (must run before basicsr is imported)

# isort: split
from realestate_sr import archs, data, losses, metrics, models  # noqa: F401

__version__ = '0.1.0'
