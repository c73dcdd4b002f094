"""Wording of messages: counts ("1 pair", "3 pairs", never "1 pairs") and an error on one line."""


def counted(count, singular, plural=None):
    """``count`` and the noun in the number it takes: ``counted(1, 'file')`` -> ``'1 file'``."""
    return f'{count} {singular if count == 1 else plural or singular + "s"}'


def one_line(err):
    """An exception's message on one line, for a CLI's single error line: its lines joined by '; ', except after
    a line that introduces the next ones ('... does not fit NAFNet:'), which a space continues."""
    text = ''
    for part in (line.strip() for line in str(err).splitlines()):
        if part:
            text += ('' if not text else ' ' if text.endswith(':') else '; ') + part
    return text or type(err).__name__
