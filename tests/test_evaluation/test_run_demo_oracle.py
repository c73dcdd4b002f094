"""The demo's oracle row: a global LUT fitted per held-out pair, written where evaluate.py's --pred finds it, and
never over a folder the demo did not write."""
import importlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from realestate_sr.evaluation.runner import PredictionFolder
from realestate_sr.utils.colour import to_bgr_uint8
from realestate_sr.utils.output_safety import UnsafeOutputError

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'scripts'))
run_demo = importlib.import_module('run_demo')


@pytest.fixture
def held_out(tmp_path):
    """Two pairs whose target is a global colour map of the source (what the oracle can fit exactly)."""
    rng = np.random.default_rng(0)
    (tmp_path / 'images').mkdir()
    rows = []
    for name in ('a', 'b'):
        src = rng.uniform(0.1, 0.8, (40, 56, 3)).astype(np.float32)
        tar = np.clip(src ** 0.7 * np.array([1.05, 1.0, 0.9], np.float32), 0, 1)
        for kind, img in (('src', src), ('tar', tar)):
            cv2.imwrite(str(tmp_path / 'images' / f'{name}_{kind}.png'), to_bgr_uint8(img))
        rows.append({'src': f'images/{name}_src.png', 'tar': f'images/{name}_tar.png'})
    (tmp_path / 'val.jsonl').write_text(''.join(json.dumps(row) + '\n' for row in rows))
    return tmp_path


def test_the_oracle_fits_each_target_and_evaluate_finds_its_outputs(held_out, tmp_path):
    out = tmp_path / 'results' / 'oracle_lut'
    assert run_demo.write_oracle_outputs(held_out / 'val.jsonl', held_out, out) == 2
    for name in ('a', 'b'):
        found = PredictionFolder(out).find(f'images/{name}_src.png')
        assert found == out / 'images' / f'{name}_src.png'
        target = cv2.imread(str(held_out / 'images' / f'{name}_tar.png')).astype(np.float32)
        source = cv2.imread(str(held_out / 'images' / f'{name}_src.png')).astype(np.float32)
        oracle = cv2.imread(str(found)).astype(np.float32)
        assert np.abs(oracle - target).mean() < 0.2 * np.abs(source - target).mean()
    assert run_demo.write_oracle_outputs(held_out / 'val.jsonl', held_out, out) == 2  # its own folder: replaced
    assert not [p for p in out.parent.iterdir() if p.name.startswith('.')]  # no temporary left


def test_a_folder_the_demo_did_not_write_is_refused_and_kept(held_out, tmp_path):
    out = tmp_path / 'mine'
    out.mkdir()
    (out / 'notes.txt').write_text('keep me')
    with pytest.raises(UnsafeOutputError):
        run_demo.write_oracle_outputs(held_out / 'val.jsonl', held_out, out)
    assert (out / 'notes.txt').read_text() == 'keep me' and len(list(out.iterdir())) == 1
