"""make_lmdb (realestate_sr.prep.lmdb_build): folder -> LMDB -> dataset round trips, sub-image coverage, splits,
split manifests, leakage, interrupted builds, CLI."""
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import realestate_sr.prep.lmdb_build as lmdb_build
from realestate_sr.data.lmdb_io import LmdbFormatError, read_meta_info
from realestate_sr.data.pair_lists import load_manifest, pairs_from_folders
from realestate_sr.data.paired_listing_dataset import PairedListingDataset
from realestate_sr.prep.lmdb_build import BuildError, BuildOptions, assign_splits, build_lmdb, planned_bytes
from tests.test_data.synthetic_pairs import (
    good_photo_pairs,
    lmdb_opt,
    make_pair_set,
    make_tar_image,
    quick_lmdb,
    resolved_paths,
    retaken_pair,
    src_from_tar,
    write_image,
    write_pair_set,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'scripts'))
import make_lmdb  # noqa: E402


def disk_items(manifest):
    dataset = PairedListingDataset(dict(name='d', phase='val', meta_file=str(manifest)))
    return [dataset[i] for i in range(len(dataset))]


@pytest.mark.parametrize('encoding, max_error', [('png', 0.0), ('raw', 0.0), ('jpg', 0.1)])
def test_folder_to_lmdb_to_dataset_round_trip(pair_set, tmp_path, encoding, max_error):
    manifest, src_dir, tar_dir = pair_set
    quick_lmdb(pairs_from_folders(src_dir, tar_dir), tmp_path / 'db', encoding=encoding)
    from_lmdb = PairedListingDataset(lmdb_opt(tmp_path / 'db'))
    expected = disk_items(manifest)
    assert len(from_lmdb) == len(expected) == 3
    for index, disk in enumerate(expected):
        item = from_lmdb[index]
        for role in ('lq', 'gt'):
            error = (item[role] - disk[role]).abs()
            assert item[role].shape == disk[role].shape
            assert float(error.max()) <= max_error + 1e-7
            if encoding == 'jpg':  # lossy but close: 4:4:4 at quality 95, on pure noise content
                assert float(error.mean()) < 0.02
        assert item['lq_path'].endswith(f'{index}.png')  # whole images report their original file


def test_sub_images_cover_every_training_pixel_exactly(pair_set, tmp_path):
    _, src_dir, tar_dir = pair_set
    pairs = pairs_from_folders(src_dir, tar_dir)
    quick_lmdb(pairs, tmp_path / 'db', sub_size=20, sub_step=12)
    names = [json.loads(line) for line in (tmp_path / 'db' / 'name_map.jsonl').read_text().splitlines()]
    records = read_meta_info(tmp_path / 'db' / 'tar.lmdb')
    dataset = PairedListingDataset(lmdb_opt(tmp_path / 'db', phase='val'))
    items = {key: dataset[i] for i, key in enumerate(dataset.source.keys)}
    for pair in pairs:
        full = disk_items_for(pair)
        covered = np.zeros(full.shape[1:], bool)
        for entry in (n for n in names if n['pair'] == pair.name):
            top, left, h, w = entry['box']
            assert records[entry['key']].shape == (h, w, 3) and h == w == 20
            covered[top:top + h, left:left + w] = True
            assert torch.equal(items[entry['key']]['gt'], full[:, top:top + h, left:left + w])
            torch.testing.assert_close(items[entry['key']]['lq'], 1 - items[entry['key']]['gt'], atol=1e-6, rtol=0)
        assert covered.all(), f'{pair.name}: {int((~covered).sum())} pixels in no sub-image'


def disk_items_for(pair):
    from realestate_sr.data.image_io import read_bgr
    from realestate_sr.data.pair_transforms import bgr_uint8_to_tensor
    return bgr_uint8_to_tensor(read_bgr(pair.tar))


def test_training_crops_from_sub_image_lmdb_stay_aligned(pair_set, tmp_path):
    _, src_dir, tar_dir = pair_set
    quick_lmdb(pairs_from_folders(src_dir, tar_dir), tmp_path / 'db', sub_size=24, sub_step=12, encoding='png')
    dataset = PairedListingDataset(lmdb_opt(tmp_path / 'db', phase='train', gt_size=16, use_hflip=True,
                                            use_rot=True))
    random.seed(0)
    for index in range(len(dataset)):
        item = dataset[index]
        assert item['gt'].shape == (3, 16, 16)
        torch.testing.assert_close(item['lq'], 1 - item['gt'], atol=1e-6, rtol=0)


