"""Whole-photo networks through the same command lines as NAFNet: tiled_infer, evaluate, export_onnx.

A tiny random BilateralGridNet (+ global LUT) checkpoint and its option file; the checks: tiles asked for by
a caller change nothing (the network sees the whole photo, one pass), the ONNX graph runs whole photos too.
"""
import json

import cv2
import numpy as np
import pytest
import torch
import yaml

from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.inference.settings import InferenceSettings
from tests.conftest import randomize_
from tests.test_data.synthetic_pairs import write_pair_set
from tests.test_evaluation.conftest import amateur_version, make_target
from tests.test_inference.conftest import load_script

from basicsr.archs import build_network

TINY_GRID = {'type': 'BilateralGridNet', 'thumb_size': 32, 'width': 8, 'levels': 2, 'max_width': 16,
             'grid_depth': 4, 'guide_hidden': 4, 'lut_basis': 2, 'lut_size': 5}


@pytest.fixture(scope='module')
def grid_model(tmp_path_factory):
    """(option file, checkpoint, net): a randomised network that visibly edits, saved as BasicSR saves it."""
    folder = tmp_path_factory.mktemp('grid')
    net = randomize_(build_network(dict(TINY_GRID)), scale=0.1, seed=3).eval()
    with torch.no_grad():
        net.lut.residual.mul_(3)
    checkpoint = folder / 'net_g_latest.pth'
    torch.save({'params': net.state_dict(), 'params_ema': net.state_dict()}, checkpoint)
    opt_file = folder / 'grid.yml'
    opt_file.write_text(yaml.safe_dump({'network_g': TINY_GRID, 'datasets': {'train': {'gt_size': 32}},
                                        'val': {'tile': {'size': 48, 'overlap': 16, 'batch': 2}}}))
    return opt_file, checkpoint, net


def photo(height=90, width=130, seed=0):
    return (make_target(height, width, seed)[..., ::-1] / 255.0).astype(np.float32)  # RGB float


def test_tiles_asked_for_change_nothing(grid_model):
    _, checkpoint, net = grid_model
    rgb = photo()
    with torch.no_grad():
        expected = net(torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None])[0].permute(1, 2, 0).numpy()
    assert np.abs(expected - rgb).max() > 0.05, 'the network edits: the equality below means something'
    for tile_size in (None, 48):
        settings = InferenceSettings(tile_size=tile_size, overlap=16, tile_batch=2, device='cpu')
        enhancer = Enhancer.from_checkpoint(TINY_GRID, checkpoint, settings)
        assert not enhancer.tiles
        # the settings line says what runs: one pass over the whole photo, whatever tiles were asked for
        assert enhancer.settings.describe().startswith('on whole photos, TLC off, fp32 (')
        np.testing.assert_allclose(enhancer.run_photo(rgb), expected, atol=1e-5)


def test_tiled_infer_writes_the_same_photo_with_and_without_tiles(grid_model, tmp_path, capsys):
    opt_file, checkpoint, _ = grid_model
    tiled_infer = load_script('tiled_infer')
    source = tmp_path / 'in'
    source.mkdir()
    cv2.imwrite(str(source / 'room.png'), make_target(90, 130, 1))
    outputs = {}
    for tile_size in (0, 48):
        out = tmp_path / f'out{tile_size}'
        code = tiled_infer.main(['-i', str(source), '-o', str(out), '--model', str(checkpoint), '--opt',
                                 str(opt_file), '--format', 'png', '--tile-size', str(tile_size), '--device', 'cpu'])
        printed = capsys.readouterr()
        assert code == 0, printed
        assert 'runs on whole photos, TLC off, fp32 (' in printed.out  # not the 48 px tiles asked for
        outputs[tile_size] = cv2.imread(str(out / 'room.png'))
    assert outputs[0] is not None and np.array_equal(outputs[0], outputs[48])
    assert np.abs(outputs[0].astype(int) - cv2.imread(str(source / 'room.png')).astype(int)).max() > 10


def test_evaluate_scores_the_same_with_and_without_tiles(grid_model, tmp_path):
    opt_file, checkpoint, _ = grid_model
    evaluate = load_script('evaluate')
    targets = [make_target(60, 80, 4), make_target(50, 70, 5)]
    manifest, _, _ = write_pair_set(tmp_path / 'data', [(amateur_version(tar), tar) for tar in targets],
                                    folder_names=['a.png', 'b.png'], manifest_name='val.jsonl')
    scores = {}
    for tile_size in (0, 48):
        out = tmp_path / f'report{tile_size}'
        code = evaluate.main(['--pairs', str(manifest), '--opt', str(opt_file), '--model', str(checkpoint),
                              '--tile-size', str(tile_size), '--skip-lpips', '--no-html', '--baselines', '',
                              '-o', str(out), '--quiet', '--device', 'cpu'])
        assert code == 0
        document = json.loads((out / 'metrics.json').read_text())
        assert document['config']['tile']['size'] == 0 and document['config']['tlc'] is False  # what ran
        scores[tile_size] = document['rows'][0]['mean']
    assert scores[0]['psnr'] == pytest.approx(scores[48]['psnr'], abs=1e-6)
    assert scores[0]['l1'] == pytest.approx(scores[48]['l1'], abs=1e-7)


def test_exported_graph_runs_whole_photos_even_when_tiles_are_asked_for(grid_model, tmp_path):
    opt_file, checkpoint, net = grid_model
    export = load_script('export_onnx')
    graph = tmp_path / 'grid.onnx'
    assert export.main(['--model', str(checkpoint), '--opt', str(opt_file), '-o', str(graph)]) == 0
    rgb = photo(seed=2)
    with torch.no_grad():
        expected = net(torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None])[0].permute(1, 2, 0).numpy()
    asked = InferenceSettings(tile_size=48, overlap=16, tlc=True, precision='bf16', channels_last=True, device='cpu')
    enhancer = Enhancer.from_onnx(graph, asked)
    # each tile would make its own thumbnail and edit itself on its own: the graph must see the whole photo
    assert not enhancer.tiles
    # the settings line says what runs: one pass over the whole photo, no TLC, float32, whatever was asked for
    assert enhancer.settings.describe().startswith('on whole photos, TLC off, fp32 (')
    np.testing.assert_allclose(enhancer.run_photo(rgb), expected, atol=1e-4)
