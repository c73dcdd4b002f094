"""Enhancer.run_photos: several photos in shared network calls give what each photo gets alone."""
import numpy as np
import pytest

from tests.test_inference.photo_makers import smooth_rgb


def photos(*sizes):
    return [np.asarray(smooth_rgb(h, w, seed=i), np.float32) / 255 for i, (h, w) in enumerate(sizes)]


@pytest.mark.parametrize('sizes', [[(64, 90), (64, 100), (70, 70), (40, 50)], [(40, 50), (40, 50), (40, 50)]])
def test_tiled_photos_in_shared_calls_equal_each_photo_alone(tiled_enhancer, sizes):
    batch = photos(*sizes)
    calls = []
    together = tiled_enhancer.run_photos(batch, on_call=calls.append)
    alone_calls = []
    for rgb, result in zip(batch, together):
        alone = tiled_enhancer.run_photos([rgb], on_call=alone_calls.append)[0]
        assert result.shape == rgb.shape
        np.testing.assert_allclose(result, alone, atol=2e-5)
        np.testing.assert_allclose(result, tiled_enhancer.run_photo(rgb), atol=2e-5)
    # tiles of several photos shared calls: fewer calls than photo by photo, none above the tile batch
    assert len(calls) < len(alone_calls)
    assert sum(calls) == sum(alone_calls) and max(calls) <= tiled_enhancer.settings.tile_batch


def test_whole_photos_of_one_size_are_stacked_into_one_call(whole_enhancer):
    batch = photos((48, 64), (48, 64), (32, 40), (48, 64))
    calls = []
    together = whole_enhancer.run_photos(batch, on_call=calls.append)
    assert sorted(calls) == [1, 3]
    for rgb, result in zip(batch, together):
        np.testing.assert_allclose(result, whole_enhancer.run_photo(rgb), atol=2e-5)
