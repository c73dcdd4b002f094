"""The metric table every report prints: one line per method, one column per metric, the best value of each
column in bold, each column title carrying which way is better.

evaluate.py's summary (``evaluation.tables``) and the benchmark's tables (``benchmark.report``) both render
through ``markdown_table``; each says what its cells hold (a mean; a mean ± sd over photos).
"""
import math

HIGHER, LOWER, ZERO = 'higher', 'lower', 'zero'  # which value is best: the largest, the smallest, the nearest 0
DIRECTION_MARKS = {HIGHER: '↑', LOWER: '↓', ZERO: '→0'}
METRIC_TITLES = {'psnr': 'PSNR', 'ssim': 'SSIM', 'lpips': 'LPIPS', 'l1': 'L1', 'de00': 'dE00',
                 'highlight_l1': 'Highlight L1', 'highlight_shift': 'Highlight shift'}
METRIC_DECIMALS = {'psnr': 2, 'ssim': 4, 'lpips': 4, 'l1': 4, 'de00': 2, 'highlight_l1': 4, 'highlight_shift': 4}
# which value of each metric is best; evaluate.py's scoring and metrics.json, and the benchmark's tables, read it here
METRIC_BETTER = {'psnr': HIGHER, 'ssim': HIGHER, 'lpips': LOWER, 'l1': LOWER, 'de00': LOWER, 'highlight_l1': LOWER,
                 'highlight_shift': ZERO}  # signed: negative = dimmer windows


def column_title(title, better):
    """``PSNR ↑``, ``L1 ↓``, ``Highlight shift →0`` for ``better`` HIGHER, LOWER, ZERO."""
    return f'{title} {DIRECTION_MARKS[better]}'


def best_value(values, better):
    """The best of ``values`` (None and NaN left out) for a metric where ``better`` is HIGHER, LOWER or ZERO;
    None when none is a number."""
    values = [value for value in values if value is not None and not math.isnan(value)]
    if not values:
        return None
    if better == HIGHER:
        return max(values)
    if better == ZERO:
        return min(values, key=abs)
    return min(values)


def markdown_table(header, rows):
    """Markdown of ``header`` (column titles) and ``rows`` (each a list of (text, bold) cells)."""
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(f'**{text}**' if bold else text for text, bold in cells) + ' |' for cells in rows]
    return '\n'.join(lines) + '\n'
