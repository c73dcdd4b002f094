"""--strength in tiled_infer.py: the photos it writes, the lines that name it, the refusal of a bad one."""
import logging

import numpy as np
from PIL import Image


def write_photos(folder, count=2):
    folder.mkdir()
    rng = np.random.default_rng(0)
    arrays = {}
    for index in range(count):
        array = (rng.random((40, 52, 3)) * 255).astype(np.uint8)
        Image.fromarray(array).save(folder / f'room{index}.png')
        arrays[f'room{index}'] = array
    return arrays


def test_tiled_infer_at_strength_zero_writes_the_input_photos(run_infer, tmp_path):
    arrays = write_photos(tmp_path / 'in')
    code, out = run_infer(tmp_path / 'in', tmp_path / 'zero', '--format', 'png', '--strength', 0)
    assert code == 0
    assert 'strength 0 ' in out and 'enhanced 2 at strength 0,' in out
    for stem, array in arrays.items():
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / 'zero' / f'{stem}.png')), array)
    code, _ = run_infer(tmp_path / 'in', tmp_path / 'full', '--format', 'png')
    assert code == 0
    assert any(np.abs(np.asarray(Image.open(tmp_path / 'full' / f'{stem}.png'), dtype=int) - array).max() > 10
               for stem, array in arrays.items()), 'at strength 1 the network edits'


def test_tiled_infer_refuses_a_strength_outside_zero_to_one_in_one_line(run_infer, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger('tiled_infer'), 'handlers', [caplog.handler])
    write_photos(tmp_path / 'in', 1)
    code, _ = run_infer(tmp_path / 'in', tmp_path / 'out', '--strength', 1.5)
    assert code == 2
    (error, ) = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert 'strength must be a number in [0, 1], got 1.5' in error and '\n' not in error
    assert not any((tmp_path / 'out').glob('*.jpg'))
