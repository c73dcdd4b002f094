"""The house styles by name: the look one editing house delivers on every photo it edits.

Each style module has ``NAME``, ``KIND = 'style'``, ``RECIPE`` (its constants, each explained in the module's
docstring) and ``apply_style(photo) -> target``: float32 RGB H,W,3 in [0, 1] in and out, the shape kept, the
same target for the same photo (no randomness). A benchmark task is one style with the capture families of
``realestate_sr.benchmark.families`` as sources (docs/benchmark.md).
"""
from realestate_sr.benchmark import style_bright_airy, style_listing_hdr, style_none, style_warm_natural
from realestate_sr.benchmark.module_registry import ModuleRegistry

STYLES = ModuleRegistry('house style', (style_none, style_listing_hdr, style_bright_airy, style_warm_natural))


def style(name):
    """The style module called ``name``; KeyError names the known ones."""
    return STYLES[name]


def style_names():
    """The registered style names, in registration order."""
    return list(STYLES)
