"""Machine- and human-readable numbers: metrics.json, per_image.csv, summary.csv, summary.md."""
import csv
import io
import json
import math

from realestate_sr.evaluation.scoring import (
    METRICS,
    best_value,
    better,
    higher_is_better,
    json_number,
    scored_photos,
)
from realestate_sr.utils import metric_table
from realestate_sr.utils.metric_table import METRIC_DECIMALS, METRIC_TITLES
from realestate_sr.utils.output_safety import atomic_write
from realestate_sr.utils.wording import counted


def metric_columns(result):
    """Metric names present in ``result``, in METRICS order."""
    present = set()
    for image in result.images:
        for scores in image.scores.values():
            present.update(scores)
    return [name for name in METRICS if name in present]


def format_value(name, value):
    if math.isnan(value):
        return 'n/a'  # a highlight metric on a photo without highlights
    return f'{value:.{METRIC_DECIMALS.get(name, 4)}f}'


def column_title(name, photos_scored=None, photos=None):
    """``PSNR ↑``, ``Highlight shift →0``; with ``(n/N photos)`` when a metric skipped some photos."""
    title = metric_table.column_title(METRIC_TITLES[name], better(name))
    if photos_scored is not None and photos is not None and photos_scored != photos:
        title += f' ({photos_scored}/{counted(photos, "photo")})'
    return title


def photos_scored(result):
    """{metric: photos it has a value for} for the metrics that skip photos (the highlight metrics); the
    highlight mask is the target's, so every row counts the same photos and the first row stands for all."""
    if not result.images or not result.rows:
        return {}
    return scored_photos([image.scores[result.rows[0]] for image in result.images])


def summary_table(result):
    """(header, rows) of the summary: per row its name, the photo count and each metric's mean as text, each cell
    a (text, best) pair. Arrows in the header say which way is better (→0: nearest zero); ``best`` marks the best
    value of a column (when there are rows to compare). A metric that photos without highlights leave undefined
    says over how many it averages. summary.md and report.html both show this table."""
    columns = metric_columns(result)
    means = result.means()
    counts = photos_scored(result)
    header = ['method', 'images'] + [column_title(c, counts.get(c), len(result.images)) for c in columns]
    best = {column: best_value(column, [means[row].get(column) for row in result.rows]) for column in columns}
    rows = []
    for row in result.rows:
        cells = [(row, False), (str(len(result.images)), False)]
        for column in columns:
            value = means[row].get(column)
            cells.append(('' if value is None else format_value(column, value),
                          value is not None and value == best[column] and len(result.rows) > 1))
        rows.append(cells)
    return header, rows


def markdown_table(result):
    """:func:`summary_table` as markdown, the best value of each column in bold."""
    return metric_table.markdown_table(*summary_table(result))


def _csv_text(header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def per_image_csv(result):
    columns = metric_columns(result)
    rows = []
    for image in result.images:
        for row in result.rows:
            rows.append([image.name, row, image.width, image.height]
                        + [repr(image.scores[row][c]) for c in columns])
    return _csv_text(['image', 'method', 'width', 'height'] + columns, rows)


def summary_csv(result):
    columns = metric_columns(result)
    means = result.means()
    rows = [[row, len(result.images)] + [repr(means[row][c]) for c in columns] for row in result.rows]
    return _csv_text(['method', 'images'] + columns, rows)


def metrics_json(result, config):
    """Everything in one document: the run's settings, mean and per-image metrics, failures."""
    def clean(scores):
        return {name: json_number(value) for name, value in scores.items()}

    means = result.means()
    counts = photos_scored(result)
    document = {
        'config': config,
        'metrics': {name: {'higher_is_better': higher_is_better(name), 'better': better(name),
                           **({'photos_scored': counts[name]} if name in counts else {})}
                    for name in metric_columns(result)},
        'rows': [{'method': row, 'images': len(result.images), 'mean': clean(means[row])} for row in result.rows],
        'images': [{'name': image.name, 'src': image.src, 'tar': image.tar, 'width': image.width,
                    'height': image.height, 'seconds': image.seconds,
                    'scores': {row: clean(scores) for row, scores in image.scores.items()}}
                   for image in result.images],
        'failures': [{'name': name, 'error': error} for name, error in result.failures],
    }
    return json.dumps(document, indent=2, allow_nan=False) + '\n'


def write_tables(result, report_dir, config):
    """Write metrics.json, per_image.csv, summary.csv and summary.md into ``report_dir``; return their paths."""
    files = {'metrics.json': metrics_json(result, config), 'per_image.csv': per_image_csv(result),
             'summary.csv': summary_csv(result), 'summary.md': markdown_table(result)}
    return [atomic_write(report_dir / name, text.encode('utf-8')) for name, text in files.items()]
