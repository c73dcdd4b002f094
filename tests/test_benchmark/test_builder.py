"""The benchmark builder on a tiny local source set: licences, reserved packages, idempotence, interrupted builds,
tasks (one house style, every capture family; shared sources), offline package cache, and the CLI's exit codes."""
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from realestate_sr.benchmark import capture_amateur
from realestate_sr.benchmark.build import (
    PARTIAL_PREFIX,
    BenchExistsError,
    BenchSettings,
    build_bench,
    task_manifest,
)
from realestate_sr.benchmark.families import capture_families
from realestate_sr.benchmark.photo_sources import (
    PackageCache,
    PhotoSource,
    ReservedSourceError,
    SourceFetchError,
    check_sources,
    default_sources,
    load_source_list,
)
from realestate_sr.benchmark.styles import style, style_names
from realestate_sr.data.pair_lists import load_manifest
from tests.test_benchmark.conftest import TINY_SIDE, local_entry, skimage_data_dir, write_source_list

REPO = Path(__file__).resolve().parents[2]


def tiny_settings(**overrides):
    values = dict(max_side=TINY_SIDE, variants=1)
    values.update(overrides)
    return BenchSettings(**values)


def build(tmp_path, source_list, **kwargs):
    settings = kwargs.pop('settings', tiny_settings())
    return build_bench(tmp_path / 'bench', load_source_list(source_list), tmp_path / 'cache', settings,
                       log=lambda _: None, **kwargs)


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def test_build_records_licences_and_writes_manifests_the_dataset_reads(tmp_path, source_list):
    result = build(tmp_path, source_list)
    out = result.out
    assert not result.reused
    photos = json.loads((out / 'photos.json').read_text())
    assert {p['id'] for p in photos} == {'astronaut', 'chelsea', 'coffee', 'rocket', 'chelsea_again'}
    for record in photos:
        assert record['licence'] and record['package'] == 'local' and len(record['sha256']) == 64
        assert (out / record['licence_copy']).is_file()  # the licence text travels with the photos
        assert max(record['width'], record['height']) == TINY_SIDE
    pairs = load_manifest(task_manifest(out, 'none'))  # what PairedListingDataset and make_lmdb.py read
    assert pairs and all(Path(p.src).is_file() and Path(p.tar).is_file() for p in pairs)
    for row in read_jsonl(task_manifest(out, 'none')):
        assert row['params'] and row['seed'] and row['family'] and row['task'] == 'none'
    info = json.loads((out / 'build_info.json').read_text())
    assert info['pairs']['none'] == len(pairs) and info['tasks'] == style_names()


def test_every_task_pairs_the_shared_captures_with_its_own_style_of_the_framed_photo(tmp_path, source_list):
    side = 400  # camera_pipeline crops to at least 288 px: a larger photo than the other tests' so that it crops
    out = build(tmp_path, source_list, settings=tiny_settings(max_side=side)).out
    tasks = {name: read_jsonl(task_manifest(out, name)) for name in style_names()}
    assert len(tasks) >= 2
    sources = {name: [row['src'] for row in rows] for name, rows in tasks.items()}
    first = next(iter(sources.values()))
    assert all(found == first for found in sources.values())  # one set of sources for every task
    assert len(first) == len(set(first)) == 5 * len(capture_families())  # photos x captures
    for name, rows in tasks.items():
        assert {row['family'] for row in rows} == set(capture_families())
        assert all(row['task'] == name and row['tar'].startswith(f'images/tar/{name}/') for row in rows)
    photos = {p['id']: p for p in json.loads((out / 'photos.json').read_text())}
    rows = tasks['listing_hdr']
    whole = [row for row in rows if row['tar'] == f'images/tar/listing_hdr/{row["photo"]}.jpg']
    assert len({row['tar'] for row in whole}) == 5  # one target per photo for the captures that keep the frame
    cropped = [row for row in rows if row not in whole]
    assert cropped and all(row['family'] == 'camera_pipeline' for row in cropped)
    import cv2
    import numpy as np
    for row in cropped[:2]:
        top, left, height, width = row['params']['crop_top_left_height_width']
        target = cv2.imread(str(out / row['tar']))[:, :, ::-1].astype(np.float32) / 255.0
        none_row = next(r for r in tasks['none'] if r['src'] == row['src'])
        framed = cv2.imread(str(out / none_row['tar']))[:, :, ::-1].astype(np.float32) / 255.0
        assert target.shape[:2] == (height, width) == framed.shape[:2]
        expected = style('listing_hdr').apply_style(framed)  # the house edits the framed photo
        assert np.abs(target - expected).mean() < 0.02
    assert max(photos[row['photo']]['width'], photos[row['photo']]['height']) == side


def test_a_second_build_reuses_the_folder_and_other_settings_need_force(tmp_path, source_list):
    first = build(tmp_path, source_list)
    manifest = task_manifest(first.out, 'none')
    stamp = manifest.stat().st_mtime_ns
    second = build(tmp_path, source_list)
    assert second.reused and manifest.stat().st_mtime_ns == stamp
    with pytest.raises(BenchExistsError, match='--force'):
        build(tmp_path, source_list, settings=tiny_settings(seed=1))
    rebuilt = build(tmp_path, source_list, settings=tiny_settings(seed=1), force=True)
    assert not rebuilt.reused
    assert json.loads((rebuilt.out / 'build_info.json').read_text())['settings']['seed'] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.bench')] == []