def test_splits_are_disjoint_seeded_and_hold_the_test_list(tmp_path):
    manifest, _, _ = make_pair_set(tmp_path / 'p', sizes=[(24, 24)] * 12)
    pairs = load_manifest(manifest)
    options = BuildOptions(checks=False, val_fraction=0.25, seed=3, test_names=('images/2_src.png', '5_tar.png'))
    splits = assign_splits(pairs, options)
    assert splits == assign_splits(pairs, options)  # same seed, same split
    assert [i for i, s in enumerate(splits) if s == 'test'] == [2, 5]
    assert splits.count('val') == round(0.25 * 10)
    summary = build_lmdb(pairs, tmp_path / 'db', options)
    assert summary.split_counts == {'train': 8, 'val': 2, 'test': 2}
    names = [json.loads(line) for line in (tmp_path / 'db' / 'name_map.jsonl').read_text().splitlines()]
    split_of_pair = {}
    for entry in names:
        split_of_pair.setdefault(entry['pair'], set()).add(entry['split'])
    assert all(len(s) == 1 for s in split_of_pair.values())
    key_sets = [set((tmp_path / 'db' / f'{s}.txt').read_text().split()) for s in ('train', 'val', 'test')]
    assert sum(map(len, key_sets)) == len(set.union(*key_sets)) == 12
    with pytest.raises(BuildError, match='match no pair'):
        assign_splits(pairs, BuildOptions(test_names=('nope.png',)))


def test_interrupted_build_is_detected_and_can_be_rerun(pair_set, tmp_path, monkeypatch):
    _, src_dir, tar_dir = pair_set
    pairs = pairs_from_folders(src_dir, tar_dir)
    calls = []
    real_job = lmdb_build._encode_job

    def dying_job(job):
        calls.append(job)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C in the middle
        return real_job(job)

    monkeypatch.setattr(lmdb_build, '_encode_job', dying_job)
    with pytest.raises(KeyboardInterrupt):
        quick_lmdb(pairs, tmp_path / 'db')
    assert not (tmp_path / 'db').exists()
    partial = list(tmp_path.glob('.db.partial-*'))
    assert len(partial) == 1
    with pytest.raises(LmdbFormatError, match='build did not finish'):
        PairedListingDataset(lmdb_opt(partial[0]))
    monkeypatch.setattr(lmdb_build, '_encode_job', real_job)
    summary = quick_lmdb(pairs, tmp_path / 'db')
    assert summary.removed_partial == [str(partial[0])] and not partial[0].exists()
    assert len(PairedListingDataset(lmdb_opt(tmp_path / 'db'))) == 3


def test_existing_output_needs_force(pair_set, tmp_path):
    _, src_dir, tar_dir = pair_set
    pairs = pairs_from_folders(src_dir, tar_dir)
    quick_lmdb(pairs, tmp_path / 'db')
    with pytest.raises(BuildError, match='--force'):
        quick_lmdb(pairs, tmp_path / 'db')
    quick_lmdb(pairs[:2], tmp_path / 'db', force=True)
    assert len(read_meta_info(tmp_path / 'db' / 'src.lmdb')) == 2
    assert not list(tmp_path.glob('.db.*'))


def test_map_size_comes_from_the_whole_set(tmp_path):
    """Stock BasicSR sizes the map from the first image; a tiny first image must not overflow ours."""
    manifest, _, _ = make_pair_set(tmp_path / 'p', sizes=[(8, 8), (300, 400), (320, 420)])
    pairs = load_manifest(manifest)
    options = BuildOptions(checks=False, val_fraction=0.0, encoding='raw')
    assert planned_bytes(pairs, ['train'] * 3, options) == 3 * (64 + 300 * 400 + 320 * 420)
    build_lmdb(pairs, tmp_path / 'db', options)
    assert len(PairedListingDataset(lmdb_opt(tmp_path / 'db'))) == 3


def test_non_ascii_names_get_ascii_keys_and_a_name_map(tmp_path):
    for name in ('Küche 1.png', 'salle-de-séjour.png'):
        tar = make_tar_image(20, 24, len(name))
        write_image(tmp_path / 'src' / name, src_from_tar(tar))
        write_image(tmp_path / 'tar' / name, tar)
    quick_lmdb(pairs_from_folders(tmp_path / 'src', tmp_path / 'tar'), tmp_path / 'db')
    keys = list(read_meta_info(tmp_path / 'db' / 'src.lmdb'))
    assert keys == ['00000', '00001']
    names = [json.loads(line)['pair'] for line in (tmp_path / 'db' / 'name_map.jsonl').read_text('utf-8').splitlines()]
    assert names == ['Küche 1.png', 'salle-de-séjour.png']


