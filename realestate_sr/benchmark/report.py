"""The benchmark's tables: per family and overall, mean and spread over photos, cost columns.

Scores come from scripts/evaluate.py's metrics.json (``images[].scores[row]``, ``images[].seconds``); each test
pair is mapped to its family and photo through the benchmark's test manifest. A photo's pairs in a family (its
capture variants) are averaged first, so the spread (sample standard deviation) is over photos.
"""
import json
import math
from pathlib import Path

import numpy as np

from realestate_sr.utils.metric_table import (
    HIGHER,
    LOWER,
    METRIC_BETTER,
    METRIC_DECIMALS,
    METRIC_TITLES,
    ZERO,
    best_value,
    column_title,
    markdown_table,
)

# first, in this order, with which way is better; any other metric evaluate.py reports follows
METRICS = tuple((name, METRIC_TITLES[name], METRIC_BETTER[name] == HIGHER, METRIC_DECIMALS[name])
                for name in ('psnr', 'ssim', 'de00', 'l1'))
LISTING_MEGAPIXELS = 3300 * 2200 / 1e6
NEAREST_ZERO = ZERO  # a signed metric's direction (e.g. highlight_shift): the value nearest 0 is best


def read_manifest(path):
    rows = []
    for line in Path(path).read_text(encoding='utf-8').splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def _number(value):
    if isinstance(value, str):
        return float(value)  # "inf" / "nan" as evaluate.py writes them
    return float(value)


def metric_columns(directions):
    """(name, title, higher is better, decimals) for the metrics in ``directions`` ({name: higher is better}):
    PSNR, SSIM, dE00, L1 first, then the others evaluate.py reported (e.g. a metric added later), by name."""
    known = [column for column in METRICS if column[0] in directions]
    names = {column[0] for column in METRICS}
    extra = [(name, name, directions[name] if directions[name] == NEAREST_ZERO else bool(directions[name]), 4)
             for name in sorted(directions) if name not in names]
    return known + extra


def metric_directions(metrics_json):
    """{metric: higher is better, or NEAREST_ZERO for a signed metric (``better: zero``)} as evaluate.py's
    metrics.json states it."""
    document = json.loads(Path(metrics_json).read_text(encoding='utf-8'))
    return {name: NEAREST_ZERO if info.get('better') == NEAREST_ZERO else info.get('higher_is_better', True)
            for name, info in document.get('metrics', {}).items()}


def scores_by_pair(metrics_json, rows_wanted=None):
    """{row: {pair name (relative src path): {metric: value}}} and {row: {pair name: (seconds, megapixels)}}."""
    document = json.loads(Path(metrics_json).read_text(encoding='utf-8'))
    scores, seconds = {}, {}
    for image in document['images']:
        for row, values in image['scores'].items():
            if rows_wanted is None or row in rows_wanted:
                scores.setdefault(row, {})[image['name']] = {k: _number(v) for k, v in values.items()}
        for row, value in (image.get('seconds') or {}).items():
            seconds.setdefault(row, {})[image['name']] = (float(value), image['width'] * image['height'] / 1e6)
    return scores, seconds


def family_summary(pair_scores, manifest_rows, family=None):
    """{metric: (mean, sd, photos)} over the photos of ``family`` (None: every family), or None if no pair
    of it was scored."""
    per_photo = {}
    for row in manifest_rows:
        if family is not None and row['family'] != family:
            continue
        values = pair_scores.get(row['src'])
        if values is None:
            continue
        per_photo.setdefault(row['photo'], []).append(values)
    if not per_photo:
        return None
    summary = {}
    metrics = sorted({name for pairs in per_photo.values() for values in pairs for name in values})
    for metric in metrics:
        photo_means = []
        for pairs in per_photo.values():
            vals = [p[metric] for p in pairs if metric in p and math.isfinite(p[metric])]
            if vals:
                photo_means.append(float(np.mean(vals)))
        if photo_means:
            sd = float(np.std(photo_means, ddof=1)) if len(photo_means) > 1 else 0.0
            summary[metric] = (float(np.mean(photo_means)), sd, len(photo_means))
    return summary


def format_cell(summary, metric, decimals):
    if not summary or metric not in summary:
        return ''
    mean, sd, _ = summary[metric]
    return f'{mean:.{decimals}f} ± {sd:.{decimals}f}'


def _better(higher):
    """A column's direction (True, False or NEAREST_ZERO) as the metric table names it."""
    return ZERO if higher == NEAREST_ZERO else HIGHER if higher else LOWER


def metric_table(methods, summaries, columns=METRICS):
    """Markdown: one line per method, each column (``metric_columns``) as mean ± sd over photos, the best mean
    in bold (oracles left out of the bold: they are references that see the target; so are rows marked
    ``(partial: ...)``, whose means are over other pairs)."""
    header = ['method', 'photos'] + [column_title(title, _better(higher)) for _, title, higher, _ in columns]
    contenders = [m for m in methods if not m.startswith('oracle') and '(partial: ' not in m]
    best = {}
    for metric, _, higher, _ in columns:
        best[metric] = best_value([summaries[m][metric][0] if summaries.get(m) and metric in summaries[m] else None
                                   for m in contenders], _better(higher))
    rows = []
    for method in methods:
        summary = summaries.get(method)
        if summary is None:
            continue
        photos = max((v[2] for v in summary.values()), default=0)
        cells = [(method, False), (str(photos), False)]
        for metric, _, _, decimals in columns:
            text = format_cell(summary, metric, decimals)
            cells.append((text, bool(text) and method in contenders and summary[metric][0] == best[metric]))
        rows.append(cells)
    return markdown_table(header, rows)


def cost_table(costs):
    """Markdown: per recipe, the training budget and what it cost, inference time and MACs per listing photo."""
    lines = ['| method | budget (iterations x batch x patch²) | train s | peak train MB | infer s/photo | '
             's/MP | s per 3300x2200 (extrapolated) | GMAC per 3300x2200 | peak eval MB |',
             '|' + '---|' * 9]
    for method, cost in costs.items():
        def fmt(key, pattern):
            value = cost.get(key)
            return '' if value is None else pattern.format(value)
        lines.append(f'| {method} | {cost.get("budget", "")} | {fmt("train_s", "{:.0f}")} | '
                     f'{fmt("train_peak_mb", "{:.0f}")} | {fmt("infer_s_per_photo", "{:.2f}")} | '
                     f'{fmt("infer_s_per_mp", "{:.2f}")} | {fmt("infer_s_per_listing_photo", "{:.1f}")} | '
                     f'{fmt("gmac_per_listing_photo", "{:.1f}")} | {fmt("eval_peak_mb", "{:.0f}")} |')
    return '\n'.join(lines) + '\n'


def infer_cost(seconds_by_pair):
    """Mean seconds per photo and seconds per megapixel of one row (None when it has no timings)."""
    if not seconds_by_pair:
        return {}
    total_s = sum(s for s, _ in seconds_by_pair.values())
    total_mp = sum(mp for _, mp in seconds_by_pair.values())
    per_mp = total_s / total_mp if total_mp else None
    return {'infer_s_per_photo': total_s / len(seconds_by_pair), 'infer_s_per_mp': per_mp,
            'infer_s_per_listing_photo': per_mp * LISTING_MEGAPIXELS if per_mp else None}