def test_builds_are_deterministic(tmp_path, source_list):
    a = build(tmp_path / 'a', source_list).out
    b = build(tmp_path / 'b', source_list).out
    assert task_manifest(a, 'listing_hdr').read_text() == task_manifest(b, 'listing_hdr').read_text()
    for row in read_jsonl(task_manifest(a, 'listing_hdr'))[:4]:
        assert (a / row['src']).read_bytes() == (b / row['src']).read_bytes()
        assert (a / row['tar']).read_bytes() == (b / row['tar']).read_bytes()


def test_an_interrupted_build_leaves_nothing(tmp_path, source_list, monkeypatch):
    calls = []

    def failing_make_pair(photo, rng):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as Ctrl-C in the middle of the build
        return real(photo, rng)

    real = capture_amateur.make_pair
    monkeypatch.setattr(capture_amateur, 'make_pair', failing_make_pair)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path, source_list)
    assert calls == [1, 1, 1]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != 'cache') == ['sources.json']


def test_a_stale_partial_folder_from_a_killed_build_is_removed(tmp_path, source_list):
    stale = tmp_path / f'.bench{PARTIAL_PREFIX}12345'
    (stale / 'images').mkdir(parents=True)
    build(tmp_path, source_list)
    assert not stale.exists() and (tmp_path / 'bench' / 'build_info.json').is_file()


@pytest.mark.parametrize('package, root', [('mate-backgrounds', None), ('lomiri-wallpapers-20.04', None),
                                           ('plasma-workspace-wallpapers', None), ('opencv-doc', None),
                                           ('local', 'usr/share/plasma-workspace-wallpapers')])
def test_reserved_packages_are_refused_before_anything_is_fetched(tmp_path, package, root):
    entry = local_entry('x', 'a.jpg', 'CC0', root or tmp_path)
    if package != 'local':
        entry.update(source='debian', package=package, version='1.0')
    sources = write_source_list(tmp_path / 'reserved.json', [entry])
    with pytest.raises(ReservedSourceError, match='reserved'):
        build(tmp_path, sources)
    assert not (tmp_path / 'cache').exists() and not (tmp_path / 'bench').exists()


def test_the_default_sources_are_pinned_licensed_and_not_reserved():
    usable, skipped = check_sources(default_sources())
    assert len(usable) >= 30 and not skipped
    for photo in usable:
        assert photo.version and photo.licence and photo.licence_file
        assert photo.source in ('pypi', 'debian')


def test_photos_without_a_clear_licence_are_skipped(tmp_path, source_list):
    entries = json.loads(source_list.read_text())['photos']
    entries.append(local_entry('unclear', 'coffee.png', 'unclear', skimage_data_dir()))
    result = build(tmp_path, write_source_list(tmp_path / 'with_unclear.json', entries))
    assert result.skipped == [('unclear', 'licence unclear')]
    assert 'unclear' not in {p['id'] for p in json.loads((result.out / 'photos.json').read_text())}


def test_a_cached_wheel_is_read_offline(tmp_path):
    """A wheel already in the cache is opened without pip: the second build of the benchmark is offline."""
    wheel_dir = tmp_path / 'cache' / 'pypi' / 'photo-pkg-1.0'
    wheel_dir.mkdir(parents=True)
    with zipfile.ZipFile(wheel_dir / 'photo_pkg-1.0-py3-none-any.whl', 'w') as archive:
        archive.write(skimage_data_dir() / 'coffee.png', 'photo_pkg/coffee.png')
    photo = PhotoSource(id='c', source='pypi', package='photo-pkg', version='1.0', file='photo_pkg/coffee.png',
                        licence='CC0', licence_file='photo_pkg/coffee.png', scene='c', why='test')
    path = PackageCache(tmp_path / 'cache').path(photo, photo.file)
    assert path.read_bytes() == (skimage_data_dir() / 'coffee.png').read_bytes()
    with pytest.raises(SourceFetchError, match='no readable'):
        PackageCache(tmp_path / 'cache').path(photo, 'photo_pkg/missing.png')


def run_cli(*args):
    return subprocess.run([sys.executable, str(REPO / 'scripts' / 'make_bench_data.py'), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # two fresh processes that import torch and basicsr
def test_cli_builds_and_exits_2_with_one_line_when_a_source_cannot_be_fetched(tmp_path, source_list):
    out = tmp_path / 'bench'
    common = ['--sources', str(source_list), '-o', str(out), '--cache', str(tmp_path / 'cache'),
              '--max-side', str(TINY_SIDE), '--variants', '1', '-q']
    first = run_cli(*common)
    assert first.returncode == 0, first.stderr
    assert 'benchmark built' in first.stdout and task_manifest(out, 'none').is_file()
    entries = json.loads(source_list.read_text())['photos']
    missing = write_source_list(tmp_path / 'missing.json',
                                entries + [local_entry('gone', 'no_such_photo.jpg', 'CC0', skimage_data_dir())])
    failed = run_cli('--sources', str(missing), '-o', str(tmp_path / 'other'), '--cache', str(tmp_path / 'cache'))
    assert failed.returncode == 2 and failed.stderr.count('\n') == 1 and 'no_such_photo.jpg' in failed.stderr
    assert not (tmp_path / 'other').exists()
