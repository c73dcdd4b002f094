"""cache: memory gives the disk mode's samples, holds one shared copy, and states its RAM need."""
import multiprocessing
import pickle
import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from realestate_sr.data.memory_cache import CacheTooLargeError, SharedPairCache
from realestate_sr.data.pair_lists import load_manifest
from realestate_sr.data.paired_listing_dataset import DiskPairSource, PairedListingDataset


def opt_for(manifest, cache):
    return dict(name='c', phase='train', dataroot=str(manifest.parent), meta_file=str(manifest),
                io_backend={'type': 'disk'}, gt_size=16, use_hflip=True, use_rot=True, cache=cache)


def seed_worker(worker_id):
    random.seed(1000 + worker_id)


@pytest.mark.parametrize('num_workers', [0, 2])
def test_cache_mode_equals_disk_mode_for_the_same_seed(pair_set, num_workers):
    manifest, _, _ = pair_set
    batches = {}
    for cache in ('none', 'memory'):
        dataset = PairedListingDataset(opt_for(manifest, cache))
        random.seed(1000)
        loader = DataLoader(dataset, batch_size=2, num_workers=num_workers, worker_init_fn=seed_worker,
                            multiprocessing_context='fork' if num_workers else None)
        batches[cache] = [batch for _ in range(3) for batch in loader]
    for disk, cached in zip(batches['none'], batches['memory']):
        assert torch.equal(disk['lq'], cached['lq']) and torch.equal(disk['gt'], cached['gt'])
        assert disk['lq_path'] == cached['lq_path']


def test_cache_states_its_exact_ram_need(pair_set):
    manifest, _, _ = pair_set
    messages = []
    cache = SharedPairCache(DiskPairSource(load_manifest(manifest)), log=messages.append)
    expected = 2 * 3 * (40 * 48 + 36 * 52 + 44 * 44)
    assert cache.nbytes == expected
    assert len(messages) == 1 and f'{expected / 2**30:.2f} GiB' in messages[0]


def test_cache_refuses_more_than_the_available_ram(pair_set):
    manifest, _, _ = pair_set
    with pytest.raises(CacheTooLargeError, match='sub-image LMDBs'):
        SharedPairCache(DiskPairSource(load_manifest(manifest)), max_ram_fraction=1e-12)


def _write_marker(cache, value):
    np.frombuffer(cache._mapping, np.uint8)[0] = value


def test_forked_workers_share_the_one_cache_buffer(pair_set):
    """A write from a forked process is seen by the parent: the pages are shared, not copied per worker."""
    manifest, _, _ = pair_set
    cache = SharedPairCache(DiskPairSource(load_manifest(manifest)))
    new_value = (int(cache.buffer[0]) + 1) % 256
    child = multiprocessing.get_context('fork').Process(target=_write_marker, args=(cache, new_value))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert int(cache.buffer[0]) == new_value


def test_cache_is_read_only_and_not_pickled(pair_set):
    manifest, _, _ = pair_set
    dataset = PairedListingDataset(opt_for(manifest, 'memory'))
    src, _ = dataset.source.read(0)
    with pytest.raises(ValueError):
        src[0, 0, 0] = 1
    with pytest.raises(TypeError, match='fork'):
        pickle.dumps(dataset)


def test_cache_threads_fill_from_one_lmdb_without_racing_its_open(pair_set, tmp_path):
    """cache: memory with io_backend lmdb (the gb10 recipe): 8 threads read the fresh LMDB at once, every start."""
    from tests.test_data.synthetic_pairs import forget_environments_under, lmdb_opt, quick_lmdb
    manifest, _, _ = pair_set
    quick_lmdb(load_manifest(manifest), tmp_path / 'db')
    expected = PairedListingDataset(lmdb_opt(tmp_path / 'db'))
    expected = [expected.source.read(i) for i in range(len(expected))]
    for _ in range(50):
        forget_environments_under(tmp_path)
        dataset = PairedListingDataset(lmdb_opt(tmp_path / 'db', cache='memory', cache_threads=8))
        for index, (src, tar) in enumerate(expected):
            got_src, got_tar = dataset.source.read(index)
            assert np.array_equal(got_src, src) and np.array_equal(got_tar, tar)
