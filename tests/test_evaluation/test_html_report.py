"""The HTML report opens offline and every image in it loads, checked in headless Chromium."""
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import cv2
import pytest

from tests.test_evaluation.test_evaluate_script import run

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
# Appended to a copy of the report: after the load event, writes how many <img> decoded into the DOM.
PROBE = """<script>
window.addEventListener('load', () => {
  const images = Array.from(document.images);
  const loaded = images.filter(img => img.complete && img.naturalWidth > 0).length;
  const probe = document.createElement('div');
  probe.id = 'probe';
  probe.textContent = `loaded=${loaded} total=${images.length}`;
  document.body.appendChild(probe);
});
</script>"""


class ImageSources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag == 'img':
            self.sources.append(dict(attrs)['src'])


@pytest.fixture
def report(eval_pairs, tiny_model, tmp_path):
    opt_file, checkpoints = tiny_model
    out = tmp_path / 'report dir'  # a space in the path, as shared folders often have
    assert run('--pairs', eval_pairs['manifest'], '--opt', opt_file, '--model', checkpoints[0], '--tta',
               '--skip-lpips', '--tile-size', 32, '--overlap', 8, '-o', out) == 0
    return out


def test_report_references_only_small_local_files(report):
    parser = ImageSources()
    parser.feed((report / 'report.html').read_text())
    # 3 photos x (input, auto_correct, model, model+tta, target) x (thumbnail, brightest, darkest crop)
    assert len(parser.sources) == 3 * 5 * 3
    for source in parser.sources:
        assert not re.match(r'^[a-z]+:', source), f'{source} is not a relative path: the report must open offline'
        path = report / source
        assert path.suffix == '.jpg' and path.stat().st_size < 100_000
        assert cv2.imread(str(path)) is not None
    sheet = cv2.imread(str(report / 'contact_sheets' / 'sheet_01.png'))
    assert sheet is not None and sheet.shape[0] > 3 * 40  # a line per photo


def test_report_sorted_worst_first(report):
    document = json.loads((report / 'metrics.json').read_text())
    l1 = {image['name']: image['scores']['fold0/net_g_latest@params_ema']['l1'] for image in document['images']}
    headings = re.findall(r'<h3>#\d+ (\S+)', (report / 'report.html').read_text())
    assert headings == sorted(l1, key=l1.get, reverse=True)
    assert len(set(l1.values())) == 3  # distinct scores, so the order is a real check


@pytest.mark.skipif(CHROMIUM is None, reason='needs the Debian package chromium (apt-get install chromium)')
def test_every_image_loads_in_headless_chromium(report, tmp_path):
    assert images_loaded(report, tmp_path) == (45, 45)
    # The probe notices a broken image: remove one file and render again.
    next((report / 'report_files').glob('*.jpg')).unlink()
    assert images_loaded(report, tmp_path) == (44, 45)


def images_loaded(report, tmp_path):
    """(loaded, total) images of report.html as headless Chromium renders it from disk."""
    probe_page = report / 'probe.html'
    probe_page.write_text((report / 'report.html').read_text().replace('</body>', PROBE + '</body>'))
    done = subprocess.run(
        [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run', '--virtual-time-budget=10000',
         f'--user-data-dir={tmp_path / "chromium_profile"}', '--dump-dom', probe_page.as_uri()],
        capture_output=True, text=True, timeout=120)
    match = re.search(r'<div id="probe">loaded=(\d+) total=(\d+)</div>', done.stdout)
    assert match, f'no probe in the rendered page; chromium said: {done.stderr[-2000:]}'
    return int(match.group(1)), int(match.group(2))


def test_summary_table_is_built_from_the_scores_not_from_markdown():
    # a row label with '|' (a --pred folder may be called so) split the re-parsed markdown into an extra column
    from realestate_sr.evaluation.runner import EvaluationResult, ImageResult
    from realestate_sr.evaluation.tables import markdown_table
    from realestate_sr.evaluation.visual_report import render_html
    rows = ['input', 'edits|v2']
    images = [ImageResult(name=f'{i}.png', src='', tar='', height=8, width=8,
                          scores={'input': {'psnr': 20.0 + i, 'l1': 0.1}, 'edits|v2': {'psnr': 30.0 + i, 'l1': 0.05}})
              for i in range(2)]
    result = EvaluationResult(rows=rows, images=images, failures=[])
    page = render_html(result, [], {}, 'title', 'edits|v2', 'psnr')
    summary = page.split('<h2>Mean over all photos</h2>')[1].split('</table>')[0]
    assert summary.count('<tr>') == 3
    row_cells = [re.findall(r'<td>(.*?)</td>', row) for row in summary.split('<tr>')[2:]]
    assert row_cells == [['input', '2', '20.50', '0.1000'], ['edits|v2', '2', '<b>30.50</b>', '<b>0.0500</b>']]
    assert '**30.50**' in markdown_table(result) and '**0.0500**' in markdown_table(result)
