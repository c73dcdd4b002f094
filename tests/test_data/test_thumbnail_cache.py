"""ThumbnailCache: each pair's thumbnails made once, shared with forked workers; WholePhotoDataset uses it."""
import multiprocessing
import pickle
import random

import pytest
import torch

from realestate_sr.data import thumbnail_cache, whole_photo_dataset
from realestate_sr.data.thumbnail_cache import ThumbnailCache
from tests.test_data.synthetic_pairs import make_tar_image, write_pair_set
from tests.test_data.test_whole_photo_dataset import dataset


def thumbs(seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(3, 4, 4, generator=generator), torch.rand(3, 4, 4, generator=generator)


def test_a_pair_is_made_once_and_later_reads_are_copies():
    cache = ThumbnailCache(3, 4)
    calls = []
    first = cache.get(1, lambda: calls.append(1) or thumbs(1))
    again = cache.get(1, lambda: calls.append(1) or thumbs(2))
    assert calls == [1]
    for made, read in zip(first, again):
        assert torch.equal(made, read)
    again[0].zero_()  # a caller's tensor is its own
    assert torch.equal(cache.get(1, thumbs)[0], first[0])
    assert not cache.filled(0) and not cache.filled(2)


def fill_in_child(cache):
    cache.get(2, lambda: thumbs(7))


def test_a_forked_worker_fills_the_slot_for_every_process():
    cache = ThumbnailCache(3, 4)
    child = multiprocessing.get_context('fork').Process(target=fill_in_child, args=(cache,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert cache.filled(2)
    read = cache.get(2, lambda: pytest.fail('made again in the parent'))
    for expected, got in zip(thumbs(7), read):
        assert torch.equal(expected, got)


def test_pickling_is_refused_and_a_cache_too_large_for_the_ram_is_not_made(monkeypatch):
    with pytest.raises(TypeError, match='fork'):
        pickle.dumps(ThumbnailCache(1, 4))
    monkeypatch.setattr(thumbnail_cache, 'available_ram_bytes', lambda: 10 * 2**30)
    lines = []
    assert ThumbnailCache.if_it_fits(100, 512, lines.append) is not None  # 0.6 GiB of 10
    assert ThumbnailCache.if_it_fits(5000, 512, lines.append) is None    # 29 GiB
    assert 'thumbnail cache off' in lines[-1] and '29.3 GiB' in lines[-1]


@pytest.fixture
def two_pairs(tmp_path):
    tars = [make_tar_image(30, 44, seed=seed) for seed in (1, 2)]
    return write_pair_set(tmp_path / 'pairs', [(255 - tar, tar) for tar in tars])[0]


def test_cached_samples_equal_samples_that_make_their_thumbnails(two_pairs, monkeypatch):
    made = []
    real = whole_photo_dataset.whole_thumbnail
    monkeypatch.setattr(whole_photo_dataset, 'whole_thumbnail', lambda *args: made.append(1) or real(*args))
    cached, plain = dataset(two_pairs), dataset(two_pairs, thumb_cache=False)
    assert plain.thumb_cache is None and cached.thumb_cache is not None
    for sample, index in enumerate((0, 1) * 8):  # flips and rotations on: the cached thumbnails are turned
        random.seed(sample)
        state = random.getstate()
        with_cache = cached[index]
        random.setstate(state)
        without = plain[index]
        assert torch.equal(with_cache['lq'], without['lq']) and torch.equal(with_cache['box'], without['box'])
        for key in ('lq_thumb', 'gt_thumb'):
            torch.testing.assert_close(with_cache[key], without[key], atol=1e-6, rtol=0)
    made.clear()
    for index in (0, 1) * 4:
        cached[index]
    assert not made  # every photo's thumbnails were made already
