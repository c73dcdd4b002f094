"""?strength= on /v1/enhance: the edit at that strength, per request, and a 400 naming the range otherwise."""
import httpx
import numpy as np
import pytest

from realestate_sr.inference import photo_io
from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.inference.settings import InferenceSettings
from tests.test_archs.test_whole_photo_export import WHOLE_PHOTO_OPTS, editing_network
from tests.test_inference.photo_makers import smooth_rgb
from tests.test_serve.conftest import decoded, png_bytes, post_together


@pytest.fixture(scope='module')
def grid_enhancer():
    return Enhancer.from_module(editing_network(WHOLE_PHOTO_OPTS[2]), InferenceSettings(device='cpu'))


def test_each_request_gets_its_own_strength_and_bad_ones_are_refused(serve, grid_enhancer):
    data = png_bytes(smooth_rgb(48, 64))
    photo = photo_io.decode_photo(data)

    def expected(strength):
        return np.asarray(decoded(photo_io.encode_photo(
            np.clip(grid_enhancer.run_photo(photo.rgb, strength=strength), 0, 1), photo, 'PNG')), dtype=int)

    with serve(grid_enhancer, max_batch=3, max_wait_ms=200) as url:
        responses = post_together(url, [data] * 3, path='/v1/enhance?format=png&strength=0.5')
        zero, one = (httpx.post(f'{url}/v1/enhance', params={'format': 'png', 'strength': value}, content=data,
                                timeout=60) for value in ('0', '1'))
        plain = httpx.post(f'{url}/v1/enhance?format=png', content=data, timeout=60)
        refused = {value: httpx.post(f'{url}/v1/enhance', params={'strength': value}, content=data, timeout=60)
                   for value in ('2', 'abc', '-0.1', 'nan', '')}
    for response in responses + [zero, one, plain]:
        assert response.status_code == 200, response.text
    assert [response.headers['x-strength'] for response in (responses[0], zero, one, plain)] == ['0.5', '0', '1', '1']
    for response in responses:
        assert np.abs(np.asarray(decoded(response.content), dtype=int) - expected(0.5)).max() <= 1
    np.testing.assert_array_equal(np.asarray(decoded(zero.content)), np.asarray(decoded(data)))
    assert np.abs(np.asarray(decoded(one.content), dtype=int) - expected(1.0)).max() <= 1
    assert np.abs(expected(0.5) - expected(1.0)).max() > 5
    for value, response in refused.items():
        assert response.status_code == 400, value
        assert response.json()['error'] == 'bad_parameter'
        assert 'strength must be a number in [0, 1]' in response.json()['detail']
