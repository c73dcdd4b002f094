"""Fixtures for the service tests: a tiny random NAFNet Enhancer and a real uvicorn server on a loopback port."""
import io
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from PIL import Image

from realestate_sr.serve.app import ServeConfig, create_app
from tests.conftest import free_port
from tests.test_inference.conftest import TILED, WHOLE, tiled_enhancer, tiny_net, whole_enhancer  # noqa: F401
from tests.test_inference.photo_makers import smooth_rgb


@contextmanager
def running(app, wait_for='/readyz'):
    """Serve ``app`` with uvicorn in a thread on 127.0.0.1; yields the base URL once ``wait_for`` answers 200."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host='127.0.0.1', port=port, log_level='warning'))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f'{url}{wait_for}', timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f'the test server did not answer {wait_for} in 30 s')
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def serve():
    """``serve(enhancer, **config)`` -> a context manager yielding the base URL of a running server."""

    def start(enhancer, **config):
        return running(create_app(enhancer, ServeConfig(model_name='tiny-test', **config)))

    return start


def post_together(url, bodies, path='/v1/enhance?format=png'):
    """POST every body at the same moment from its own thread; the responses in order."""
    responses = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def post(index):
        barrier.wait()
        responses[index] = httpx.post(f'{url}{path}', content=bodies[index], timeout=120)

    threads = [threading.Thread(target=post, args=(index, )) for index in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def jpeg_bytes(height, width, seed=0, quality=92, **options):
    buffer = io.BytesIO()
    Image.fromarray(smooth_rgb(height, width, seed)).save(buffer, 'JPEG', quality=quality, **options)
    return buffer.getvalue()


def png_bytes(array, mode=None):
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, 'PNG')
    return buffer.getvalue()


def decoded(data):
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        image = im.copy()
    image.format = im.format  # copy() forgets which format the bytes were
    return image


def metric_value(text, name, labels=''):
    """The value of one sample in Prometheus text (``name{labels}``), 0 when absent."""
    for line in text.splitlines():
        if line.startswith(f'{name}{labels} ') or (not labels and line.startswith(f'{name} ')):
            return float(line.rsplit(' ', 1)[1])
    return 0.0
