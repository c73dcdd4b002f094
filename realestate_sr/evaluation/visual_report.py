"""The report people look at: report.html (offline, shareable) and PNG contact sheets.

For each photo: input | every row's output | target as small JPEG thumbnails, a
zoomed crop of the brightest region (usually windows: blown highlights are where
edits differ most) and of the darkest (shadows: noise and lifted blacks), and
the photo's metrics per row. Photos are sorted worst first by the primary row's
primary metric, so the failures are at the top. Everything the page loads sits
in ``report_files/`` beside it, referenced by relative paths: zip the folder and
it opens anywhere, offline.
"""
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from realestate_sr.data.image_io import write_jpeg
from realestate_sr.evaluation.scoring import PRIMARY_METRIC, higher_is_better
from realestate_sr.evaluation.tables import METRIC_TITLES, format_value, metric_columns, summary_table
from realestate_sr.utils.colour import luma, to_bgr_uint8
from realestate_sr.utils.output_safety import atomic_write
from realestate_sr.utils.wording import counted

FILES_DIR = 'report_files'
SHEETS_DIR = 'contact_sheets'
TARGET = 'target'


@dataclass
class PhotoVisuals:
    """Relative paths of one photo's images: thumbs[column], crops[region][column], boxes[region] = (y, x, side)."""
    thumbs: dict = field(default_factory=dict)
    crops: dict = field(default_factory=dict)
    boxes: dict = field(default_factory=dict)
    sheet_row: list = field(default_factory=list)  # small uint8 BGR images for the contact sheet


