"""A manifest that lists a missing file stops the dataset build with one line, not a DataLoader worker hours in."""
import json
import os

import pytest

from realestate_sr.data.pair_lists import PairListError, load_manifest
from realestate_sr.data.paired_listing_dataset import PairedListingDataset
from tests.test_data.synthetic_pairs import make_pair_set


def dataset_opt(manifest):
    return dict(name='listings_train', type='PairedListingDataset', phase='train', meta_file=str(manifest),
                io_backend={'type': 'disk'}, gt_size=16)


def test_every_manifest_entry_is_checked_when_the_dataset_is_built(tmp_path):
    manifest, _, _ = make_pair_set(tmp_path / 'pairs', sizes=[(32, 32)] * 3)
    pairs = load_manifest(manifest)
    os.remove(pairs[1].tar)
    with pytest.raises(PairListError) as caught:
        PairedListingDataset(dataset_opt(manifest))
    message = str(caught.value)
    assert '\n' not in message and message.startswith("1 file listed in dataset 'listings_train'")
    assert pairs[1].tar in message and pairs[0].tar not in message


def test_the_message_names_ten_missing_files_and_counts_them_all(tmp_path):
    manifest, _, _ = make_pair_set(tmp_path / 'pairs', sizes=[(32, 32)])
    lines = manifest.read_text().splitlines()
    lines += [json.dumps({'src': f'gone/{i}_src.jpg', 'tar': f'gone/{i}_tar.jpg'}) for i in range(7)]
    manifest.write_text('\n'.join(lines) + '\n')
    with pytest.raises(PairListError, match=r'^14 files listed in') as caught:
        PairedListingDataset(dataset_opt(manifest))
    message = str(caught.value)
    assert message.count('gone/') == 10 and message.endswith(', ...')


def test_a_complete_manifest_builds(tmp_path):
    manifest, _, _ = make_pair_set(tmp_path / 'pairs', sizes=[(32, 32)] * 2)
    assert len(PairedListingDataset(dataset_opt(manifest))) == 2
