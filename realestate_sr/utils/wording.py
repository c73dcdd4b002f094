"""Counts in messages: "1 pair", "3 pairs", never "1 pairs"."""


def counted(count, singular, plural=None):
    """``count`` and the noun in the number it takes: ``counted(1, 'file')`` -> ``'1 file'``."""
    return f'{count} {singular if count == 1 else plural or singular + "s"}'
