"""Reading LMDBs (realestate_sr.data.lmdb_io): readers of one LMDB share it, a rebuilt one is read afresh, forked
workers and racing threads open it once."""
import threading

import numpy as np
import torch

from realestate_sr.data.lmdb_io import LmdbImageReader
from realestate_sr.data.pair_lists import load_manifest
from realestate_sr.data.paired_listing_dataset import PairedListingDataset
from realestate_sr.prep.lmdb_build import BuildOptions, build_lmdb
from tests.test_data.synthetic_pairs import forget_environments_under, lmdb_opt, make_pair_set, quick_lmdb


def test_readers_of_one_lmdb_share_it_and_a_rebuilt_one_is_read_afresh(tmp_path):
    """Train and val datasets of a run read the same LMDBs in one process (LMDB refuses a second open)."""
    manifest, _, _ = make_pair_set(tmp_path / 'p', sizes=[(20, 24)] * 4)
    pairs = load_manifest(manifest)
    build_lmdb(pairs, tmp_path / 'db', BuildOptions(checks=False, val_fraction=0.5, seed=1))
    train = PairedListingDataset(lmdb_opt(tmp_path / 'db', 'train'))
    val = PairedListingDataset(lmdb_opt(tmp_path / 'db', 'val'))
    assert [len(d) for d in (train, val)] == [2, 2]
    first_train, first_val = train[0]['gt'], val[0]['gt']
    assert not torch.equal(first_train, first_val)
    # make_lmdb --force rebuilds under the same name: a new reader must see the new records, not the old file
    other, _, _ = make_pair_set(tmp_path / 'q', sizes=[(20, 24)] * 4, seed=50)
    build_lmdb(load_manifest(other), tmp_path / 'db', BuildOptions(checks=False, val_fraction=0.5, seed=1, force=True))
    rebuilt = PairedListingDataset(lmdb_opt(tmp_path / 'db', 'train'))
    assert not torch.equal(rebuilt[0]['gt'], first_train)


def test_forked_workers_read_an_lmdb_the_parent_already_opened(tmp_path):
    """A DataLoader forked after the main process read the LMDB (validation, cache) reuses its environment."""
    manifest, _, _ = make_pair_set(tmp_path / 'p', sizes=[(20, 24)] * 4)
    quick_lmdb(load_manifest(manifest), tmp_path / 'db')
    dataset = PairedListingDataset(lmdb_opt(tmp_path / 'db'))
    expected = [dataset[i]['gt'] for i in range(len(dataset))]
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=2, multiprocessing_context='fork')
    for item, gt in zip(loader, expected):
        torch.testing.assert_close(item['gt'][0], gt, atol=0, rtol=0)


def test_threads_opening_one_lmdb_at_once_share_one_environment(tmp_path):
    """The memory cache's fill threads all start with a first read of the same LMDB; without a lock around the
    open, two of them opened it and the second got 'already open in this process' (one start in a few)."""
    manifest, _, _ = make_pair_set(tmp_path / 'p', sizes=[(20, 24)] * 2)
    quick_lmdb(load_manifest(manifest), tmp_path / 'db')
    expected = LmdbImageReader(tmp_path / 'db' / 'src.lmdb').read('00001')
    forget_environments_under(tmp_path)
    failures = []
    for _ in range(50):
        barrier, errors, images = threading.Barrier(8), [], []
        reader = LmdbImageReader(tmp_path / 'db' / 'src.lmdb')

        def read():
            barrier.wait()
            try:
                images.append(reader.read('00001'))
            except Exception as err:  # noqa: BLE001  (any failure of any thread fails the round)
                errors.append(err)

        threads = [threading.Thread(target=read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        failures += errors
        assert len(images) + len(errors) == 8
        assert all(np.array_equal(image, expected) for image in images)
        forget_environments_under(tmp_path)
    assert not failures, f'{len(failures)} reads failed, first: {failures[0]!r}'
