"""The demo set is the real task in small: amateur captures of each photo as sources, one house style of the
photo as the target; an outdated set is rebuilt, still never over files the script did not write."""
import importlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from realestate_sr.benchmark.styles import style

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'scripts'))
make_demo_data = importlib.import_module('make_demo_data')
ARGV = ['--train-variants', '2', '--val-variants', '1']


def read_rgb(path):
    return cv2.imread(str(path))[:, :, ::-1].astype(np.float32) / 255.0


@pytest.fixture(scope='module')
def demo_set(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo') / 'demo'
    assert make_demo_data.main(ARGV + ['-o', str(out)]) == 0
    return out


def test_targets_are_the_house_style_of_the_photo_and_sources_are_captures_of_it(demo_set):
    rows = [json.loads(line) for line in (demo_set / 'train.jsonl').read_text().splitlines()]
    astronaut = [row for row in rows if row['scene'] == 'astronaut']
    assert len(astronaut) == 2
    photo = make_demo_data.read_rgb(make_demo_data.skimage_data_dir() / 'astronaut.png')
    styled = style(make_demo_data.DEFAULT_STYLE).apply_style(photo)
    targets = [read_rgb(demo_set / row['tar']) for row in astronaut]
    np.testing.assert_array_equal(targets[0], targets[1])  # one target per photo, whatever the capture
    assert np.abs(targets[0] - styled).mean() < 0.01  # the style, up to JPEG q95
    assert np.abs(targets[0] - photo).mean() > 0.05  # not the photo itself
    sources = [read_rgb(demo_set / row['src']) for row in astronaut]
    assert np.abs(sources[0] - sources[1]).mean() > 0.01  # a new capture per variant
    assert sources[0].mean() < photo.mean()  # amateur captures are under-exposed
    info = json.loads((demo_set / 'build_info.json').read_text())
    assert info['style'] == 'bright_airy' and info['format_version'] == make_demo_data.FORMAT_VERSION
    assert info['style_recipe']['chroma_scale'] == style('bright_airy').RECIPE['chroma_scale']


@pytest.mark.slow  # four builds of the set: about 20 s
def test_a_current_set_is_kept_and_an_outdated_one_rebuilt_but_never_over_a_users_file(tmp_path, capsys):
    out = tmp_path / 'demo'
    assert make_demo_data.main(ARGV + ['-o', str(out)]) == 0
    before = (out / 'build_info.json').read_text()
    assert make_demo_data.main(ARGV + ['-o', str(out)]) == 0
    assert 'keeping it' in capsys.readouterr().out and (out / 'build_info.json').read_text() == before

    info = json.loads(before)
    info.pop('format_version')  # a set from before the style targets
    (out / 'build_info.json').write_text(json.dumps(info))
    assert make_demo_data.main(ARGV + ['-o', str(out)]) == 0
    assert 'rebuilding' in capsys.readouterr().out
    assert json.loads((out / 'build_info.json').read_text())['format_version'] == make_demo_data.FORMAT_VERSION

    assert make_demo_data.main(ARGV + ['--style', 'warm_natural', '-o', str(out)]) == 0  # another style: rebuilt
    assert json.loads((out / 'build_info.json').read_text())['style'] == 'warm_natural'
    (out / 'my_notes.txt').write_text('keep me')
    capsys.readouterr()
    assert make_demo_data.main(ARGV + ['-o', str(out)]) == 2  # outdated again, but holds a user's file
    assert 'my_notes.txt' in capsys.readouterr().err
    assert (out / 'my_notes.txt').read_text() == 'keep me'
    assert json.loads((out / 'build_info.json').read_text())['style'] == 'warm_natural'
