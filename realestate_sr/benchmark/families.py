"""The benchmark's pair families by name, and the one held out of training by default."""
from realestate_sr.benchmark import (
    capture_amateur,
    capture_camera,
    capture_camera_jpeg,
    capture_mixed_light,
    style_listing_hdr,
)
from realestate_sr.benchmark.module_registry import ModuleRegistry

FAMILIES = ModuleRegistry('pair family', (capture_amateur, capture_camera, capture_mixed_light, capture_camera_jpeg,
                                          style_listing_hdr))
DEFAULT_HELD_OUT = capture_mixed_light.NAME


def family(name):
    """The family module called ``name`` (``make_pair``, ``KIND``, ``NAME``); KeyError names the known ones."""
    return FAMILIES[name]


def capture_families():
    return [name for name, module in FAMILIES.items() if module.KIND == 'capture']
