"""Import every module of a sub-package whose file name ends with a suffix; look a name up in a registry.

This is how BasicSR fills its registries: importing ``realestate_sr.archs``
imports each ``*_arch.py`` beside it, whose ``@ARCH_REGISTRY.register()``
decorators then run. Adding an architecture means adding one file.
"""
import importlib
from pathlib import Path


def import_modules_with_suffix(package_name, package_file, suffix):
    """Import ``package_name.<stem>`` for each ``<stem><suffix>.py`` next to ``package_file``.

    Returns the imported modules, sorted by file name so registration order is stable.
    """
    folder = Path(package_file).resolve().parent
    stems = sorted(p.stem for p in folder.glob(f'*{suffix}.py'))
    return [importlib.import_module(f'{package_name}.{stem}') for stem in stems]


def registered(registry, name):
    """The class ``registry`` (a BasicSR Registry) holds under ``name``; None for a name it does not hold or one
    that is not a string (an option file's misspelt or missing ``type``)."""
    return registry.get(name) if isinstance(name, str) and name in registry else None