def test_cli_reports_failed_pairs_and_exclude_records_why(tmp_path, capsys):
    manifest, _, _ = write_pair_set(tmp_path / 'p', good_photo_pairs(3), ext='.jpg', manifest_name='all.jsonl')
    (tmp_path / 'p' / 'images' / '1_tar.jpg').write_bytes(b'broken export')
    base = ['--pairs', str(manifest), '--workers', '1', '--val-fraction', '0']
    assert make_lmdb.main(base + ['-o', str(tmp_path / 'a'), '--no-checks']) == 1
    assert 'FAILED 1 pair (left out)' in capsys.readouterr().err
    assert make_lmdb.main(base + ['-o', str(tmp_path / 'b'), '--exclude']) == 0
    info = json.loads((tmp_path / 'b' / 'build_info.json').read_text())
    assert [e['pair'] for e in info['excluded']] == ['images/1_src.jpg']
    assert 'unreadable' in info['excluded'][0]['flags']
    assert make_lmdb.main(base + ['-o', str(tmp_path / 'c'), '--dry-run']) == 0 and not (tmp_path / 'c').exists()


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text(encoding='utf-8').splitlines()]


def test_split_manifests_list_the_original_pairs_of_each_split(tmp_path):
    manifest, _, _ = make_pair_set(tmp_path / 'p', sizes=[(24, 28)] * 10)
    pairs = load_manifest(manifest)
    options = BuildOptions(checks=False, val_fraction=0.3, seed=1, test_names=('images/4_src.png', '7_tar.png'))
    splits = assign_splits(pairs, options)
    build_lmdb(pairs, tmp_path / 'db', options)
    test = load_manifest(tmp_path / 'db' / 'test.jsonl')  # default dataroot: the output folder
    assert list(map(resolved_paths, test)) == [resolved_paths(pairs[4]), resolved_paths(pairs[7])]
    assert all(entry['src'].startswith('../') for entry in read_jsonl(tmp_path / 'db' / 'train.jsonl'))
    for split in ('train', 'val', 'test'):
        assert len(read_jsonl(tmp_path / 'db' / f'{split}.jsonl')) == splits.count(split)
    from_manifest = disk_items(tmp_path / 'db' / 'val.jsonl')
    from_lmdb = PairedListingDataset(lmdb_opt(tmp_path / 'db', split='val'))
    assert len(from_lmdb) == len(from_manifest) == splits.count('val') == 2
    for index, item in enumerate(from_manifest):
        for role in ('lq', 'gt'):
            assert torch.equal(item[role], from_lmdb[index][role])
        assert Path(item['gt_path']).resolve() == Path(from_lmdb[index]['gt_path']).resolve()


@pytest.fixture
def leaking_set(tmp_path):
    """Four good photo pairs and a re-take of pair 0; with --test-first 1 the photo of pair 0 is in test and train."""
    photos = good_photo_pairs(4)
    manifest, _, _ = write_pair_set(tmp_path / 'p', photos + [retaken_pair(photos[0], seed=77)], ext='.jpg',
                                    manifest_name='all.jsonl')
    # too few pairs for brightness statistics: only the leakage decides here
    return ['--pairs', str(manifest), '--workers', '1', '--val-fraction', '0', '--test-first', '1',
            '--min-pairs-for-stats', '10']


def test_cli_refuses_a_photo_in_two_splits(leaking_set, tmp_path, capsys):
    assert make_lmdb.main(leaking_set + ['-o', str(tmp_path / 'db')]) == 1
    err = capsys.readouterr().err
    assert 'images/4_src.jpg (train)' in err and 'images/0_src.jpg in test' in err
    assert '--exclude' in err and '--allow-leakage' in err
    assert not (tmp_path / 'db').exists() and not list(tmp_path.glob('.db*'))


def test_cli_exclude_drops_the_leaking_copy(leaking_set, tmp_path):
    assert make_lmdb.main(leaking_set + ['-o', str(tmp_path / 'db'), '--exclude']) == 0
    info = json.loads((tmp_path / 'db' / 'build_info.json').read_text())
    assert [(e['pair'], list(e['flags'])) for e in info['excluded']] == [('images/4_src.jpg',
                                                                          ['duplicate_across_splits'])]
    assert [e['src'] for e in read_jsonl(tmp_path / 'db' / 'test.jsonl')] == ['../p/images/0_src.jpg']
    assert [e['src'] for e in read_jsonl(tmp_path / 'db' / 'train.jsonl')] == [
        f'../p/images/{i}_src.jpg' for i in (1, 2, 3)]


