"""Bad input: a 4xx JSON answer naming the reason, nothing on disk, the server and the other requests unharmed."""
import io
import os

import httpx
import numpy as np
import pytest
import torch
from PIL import Image

from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.serve.app import ServeConfig, create_app
from tests.test_serve.conftest import WHOLE, decoded, jpeg_bytes, metric_value, png_bytes, post_together, running

GOOD = jpeg_bytes(40, 60)


def gif_bytes():
    buffer = io.BytesIO()
    Image.new('P', (20, 20)).save(buffer, 'GIF')
    return buffer.getvalue()


def float_tiff_bytes():
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.float32), 'F').save(buffer, 'TIFF')
    return buffer.getvalue()


def multipart_without_file():
    body = b'--b0\r\nContent-Disposition: form-data; name="note"\r\n\r\nno file here\r\n--b0--\r\n'
    return dict(content=body, headers={'Content-Type': 'multipart/form-data; boundary=b0'})


CASES = {
    # name: (request keyword arguments, status, reason)
    'empty body': (dict(content=b''), 400, 'empty_body'),
    'text': (dict(content=b'hello, this is not a photo'), 400, 'not_an_image'),
    'truncated jpeg': (dict(content=GOOD[:len(GOOD) // 2]), 400, 'truncated_image'),
    'too many bytes': (dict(content=GOOD + b'\0' * 5000), 413, 'too_many_bytes'),
    'too many megapixels': (dict(content=png_bytes(np.zeros((300, 300, 3), np.uint8))), 413, 'too_many_megapixels'),
    'gif': (dict(content=gif_bytes()), 415, 'unsupported_format'),
    'float tiff': (dict(content=float_tiff_bytes()), 415, 'unsupported_format'),
    'text content type': (dict(content=GOOD, headers={'Content-Type': 'text/plain'}), 415, 'unsupported_media_type'),
    'form without a file': (multipart_without_file(), 400, 'empty_body'),
    'broken form': (dict(content=b'--x\r\nnonsense', headers={'Content-Type': 'multipart/form-data; boundary=x'}),
                    400, 'bad_form'),
    'unknown format': (dict(content=GOOD, params={'format': 'gif'}), 400, 'bad_parameter'),
    'bad quality': (dict(content=GOOD, params={'quality': '0'}), 400, 'bad_parameter'),
}
LIMITS = dict(max_bytes=len(GOOD) + 4000, max_megapixels=0.05)  # 300x300 = 0.09 MP in a few hundred bytes


@pytest.fixture(scope='module')
def server(tiled_enhancer):
    with running(create_app(tiled_enhancer, ServeConfig(model_name='tiny-test', **LIMITS))) as url:
        yield url


@pytest.mark.parametrize('case', list(CASES))
def test_each_bad_input_is_a_4xx_naming_its_reason_and_the_server_goes_on(server, case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    request, status, reason = CASES[case]
    before = metric_value(httpx.get(f'{server}/metrics').text, 'realestate_sr_failures_total', f'{{reason="{reason}"}}')
    response = httpx.post(f'{server}/v1/enhance', timeout=60, **request)
    assert response.status_code == status
    assert response.headers['content-type'] == 'application/json'
    assert response.json()['error'] == reason and response.json()['detail']
    after = metric_value(httpx.get(f'{server}/metrics').text, 'realestate_sr_failures_total', f'{{reason="{reason}"}}')
    assert after == before + 1
    good = httpx.post(f'{server}/v1/enhance', content=GOOD, timeout=60)
    assert good.status_code == 200 and decoded(good.content).size == (60, 40)
    assert os.listdir(tmp_path) == []


def test_a_declared_length_above_the_limit_is_refused_before_the_body_is_read(server):
    def endless():
        yield GOOD
        yield b'\0' * 10_000  # never fully sent when the server refuses from Content-Length

    response = httpx.post(f'{server}/v1/enhance', content=endless(),
                          headers={'Content-Length': str(len(GOOD) + 10_000)}, timeout=60)
    assert response.status_code == 413 and response.json()['error'] == 'too_many_bytes'


class FailsOnWideForTests(torch.nn.Module):
    """Refuses any batch holding a photo wider than 100 px: stands for a photo that breaks the network."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.full((1, ), 0.5))

    def forward(self, x):
        if x.shape[-1] > 100:
            raise RuntimeError('too wide for this network')
        return x * self.scale


def test_a_photo_that_breaks_the_network_fails_alone_in_its_batch(serve):
    enhancer = Enhancer.from_module(FailsOnWideForTests(), WHOLE)
    bodies = [jpeg_bytes(40, 60, seed=1), jpeg_bytes(40, 120, seed=2), jpeg_bytes(40, 60, seed=3),
              jpeg_bytes(30, 50, seed=4)]
    with serve(enhancer, max_batch=4, max_wait_ms=1500) as url:
        responses = post_together(url, bodies)
        metrics = httpx.get(f'{url}/metrics').text
    assert [r.status_code for r in responses] == [200, 500, 200, 200]
    assert responses[1].json() == {'error': 'enhance_failed', 'detail': 'RuntimeError: too wide for this network'}
    for index in (0, 2, 3):
        assert int(responses[index].headers['x-batch-photos']) >= 2  # it shared its group with the broken one
        source = np.asarray(decoded(bodies[index]), np.float32)
        assert np.abs(np.asarray(decoded(responses[index].content), np.float32) - source * 0.5).max() <= 1
    assert metric_value(metrics, 'realestate_sr_failures_total', '{reason="enhance_failed"}') == 1


def huge_png_header(width, height):
    """A PNG of ``width`` x ``height`` in a few dozen bytes: past Pillow's decompression-bomb limit, not decoded."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))

    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(b'')) + chunk(b'IEND', b''))


def test_a_png_past_pillows_limit_is_413_naming_its_size_and_the_limit(server):
    response = httpx.post(f'{server}/v1/enhance', content=huge_png_header(20000, 10000), timeout=60)
    assert response.status_code == 413 and response.json()['error'] == 'too_many_megapixels'
    assert response.json()['detail'] == 'the image is 20000x10000 (200.0 MP); the limit is 0.05 MP'


def test_the_routers_refusals_have_the_error_shape_of_every_other_answer(server):
    wrong_method = httpx.get(f'{server}/v1/enhance', timeout=60)
    assert wrong_method.status_code == 405 and wrong_method.headers['allow'] == 'POST'
    assert wrong_method.json() == {'error': 'method_not_allowed', 'detail': 'GET /v1/enhance: Method Not Allowed'}
    missing = httpx.get(f'{server}/v2/enhance', timeout=60)
    assert missing.status_code == 404 and missing.json()['error'] == 'not_found'
