"""Registers every ``*_dataset.py`` of this folder into BasicSR's registry on import."""
from realestate_sr.utils.registry_import import import_modules_with_suffix

_modules = import_modules_with_suffix(__name__, __file__, '_dataset')
