"""The HTTP contract of /v1/enhance, /healthz, /readyz and /metrics, against a real server on loopback."""
import io

import cv2
import httpx
import numpy as np
import torch
from PIL import Image

from realestate_sr.inference import photo_io
from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.serve.app import ServeConfig, create_app
from tests.test_inference.photo_makers import exif_with, smooth_rgb
from tests.test_serve.conftest import TILED, decoded, jpeg_bytes, metric_value, png_bytes, running

ORIENTATION, MAKE = 0x0112, 0x010F


def test_raw_jpeg_in_jpeg_out_with_model_and_timing_headers(serve, tiled_enhancer):
    data = jpeg_bytes(90, 120)
    with serve(tiled_enhancer) as url:
        response = httpx.post(f'{url}/v1/enhance', content=data, headers={'Content-Type': 'image/jpeg'}, timeout=60)
    assert response.status_code == 200
    assert response.headers['content-type'] == 'image/jpeg'
    assert response.headers['x-model'] == 'tiny-test'
    assert float(response.headers['x-elapsed-ms']) > 0
    stages = dict(part.split(';dur=') for part in response.headers['server-timing'].split(', '))
    assert set(stages) == {'decode', 'queue', 'compute', 'encode'}
    assert response.headers['x-image-size'] == '120x90'
    image = decoded(response.content)
    assert image.format == 'JPEG' and image.size == (120, 90)


def test_the_output_is_what_tiled_infer_computes(serve, tiled_enhancer):
    """Same decode, network and encode as scripts/tiled_infer.py: the PNG answer equals encode(enhance(decode))."""
    data = jpeg_bytes(70, 100, seed=3)
    photo = photo_io.decode_photo(data)
    expected = photo_io.encode_photo(np.clip(tiled_enhancer.run_photo(photo.rgb), 0, 1), photo, 'PNG')
    with serve(tiled_enhancer) as url:
        response = httpx.post(f'{url}/v1/enhance?format=png', content=data, timeout=60)
    assert response.status_code == 200 and response.headers['content-type'] == 'image/png'
    got, want = np.asarray(decoded(response.content)), np.asarray(decoded(expected))
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_multipart_upload_orientation_and_exif(serve, tiled_enhancer):
    """A sideways phone photo (EXIF orientation 6) comes back upright, tag 1, other EXIF kept, named after it."""
    stored = smooth_rgb(60, 100)  # stored landscape, displayed portrait
    buffer = io.BytesIO()
    Image.fromarray(stored).save(buffer, 'JPEG', quality=92, exif=exif_with(6, make='ServeCam'))
    with serve(tiled_enhancer) as url:
        response = httpx.post(f'{url}/v1/enhance', files={'photo': ('IMG_7.JPG', buffer.getvalue(), 'image/jpeg')},
                              timeout=60)
    assert response.status_code == 200
    image = decoded(response.content)
    assert image.size == (60, 100)
    exif = image.getexif()
    assert exif[ORIENTATION] == 1 and exif[MAKE] == 'ServeCam'
    assert response.headers['content-disposition'] == 'inline; filename="IMG_7_enhanced.jpg"'


def test_format_same_and_alpha_and_sixteen_bit(serve, tiled_enhancer):
    rgba = np.dstack([smooth_rgb(40, 50), np.full((40, 50), 128, np.uint8)])
    sixteen = smooth_rgb(40, 50, dtype=np.uint16)
    _, sixteen_png = cv2.imencode('.png', sixteen[:, :, ::-1])
    with serve(tiled_enhancer) as url:
        alpha = httpx.post(f'{url}/v1/enhance', content=png_bytes(rgba, 'RGBA'), timeout=60)  # JPEG asked
        same = httpx.post(f'{url}/v1/enhance?format=same', content=sixteen_png.tobytes(), timeout=60)
    assert alpha.status_code == 200 and alpha.headers['content-type'] == 'image/png'  # JPEG cannot hold alpha
    image = decoded(alpha.content)
    assert image.mode == 'RGBA' and np.asarray(image)[:, :, 3].max() == 128
    assert same.status_code == 200 and same.headers['content-type'] == 'image/png'
    assert cv2.imdecode(np.frombuffer(same.content, np.uint8), -1).dtype == np.uint16


def test_health_ready_metrics_and_page(serve, tiled_enhancer):
    with serve(tiled_enhancer) as url:
        assert httpx.get(f'{url}/healthz').json() == {'status': 'alive'}
        ready = httpx.get(f'{url}/readyz')
        assert ready.status_code == 200 and ready.json()['ready'] is True and ready.json()['model'] == 'tiny-test'
        httpx.post(f'{url}/v1/enhance', content=jpeg_bytes(30, 40), timeout=60)
        httpx.post(f'{url}/v1/enhance', content=b'not a photo', timeout=60)
        metrics = httpx.get(f'{url}/metrics')
        page = httpx.get(f'{url}/')
    assert metrics.headers['content-type'].startswith('text/plain')
    text = metrics.text
    assert metric_value(text, 'realestate_sr_requests_total', '{outcome="ok"}') == 1
    assert metric_value(text, 'realestate_sr_failures_total', '{reason="not_an_image"}') == 1
    assert metric_value(text, 'realestate_sr_request_seconds_count') == 2
    assert metric_value(text, 'realestate_sr_batch_photos_count') == 1
    assert 'realestate_sr_queue_depth 0.0' in text
    assert page.status_code == 200 and page.headers['content-type'].startswith('text/html')
    assert 'http://' not in page.text and 'https://' not in page.text  # no external assets


class BrokenForTests(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        raise RuntimeError('this network cannot run')


def test_readyz_is_503_until_the_model_ran_once_and_healthz_stays_200():
    broken = Enhancer.from_module(BrokenForTests(), TILED)
    with running(create_app(broken, ServeConfig()), wait_for='/healthz') as url:
        for _ in range(200):
            ready = httpx.get(f'{url}/readyz')
            if 'error' in ready.json():
                break
        assert ready.status_code == 503 and ready.json()['ready'] is False
        assert 'this network cannot run' in ready.json()['error']
        assert httpx.get(f'{url}/healthz').status_code == 200