def test_cli_allow_leakage_builds_and_records_the_kept_pairs(leaking_set, tmp_path, capsys):
    assert make_lmdb.main(leaking_set + ['-o', str(tmp_path / 'db'), '--allow-leakage']) == 0
    info = json.loads((tmp_path / 'db' / 'build_info.json').read_text())
    assert [e['pair'] for e in info['leakage_allowed']] == ['images/4_src.jpg'] and not info['excluded']
    assert len(read_jsonl(tmp_path / 'db' / 'train.jsonl')) == 4
    assert 'WARNING: kept 1 pair whose photo' in capsys.readouterr().out


def test_empty_splits_get_no_manifest(tmp_path, capsys):
    """--val-fraction 0 and no test split: only train.jsonl, which evaluate.py's reader loads."""
    manifest, _, _ = make_pair_set(tmp_path / 'p', sizes=[(24, 28)] * 3)
    code = make_lmdb.main(['--pairs', str(manifest), '-o', str(tmp_path / 'db'), '--workers', '1',
                           '--val-fraction', '0', '--no-checks'])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / 'db').glob('*.jsonl')) == ['name_map.jsonl', 'train.jsonl']
    assert len(load_manifest(tmp_path / 'db' / 'train.jsonl')) == 3
    out = capsys.readouterr().out
    assert 'no val.jsonl (no pairs)' in out and 'no test.jsonl (no pairs)' in out and 'train.jsonl (original' in out
    assert json.loads((tmp_path / 'db' / 'build_info.json').read_text())['manifests'] == ['train.jsonl']


def test_validation_is_drawn_after_exclusion(tmp_path):
    """An excluded pair must not take a validation slot: the README's --val-fraction with --exclude gave val 0."""
    from realestate_sr.prep.pair_checks import CheckThresholds
    manifest, _, _ = write_pair_set(tmp_path / 'p', good_photo_pairs(6), ext='.jpg', manifest_name='all.jsonl')
    (tmp_path / 'p' / 'images' / '2_tar.jpg').write_bytes(b'broken export')
    pairs = load_manifest(manifest)
    # a seed whose draw over all six pairs picks the broken one: what the build drew before excluding
    seed = next(s for s in range(100)
                if assign_splits(pairs, BuildOptions(val_fraction=0.2, seed=s))[2] == 'val')
    options = BuildOptions(val_fraction=0.2, seed=seed, exclude=True,
                           thresholds=CheckThresholds(min_pairs_for_stats=10))
    summary = build_lmdb(pairs, tmp_path / 'db', options)
    assert [e['pair'] for e in summary.excluded] == ['images/2_src.jpg']
    assert summary.excluded[0]['split'] == 'train'
    assert summary.split_counts == {'train': 4, 'val': 1, 'test': 0}  # round(0.2 x 5 kept) = 1
    assert len(load_manifest(tmp_path / 'db' / 'val.jsonl')) == 1
    assert len(PairedListingDataset(lmdb_opt(tmp_path / 'db', split='val'))) == 1


def test_a_photo_in_train_and_val_is_still_caught_after_the_late_draw(tmp_path):
    """Validation is drawn after the checks ran; the duplicate test is redone for the final splits."""
    from realestate_sr.prep.pair_checks import CheckThresholds
    photos = good_photo_pairs(4)
    manifest, _, _ = write_pair_set(tmp_path / 'p', photos + [retaken_pair(photos[0], seed=77)], ext='.jpg',
                                    manifest_name='all.jsonl')
    pairs = load_manifest(manifest)
    seed = next(s for s in range(100)
                if assign_splits(pairs, BuildOptions(val_fraction=0.2, seed=s))[0] == 'val')
    common = dict(val_fraction=0.2, seed=seed, thresholds=CheckThresholds(min_pairs_for_stats=10))
    with pytest.raises(lmdb_build.LeakageError, match=r'images/4_src.jpg \(train\)'):
        build_lmdb(pairs, tmp_path / 'refused', BuildOptions(**common))
    summary = build_lmdb(pairs, tmp_path / 'db', BuildOptions(exclude=True, **common))
    assert [(e['pair'], e['split']) for e in summary.excluded] == [('images/4_src.jpg', 'train')]
    assert [e['src'] for e in read_jsonl(tmp_path / 'db' / 'val.jsonl')] == ['../p/images/0_src.jpg']


@pytest.mark.parametrize('flags', [['--test-first', '30', '--val-fraction', '0.05', '--exclude'],
                                   ['--test-first', '30', '--val-fraction', '0.05', '--exclude', '--dry-run'],
                                   ['--val-fraction', '0.9', '--no-checks']])