def extreme_windows(rgb, side):
    """Top-left corners of the ``side`` x ``side`` windows with the highest and the lowest mean luminance.

    Searched on a copy whose short side is about 128 pixels, so it costs nothing at 3300x2200.
    Returns {'brightest': (y, x), 'darkest': (y, x)} in full-resolution pixels.
    """
    height, width = rgb.shape[:2]
    scale = min(1.0, 128 / min(height, width))
    small = cv2.resize(luma(rgb), (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
    small_side = max(1, round(side * scale))
    means = cv2.boxFilter(small, -1, (small_side, small_side), normalize=True, borderType=cv2.BORDER_REFLECT)
    # boxFilter centres the window; keep only centres whose window lies inside the image.
    half = small_side // 2
    valid = means[half:means.shape[0] - (small_side - 1 - half), half:means.shape[1] - (small_side - 1 - half)]
    corners = {}
    for region, pick in (('brightest', np.argmax), ('darkest', np.argmin)):
        y, x = np.unravel_index(pick(valid), valid.shape)
        corners[region] = (min(round(y / scale), height - side), min(round(x / scale), width - side))
    return corners


def resize_to(bgr, long_side):
    height, width = bgr.shape[:2]
    scale = long_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Enlarged crops keep their pixels visible (nearest); reduced thumbnails are averaged (area).
    return cv2.resize(bgr, size, interpolation=cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA)


def safe_stem(name):
    return re.sub(r'[^A-Za-z0-9._-]+', '_', str(Path(name).with_suffix(''))).strip('._')[:60] or 'image'


class VisualReport:
    """Collects thumbnails while ``evaluate_pairs`` runs (as its ``on_outputs``), then writes the pages.

    Args:
        report_dir (Path): Where report.html, report_files/ and contact_sheets/ go.
        primary_row (str): The output shown in contact sheets and used for sorting.
        thumb_side, crop_side (int): Longest side of thumbnails / displayed crops in pixels.
        jpeg_quality (int): Thumbnail JPEG quality.
    """

    def __init__(self, report_dir, primary_row, thumb_side=320, crop_side=192, sheet_side=200, jpeg_quality=80):
        self.report_dir = report_dir
        self.primary_row = primary_row
        self.thumb_side, self.crop_side, self.sheet_side = thumb_side, crop_side, sheet_side
        self.jpeg_quality = jpeg_quality
        self.visuals = {}

    def _save_jpeg(self, bgr, name):
        write_jpeg(self.report_dir / FILES_DIR / name, bgr, self.jpeg_quality)
        return f'{FILES_DIR}/{name}'

    def __call__(self, index, image_result, src_rgb, tar_rgb, outputs):
        columns = {'input': src_rgb, **{row: rgb for row, rgb in outputs.items() if row != 'input'}, TARGET: tar_rgb}
        height, width = tar_rgb.shape[:2]
        side = int(np.clip(min(height, width) // 8, 16, 320))
        corners = extreme_windows(tar_rgb, min(side, height, width))
        visuals = PhotoVisuals()
        stem = f'{index:04d}_{safe_stem(image_result.name)}'
        for column_number, (column, rgb) in enumerate(columns.items()):
            bgr = to_bgr_uint8(rgb)
            thumb = resize_to(bgr, self.thumb_side)
            visuals.thumbs[column] = self._save_jpeg(thumb, f'{stem}_c{column_number}.jpg')
            if column in ('input', self.primary_row, TARGET):
                visuals.sheet_row.append(resize_to(bgr, self.sheet_side))
            for region, (y, x) in corners.items():
                crop = resize_to(bgr[y:y + side, x:x + side], self.crop_side)
                visuals.crops.setdefault(region, {})[column] = self._save_jpeg(
                    crop, f'{stem}_c{column_number}_{region}.jpg')
        visuals.boxes = {region: (y, x, side) for region, (y, x) in corners.items()}
        self.visuals[image_result.name] = visuals

    def worst_first(self, result):
        """Images sorted so the worst primary-row score comes first."""
        metric = PRIMARY_METRIC if PRIMARY_METRIC in metric_columns(result) else metric_columns(result)[0]
        sign = 1 if higher_is_better(metric) else -1
        return sorted(result.images, key=lambda image: sign * image.scores[self.primary_row][metric]), metric

    def write(self, result, title, sheet_rows=6):
        """Write report.html and contact_sheets/*.png; return their paths."""
        images, sort_metric = self.worst_first(result)
        images = [image for image in images if image.name in self.visuals]
        page = render_html(result, images, self.visuals, title, self.primary_row, sort_metric)
        paths = [atomic_write(self.report_dir / 'report.html', page.encode('utf-8'))]
        for number, start in enumerate(range(0, len(images), sheet_rows), 1):
            sheet = contact_sheet([self.visuals[image.name].sheet_row for image in images[start:start + sheet_rows]],
                                  [f'#{start + i + 1} {image.name}' for i, image in enumerate(
                                      images[start:start + sheet_rows])],
                                  ['input', self.primary_row, TARGET])
            ok, encoded = cv2.imencode('.png', sheet)
            if not ok:
                raise OSError('cannot encode a contact sheet')
            paths.append(atomic_write(self.report_dir / SHEETS_DIR / f'sheet_{number:02d}.png', encoded.tobytes()))
        return paths


def contact_sheet(rows, labels, column_titles, gap=6, label_height=22):
    """One PNG page: a caption line then input | output | target per photo, on white."""
    width = max(sum(image.shape[1] for image in row) + gap * (len(row) + 1) for row in rows)
    heights = [max(image.shape[0] for image in row) + label_height + gap for row in rows]
    sheet = np.full((label_height + sum(heights) + gap, width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(sheet, '   |   '.join(column_titles), (gap, 16), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    top = label_height
    for row, label, height in zip(rows, labels, heights):
        cv2.putText(sheet, label[:100], (gap, top + 15), font, 0.45, (40, 40, 40), 1, cv2.LINE_AA)
        left = gap
        for image in row:
            sheet[top + label_height:top + label_height + image.shape[0], left:left + image.shape[1]] = image
            left += image.shape[1] + gap
        top += height
    return sheet


PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; font-size: 13px; }
td:first-child, th:first-child { text-align: left; }
section { background: #fff; border: 1px solid #ddd; margin: 1.2em 0; padding: 0.8em; }
.strip { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; }
figure { margin: 0; width: min-content; }
figcaption { font-size: 12px; color: #555; overflow-wrap: anywhere; }
img { display: block; border: 1px solid #bbb; }
.primary figcaption { font-weight: bold; color: #000; }
"""


def _table(header, rows):
    head = ''.join(f'<th>{html.escape(h)}</th>' for h in header)
    body = ''.join('<tr>' + ''.join(f'<td>{cell}</td>' for cell in row) + '</tr>' for row in rows)
    return f'<table><tr>{head}</tr>{body}</table>'


def _summary_html(result):
    header, rows = summary_table(result)
    return _table(header, [[f'<b>{html.escape(text)}</b>' if best else html.escape(text) for text, best in cells]
                           for cells in rows])


def _figure(path, caption, primary=False):
    css = ' class="primary"' if primary else ''
    return (f'<figure{css}><img src="{html.escape(path)}" alt="{html.escape(caption)}">'
            f'<figcaption>{html.escape(caption)}</figcaption></figure>')


def render_html(result, images, visuals, title, primary_row, sort_metric):
    columns = metric_columns(result)
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
             f'<style>{PAGE_STYLE}</style></head><body>', f'<h1>{html.escape(title)}</h1>',
             '<h2>Mean over all photos</h2>', _summary_html(result),
             f'<p>{counted(len(images), "photo")}, sorted worst first by {METRIC_TITLES[sort_metric]} of '
             f'<b>{html.escape(primary_row)}</b>. Crops: the brightest and the darkest '
             'window of the target, at full resolution.</p>']
    if result.failures:
        parts.append('<h2>Failed pairs</h2><ul>' + ''.join(
            f'<li>{html.escape(name)}: {html.escape(error)}</li>' for name, error in result.failures) + '</ul>')
    for rank, image in enumerate(images, 1):
        visual = visuals[image.name]
        score_rows = []
        for row in result.rows:
            cells = [html.escape(row)] + [format_value(c, image.scores[row][c]) for c in columns]
            score_rows.append(cells)
        parts.append(f'<section><h3>#{rank} {html.escape(image.name)} '
                     f'<small>({image.width}x{image.height})</small></h3>')
        parts.append('<div class="strip">' + ''.join(
            _figure(path, column, column == primary_row) for column, path in visual.thumbs.items()) + '</div>')
        for region, crops in visual.crops.items():
            y, x, side = visual.boxes[region]
            parts.append(f'<p>{region} region: {side}x{side} px at x={x}, y={y}</p><div class="strip">' + ''.join(
                _figure(path, f'{column} ({region})', column == primary_row) for column, path in crops.items())
                + '</div>')
        parts.append(_table(['method'] + [METRIC_TITLES[c] for c in columns], score_rows) + '</section>')
    parts.append('</body></html>\n')
    return '\n'.join(parts)
