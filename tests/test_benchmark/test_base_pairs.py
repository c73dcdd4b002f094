"""Base pairs: benchmark sources of the given photos only, every training capture family, targets a procedural
house's edit of what the capture framed, a house index per line, written atomically and reused."""
import json
import shutil

import numpy as np
import pytest

from realestate_sr.benchmark.base_pairs import (
    BASE_TASK,
    MANIFEST,
    BasePairsError,
    houses_of_photo,
    write_base_pairs,
)
from realestate_sr.benchmark.build import BenchSettings, build_bench, read_photo, task_manifest
from realestate_sr.benchmark.photo_sources import load_source_list
from realestate_sr.benchmark.style_random import apply_house, random_houses
from realestate_sr.utils.output_safety import UnsafeOutputError
from tests.test_benchmark.conftest import TINY_SIDE

HOUSES, PER_PHOTO = 5, 2


@pytest.fixture
def bench(tmp_path, source_list):
    return build_bench(tmp_path / 'bench', load_source_list(source_list), tmp_path / 'cache',
                       BenchSettings(max_side=TINY_SIDE, variants=1, styles=('none', 'listing_hdr')),
                       log=lambda _: None).out


def read_manifest(path):
    return [json.loads(line) for line in path.read_text(encoding='utf-8').splitlines()]


def test_pairs_of_the_given_photos_only_with_each_photos_houses_and_targets_of_what_was_framed(tmp_path, bench):
    photos = ['astronaut', 'coffee']
    for row in read_manifest(task_manifest(bench, 'none')):  # photos never passed in are never read
        if row['photo'] not in photos:
            for name in (row['src'], row['tar']):
                (bench / name).write_bytes(b'not a jpeg')
    result = write_base_pairs(bench, photos, HOUSES, tmp_path / 'base', houses_per_photo=PER_PHOTO)
    rows = read_manifest(result.out / MANIFEST)
    assert not result.reused and result.pairs == len(rows) == 2 * 3 * PER_PHOTO  # 3 training families, 1 variant
    assert {row['photo'] for row in rows} == set(photos) and {row['task'] for row in rows} == {BASE_TASK}
    assert {row['family'] for row in rows} == {'amateur', 'camera_pipeline', 'camera_jpeg'}
    houses = random_houses(HOUSES)
    framing = {row['src']: row for row in read_manifest(task_manifest(bench, 'none'))}
    for row in rows:
        assert row['house'] in houses_of_photo(row['photo'], HOUSES, PER_PHOTO)
        original = framing[f'images/src/{row["family"]}/{row["src"].split("__", 1)[1]}']
        source, target = read_photo(result.out / row['src']), read_photo(result.out / row['tar'])
        np.testing.assert_array_equal(source, read_photo(bench / original['src']))
        assert target.shape == source.shape  # a cropping capture's target is its crop, edited
        expected = apply_house(read_photo(bench / original['tar']), houses[row['house']])
        assert np.abs(target - expected).mean() < 0.02  # JPEG 95
        assert row['params'] == original['params'] and row['scene'] == original['scene']
    assert len({row['house'] for row in rows}) > 1


def test_a_photos_houses_depend_on_its_name_alone_and_all_are_used_when_asked_for_as_many():
    assert houses_of_photo('coffee', 48, 6) == houses_of_photo('coffee', 48, 6)
    assert len(set(houses_of_photo('coffee', 48, 6))) == 6 and houses_of_photo('coffee', 48, 6) != \
        houses_of_photo('rocket', 48, 6)
    assert houses_of_photo('coffee', 4, 6) == [0, 1, 2, 3]


def test_the_same_settings_reuse_the_folder_other_settings_replace_it_and_a_foreign_file_stops_it(tmp_path, bench):
    out = tmp_path / 'base'
    first = write_base_pairs(bench, ['coffee'], HOUSES, out, houses_per_photo=PER_PHOTO)
    stamp = (out / MANIFEST).stat().st_mtime_ns
    again = write_base_pairs(bench, ['coffee'], HOUSES, out, houses_per_photo=PER_PHOTO)
    assert again.reused and again.pairs == first.pairs and (out / MANIFEST).stat().st_mtime_ns == stamp
    more = write_base_pairs(bench, ['coffee'], HOUSES, out, houses_per_photo=3)
    assert not more.reused and more.pairs == 3 * 3
    assert not list(tmp_path.glob('.base.partial-*'))  # the temporary folder was renamed
    (out / 'notes.txt').write_text('mine')
    with pytest.raises(UnsafeOutputError, match='notes.txt'):
        write_base_pairs(bench, ['coffee'], HOUSES, out, houses_per_photo=1)
    assert (out / 'notes.txt').is_file()


def test_a_benchmark_without_the_none_task_or_a_photo_it_lacks_is_refused(tmp_path, bench):
    with pytest.raises(BasePairsError, match='no training captures'):
        write_base_pairs(bench, ['coffee', 'no_such_photo'], HOUSES, tmp_path / 'base')
    with pytest.raises(BasePairsError, match='at least 1'):
        write_base_pairs(bench, ['coffee'], 0, tmp_path / 'base')
    copy = tmp_path / 'no_none'
    shutil.copytree(bench, copy)
    task_manifest(copy, 'none').unlink()
    with pytest.raises(BasePairsError, match="'none' task"):
        write_base_pairs(copy, ['coffee'], HOUSES, tmp_path / 'base')
    assert not (tmp_path / 'base').exists()