def test_cli_refuses_an_empty_train_split(tmp_path, capsys, flags):
    """The README's --test-first 30 on a small delivery wrote train 0 / val 0 / test N and exited 0."""
    manifest, _, _ = write_pair_set(tmp_path / 'p', good_photo_pairs(1), ext='.jpg', manifest_name='all.jsonl')
    code = make_lmdb.main(['--pairs', str(manifest), '-o', str(tmp_path / 'db'), '--workers', '1'] + flags)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('make_lmdb: error: the train split would be empty')
    expected = 'train 0, val 1, test 0 of 1 pair' if '0.9' in flags else 'train 0, val 0, test 1 of 1 pair'
    assert expected in lines[0] and '1 pairs' not in lines[0]
    assert not (tmp_path / 'db').exists() and not list(tmp_path.glob('.db*'))


def test_cli_warns_on_an_empty_val_split(tmp_path, capsys):
    manifest, _, _ = make_pair_set(tmp_path / 'p', sizes=[(24, 28)] * 3)
    code = make_lmdb.main(['--pairs', str(manifest), '-o', str(tmp_path / 'db'), '--workers', '1',
                           '--val-fraction', '0.1', '--no-checks'])  # round(0.1 x 3) = 0
    assert code == 0
    err = capsys.readouterr().err
    assert 'warning: the val split is empty (train 3, val 0, test 0)' in err
    assert json.loads((tmp_path / 'db' / 'build_info.json').read_text())['pairs_per_split']['val'] == 0


def test_cli_refuses_a_train_split_emptied_by_exclusion(tmp_path, capsys):
    manifest, _, _ = write_pair_set(tmp_path / 'p', good_photo_pairs(2), ext='.jpg', manifest_name='all.jsonl')
    (tmp_path / 'p' / 'images' / '1_tar.jpg').write_bytes(b'broken export')
    code = make_lmdb.main(['--pairs', str(manifest), '-o', str(tmp_path / 'db'), '--workers', '1', '--test-first', '1',
                           '--val-fraction', '0', '--exclude'])
    assert code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith('make_lmdb:')]
    assert errors == ['make_lmdb: error: the train split would be empty: train 0, val 0, test 1 of 2 pairs '
                      '(1 left out); lower --test-first/--test-list or add pairs. Nothing was written']
    assert not (tmp_path / 'db').exists() and not list(tmp_path.glob('.db*'))


def test_force_replaces_only_a_folder_an_earlier_build_wrote(pair_set, tmp_path):
    from realestate_sr.utils.output_safety import UnsafeOutputError
    _, src_dir, tar_dir = pair_set
    pairs = pairs_from_folders(src_dir, tar_dir)
    quick_lmdb(pairs, tmp_path / 'db')
    assert json.loads((tmp_path / 'db' / 'build_info.json').read_text())['written_by'] == 'make_lmdb'
    # a file the user put into the build since: --force would delete it with the old build
    (tmp_path / 'db' / 'notes.txt').write_text('mine')
    with pytest.raises(UnsafeOutputError, match=r'holds 1 entry make_lmdb did not write \(notes.txt\)'):
        quick_lmdb(pairs, tmp_path / 'db', force=True)
    assert (tmp_path / 'db' / 'notes.txt').read_text() == 'mine'
    # a folder no build wrote: refused, and the message does not suggest --force
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / 'photo.jpg').write_bytes(b'x')
    for force in (False, True):
        with pytest.raises(UnsafeOutputError, match='not a folder make_lmdb wrote') as caught:
            quick_lmdb(pairs, tmp_path / 'other', force=force)
        assert '--force' not in str(caught.value)
    assert (tmp_path / 'other' / 'photo.jpg').read_bytes() == b'x'
    # an empty folder made beforehand is simply filled
    (tmp_path / 'empty').mkdir()
    assert quick_lmdb(pairs, tmp_path / 'empty').split_counts['train'] == 3


def test_only_temporary_folders_a_build_names_are_cleaned_up(pair_set, tmp_path):
    _, src_dir, tar_dir = pair_set
    stale = tmp_path / '.db.partial-999999999'  # a dead build's (no such pid)
    stale.mkdir()
    users = tmp_path / '.db.partial-backup'
    users.mkdir()
    (users / 'photo.jpg').write_bytes(b'x')
    summary = quick_lmdb(pairs_from_folders(src_dir, tar_dir), tmp_path / 'db')
    assert summary.removed_partial == [str(stale)] and not stale.exists()
    assert (users / 'photo.jpg').read_bytes() == b'x'
