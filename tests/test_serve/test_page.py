"""The page at / in headless Chromium (Debian's): a photo goes through the service, and the screenshot shows
the before and the after image side by side at the slider."""
import base64
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from realestate_sr.inference.enhancer import Enhancer
from tests.test_serve.conftest import WHOLE, png_bytes

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
RED, CYAN = (200, 60, 60), (55, 195, 195)


class InvertForTests(torch.nn.Module):
    """1 - x: the after image is the colour complement of the before image, easy to tell apart on screen."""

    def __init__(self):
        super().__init__()
        self.one = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        return self.one - x


def chromium(tmp_path, *args):
    done = subprocess.run(
        [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run', '--virtual-time-budget=20000',
         f'--user-data-dir={tmp_path / "chromium_profile"}', '--window-size=900,700', *map(str, args)],
        capture_output=True, text=True, timeout=120)
    return done


def near(pixels, colour, tolerance=12):
    return np.all(np.abs(pixels.astype(int) - np.array(colour)) <= tolerance, axis=-1)


@pytest.mark.skipif(CHROMIUM is None, reason='needs the Debian package chromium (apt-get install chromium)')
def test_the_page_enhances_a_photo_and_shows_before_and_after(serve, tmp_path):
    photo = np.empty((160, 240, 3), np.uint8)
    photo[:] = RED
    page_url_fragment = '#data:image/png;base64,' + base64.b64encode(png_bytes(photo)).decode()
    with serve(Enhancer.from_module(InvertForTests(), WHOLE)) as url:
        dom = chromium(tmp_path, '--dump-dom', f'{url}/{page_url_fragment}')
        shot = tmp_path / 'page.png'
        screenshot = chromium(tmp_path, f'--screenshot={shot}', f'{url}/{page_url_fragment}')
    assert 'data-state="done"' in dom.stdout, f'page not done; chromium said: {dom.stderr[-2000:]}'
    assert re.search(r'before 240x160, after 240x160 \(tiny-test, ', dom.stdout)
    assert re.search(r'<a id="download" href="blob:[^"]+" download="photo_enhanced.jpg"', dom.stdout)
    assert shot.is_file(), f'no screenshot; chromium said: {screenshot.stderr[-2000:]}'
    pixels = np.asarray(Image.open(shot).convert('RGB'))
    before, after = near(pixels, RED), near(pixels, CYAN)
    # the slider at 50 %: half the photo shows before, the other half after (less the divider and the labels)
    for shown in (before, after):
        assert 0.75 * 120 * 160 < shown.sum() <= 120 * 160
    rows, before_cols = np.nonzero(before)
    _, after_cols = np.nonzero(after)
    assert before_cols.max() < after_cols.min()  # before on the left of the divider, after on its right
