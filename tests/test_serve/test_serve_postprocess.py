"""The service finishes its answers with the same post-processing as tiled_infer.py (off by default)."""
import httpx
import numpy as np

from realestate_sr.inference import photo_io
from realestate_sr.inference.postprocess import LabReference, PostProcessSettings
from tests.test_inference.photo_makers import smooth_rgb
from tests.test_serve.conftest import decoded, jpeg_bytes


def test_the_answer_is_the_network_output_post_processed_by_the_library(serve, tiled_enhancer):
    data = jpeg_bytes(70, 100, seed=3)
    photo = photo_io.decode_photo(data)
    warm = smooth_rgb(40, 40, 2).astype(np.float32) / 255.0 * np.array([1.0, 0.8, 0.5], np.float32)
    settings = PostProcessSettings(LabReference.from_photo(warm), 1.0, saturation=0.3)
    network = np.clip(tiled_enhancer.run_photo(photo.rgb), 0, 1)
    expected = np.asarray(decoded(photo_io.encode_photo(settings.apply(network), photo, 'PNG'))).astype(int)
    plain = np.asarray(decoded(photo_io.encode_photo(network, photo, 'PNG'))).astype(int)
    with serve(tiled_enhancer, postprocess=settings) as url:
        response = httpx.post(f'{url}/v1/enhance?format=png', content=data, timeout=60)
    assert response.status_code == 200
    got = np.asarray(decoded(response.content)).astype(int)
    assert np.abs(got - expected).max() <= 1  # as test_api's tiled_infer comparison: batched tiles may round apart
    assert np.abs(got - plain).mean() > 5
