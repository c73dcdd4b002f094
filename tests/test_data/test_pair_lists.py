"""Where pairs come from: folders (hidden files skipped) and manifests written back with relative paths."""
from pathlib import Path

import pytest

from realestate_sr.data.pair_lists import (
    PairListError,
    PairPaths,
    load_manifest,
    pairs_from_folders,
    pairs_given,
    readable_pair_names,
    write_manifest,
)
from tests.test_data.synthetic_pairs import resolved_paths


def test_folders_skip_hidden_files(pair_set):
    _, src_dir, tar_dir = pair_set
    (src_dir / '._0.png').write_bytes(b'\0\5\26\7 macOS resource fork')  # AppleDouble file next to a photo
    (tar_dir / '.DS_Store').write_bytes(b'\0\0\0\1Bud1')
    (tar_dir / '.hidden.png').write_bytes(b'not a photo either')
    pairs = pairs_from_folders(src_dir, tar_dir)
    assert [p.name for p in pairs] == ['0.png', '1.png', '2.png']


def test_folders_still_report_a_visible_unmatched_file(pair_set):
    _, src_dir, tar_dir = pair_set
    (src_dir / '0.png').rename(src_dir / 'IMG_0.png')
    with pytest.raises(PairListError, match='2 file.*0.png, IMG_0.png'):
        pairs_from_folders(src_dir, tar_dir)


def test_write_manifest_reaches_files_outside_its_root(pair_set, tmp_path):
    _, src_dir, tar_dir = pair_set
    pairs = pairs_from_folders(src_dir, tar_dir)
    out = tmp_path / 'elsewhere' / 'deep' / 'pairs.jsonl'
    out.parent.mkdir(parents=True)
    write_manifest(pairs, out, out.parent)
    assert out.read_text().splitlines()[0] == '{"src": "../../pairs/src/0.png", "tar": "../../pairs/tar/0.png"}'
    loaded = load_manifest(out)
    assert list(map(resolved_paths, loaded)) == list(map(resolved_paths, pairs))


def test_folders_take_every_extension_the_photo_reader_takes(tmp_path):
    # one extension table for training's folders and tiled_infer: '.jpe' (a JPEG) used to be left out here only
    from realestate_sr.utils.photo_formats import format_of_suffix
    src_dir, tar_dir = tmp_path / 'src', tmp_path / 'tar'
    names = ['a.jpe', 'b.JPG', 'c.tiff', 'd.webp', 'notes.txt']
    for folder in (src_dir, tar_dir):
        folder.mkdir()
        for name in names:
            (folder / name).write_bytes(b'listed by name only')
    pairs = pairs_from_folders(src_dir, tar_dir)
    assert [p.name for p in pairs] == names[:4]
    assert [format_of_suffix(name[name.index('.'):]) for name in names] == ['JPEG', 'JPEG', 'TIFF', 'WEBP', None]


def _touch(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b'listed by name only')


def test_folders_pair_names_across_extension_case_and_editor_suffixes(tmp_path):
    src_dir, tar_dir = tmp_path / 'before', tmp_path / 'after'
    _touch(src_dir, ['IMG_1.JPG', 'IMG_2.jpg', 'IMG_3.jpg', 'IMG_4.jpg', 'IMG_5.png'])
    _touch(tar_dir, ['IMG_1.jpg', 'IMG_2-Edit.jpg', 'IMG_3_edit.jpg', 'IMG_4-edited.JPG', 'IMG_5.png'])
    pairs = pairs_from_folders(src_dir, tar_dir)
    assert [(p.name, Path(p.tar).name) for p in pairs] == [
        ('IMG_1.JPG', 'IMG_1.jpg'), ('IMG_2.jpg', 'IMG_2-Edit.jpg'), ('IMG_3.jpg', 'IMG_3_edit.jpg'),
        ('IMG_4.jpg', 'IMG_4-edited.JPG'), ('IMG_5.png', 'IMG_5.png')]
    assert all(Path(p.src).is_file() and Path(p.tar).is_file() for p in pairs)


def test_folders_refuse_two_files_that_pair_with_the_same_photo(tmp_path):
    _touch(tmp_path / 'src', ['IMG_1.jpg'])
    _touch(tmp_path / 'tar', ['IMG_1.jpg', 'IMG_1-Edit.jpg'])
    with pytest.raises(PairListError, match='IMG_1-Edit.jpg and IMG_1.jpg would both pair'):
        pairs_from_folders(tmp_path / 'src', tmp_path / 'tar')


def test_unpaired_files_are_listed_with_the_manifest_format_to_use_instead(tmp_path):
    _touch(tmp_path / 'src', [f'DSC_{i}.jpg' for i in range(8)])
    _touch(tmp_path / 'tar', [f'living_room_{i}.jpg' for i in range(8)])
    with pytest.raises(PairListError) as error:
        pairs_from_folders(tmp_path / 'src', tmp_path / 'tar')
    message = str(error.value)
    assert message.startswith('16 files') and 'DSC_0.jpg, DSC_1.jpg' in message and 'and 11 more' in message
    assert 'JSONL manifest' in message and '{"src": "...", "tar": "..."} per line' in message


def test_readable_names_leave_the_manifests_names_unless_they_climb_out_of_its_folder(tmp_path):
    kept = [PairPaths(src=str(tmp_path / 'images' / 'a.jpg'), tar='t', name='images/a.jpg')]
    assert readable_pair_names(kept) == kept
    climbing = [PairPaths(src=str(tmp_path / 'lists' / '..' / 'raw' / folder / 'a.jpg'), tar='t',
                          name=f'../raw/{folder}/a.jpg') for folder in ('l1', 'l2')]
    assert [pair.name for pair in readable_pair_names(climbing)] == ['l1/a.jpg', 'l2/a.jpg']
    # one pair, or one src listed twice: named inside its own folder, never '.'
    assert [pair.name for pair in readable_pair_names(climbing[:1] * 2)] == ['a.jpg', 'a.jpg']


def test_a_tool_is_given_manifests_or_two_folders_and_learns_where_each_pair_came_from(pair_set):
    manifest, src_dir, tar_dir = pair_set
    pairs, listed_in = pairs_given([manifest, manifest])
    assert pairs == load_manifest(manifest) * 2 and listed_in == [manifest] * len(pairs)
    assert pairs_given(src_dir=src_dir, tar_dir=tar_dir) == (pairs_from_folders(src_dir, tar_dir), None)
    for wrong in ({}, {'src_dir': src_dir}, {'manifests': [manifest], 'src_dir': src_dir, 'tar_dir': tar_dir}):
        with pytest.raises(PairListError, match='give --pairs or both --src-dir and --tar-dir'):
            pairs_given(**wrong)
