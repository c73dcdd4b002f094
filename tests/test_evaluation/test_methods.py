"""Baselines, TTA and checkpoint ensembles: the code paths behind the rows of the table."""
import cv2
import numpy as np
import pytest
import torch

import realestate_sr  # noqa: F401
from realestate_sr.data.pair_lists import load_manifest
from realestate_sr.evaluation.methods import CheckpointPredictor, auto_correct, checkpoint_label, dihedral_transforms
from realestate_sr.evaluation.runner import (
    AmbiguousPredictionError,
    PredictionFolder,
    bgr_to_rgb_float,
    evaluate_pairs,
)
from realestate_sr.evaluation.scoring import metric_options
from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.inference.settings import InferenceSettings
from realestate_sr.options import read_option_file, training_patch_size
from realestate_sr.utils.colour import linear_to_srgb, srgb_to_linear
from tests.conftest import TINY_NAFNET, randomize_

from basicsr.archs import build_network
from basicsr.metrics import calculate_metric

NO_LPIPS = metric_options(skip=('lpips',))


def tiny_predictor(seed, settings=None):
    net = randomize_(build_network({'type': 'NAFNet', **TINY_NAFNET}), scale=0.1, seed=seed).eval()
    return CheckpointPredictor(Enhancer.from_module(net, settings or InferenceSettings(tlc=False)), f'net{seed}')


def test_dihedral_transforms_are_eight_distinct_invertible_maps():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    transforms = dihedral_transforms()
    assert len(transforms) == 8
    images = []
    for forward, inverse in transforms:
        assert torch.equal(inverse(forward(x)), x)
        images.append(forward(x))
    assert torch.equal(images[0], x)
    assert len({tuple(img.shape) + tuple(img.flatten().tolist()) for img in images}) == 8


def test_tta_is_the_mean_of_the_eight_transformed_passes():
    predictor = tiny_predictor(0)
    rgb = np.random.default_rng(0).uniform(size=(24, 32, 3)).astype(np.float32)
    plain, tta = predictor.predict(rgb, tta=True)
    x = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        whole = predictor.net(x)
        manual = sum(inverse(predictor.net(forward(x).contiguous())) for forward, inverse in dihedral_transforms()) / 8
    np.testing.assert_allclose(plain, whole[0].permute(1, 2, 0).numpy(), atol=1e-5)
    np.testing.assert_allclose(tta, manual[0].permute(1, 2, 0).numpy(), atol=1e-5)
    assert np.abs(tta - plain).max() > 1e-3  # the random network is not rotation-equivariant


def test_tiled_prediction_is_close_to_the_whole_image_one():
    rgb = np.random.default_rng(1).uniform(size=(40, 56, 3)).astype(np.float32)
    whole, _ = tiny_predictor(0, InferenceSettings(tile_size=512)).predict(rgb)
    tiled, _ = tiny_predictor(0, InferenceSettings(tile_size=32, overlap=16, tile_batch=2)).predict(rgb)
    assert tiled.shape == whole.shape
    difference = np.abs(tiled - whole)
    # Close, not equal: the network's receptive field reaches past the 4 px of each overlap that blending
    # ignores, and its channel attention pools a tile, not the photo. Measured: mean 3.5e-6, max 1.5e-4, the
    # same with the pooling removed (this random net at scale 0.1 hardly reacts to it), against a mean change
    # of 0.2 from input to output.
    assert 0 < difference.max() < 5e-4 and difference.mean() < 1e-5, (difference.mean(), difference.max())


def test_ensemble_row_is_the_mean_of_its_members(eval_pairs):
    pairs = load_manifest(eval_pairs['manifest'])[:2]
    captured = {}

    def capture(index, result, src_rgb, tar_rgb, outputs):
        captured[index] = outputs

    result = evaluate_pairs(pairs, NO_LPIPS, [tiny_predictor(0), tiny_predictor(1)], tta=True, ensemble=True,
                            on_outputs=capture)
    assert result.rows == ['input', 'auto_correct', 'net0', 'net0+tta', 'net1', 'net1+tta',
                           'ensemble(2)', 'ensemble(2)+tta']
    assert not result.failures
    for outputs in captured.values():
        np.testing.assert_allclose(outputs['ensemble(2)'], (outputs['net0'] + outputs['net1']) / 2, atol=1e-6)
        np.testing.assert_allclose(outputs['ensemble(2)+tta'], (outputs['net0+tta'] + outputs['net1+tta']) / 2,
                                   atol=1e-6)
    # Different outputs, different scores: each row is measured, not copied.
    image = result.images[0]
    assert image.scores['net0']['l1'] != image.scores['net1']['l1']
    assert image.scores['ensemble(2)']['l1'] != image.scores['net0']['l1']


def test_ensemble_needs_two_checkpoints(eval_pairs):
    with pytest.raises(ValueError, match='two or more'):
        evaluate_pairs(load_manifest(eval_pairs['manifest']), NO_LPIPS, [tiny_predictor(0)], ensemble=True)


def test_identity_row_scores_the_input_itself(eval_pairs):
    pairs = load_manifest(eval_pairs['manifest'])
    result = evaluate_pairs(pairs, NO_LPIPS, baselines=('input',))
    for pair, image in zip(pairs, result.images):
        src, tar = cv2.imread(pair.src), cv2.imread(pair.tar)
        expected = calculate_metric({'img': src, 'img2': tar}, {'type': 'calculate_l1'})
        assert image.scores['input']['l1'] == expected


def test_auto_correct_removes_a_global_cast_and_underexposure():
    rng = np.random.default_rng(0)
    grey_world_scene = rng.uniform(0.05, 0.6, size=(32, 32, 3)).astype(np.float32)
    grey_world_scene[..., 1] = grey_world_scene[..., [0, 2]].mean(-1)  # channel means roughly equal
    lin = srgb_to_linear(grey_world_scene)
    lin *= 0.18 / float((lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)).mean())
    target = linear_to_srgb(lin)
    amateur = linear_to_srgb(srgb_to_linear(target) * np.array([1.3, 1.0, 0.7], np.float32) * 0.4)
    corrected = auto_correct(amateur)
    assert np.abs(corrected - target).mean() < 0.25 * np.abs(amateur - target).mean()
    means = srgb_to_linear(corrected).reshape(-1, 3).mean(0)
    assert means.max() / means.min() < 1.05


def test_checkpoint_label_names_the_experiment(tmp_path):
    assert checkpoint_label(tmp_path / 'experiments' / 'NAFNet_w64' / 'models' / 'net_g_92000.pth') == \
        'NAFNet_w64/net_g_92000'
    assert checkpoint_label(tmp_path / 'fold3.pth') == 'fold3'
    assert checkpoint_label(tmp_path / 'fold3.pth', 'params') == 'fold3@params'


def test_from_checkpoint_loads_the_saved_weights(tiny_model):
    opt_file, (checkpoint, _) = tiny_model
    option_file = read_option_file(opt_file)
    network_opt, train_size = option_file.network_opt(), training_patch_size(option_file.options)
    settings = InferenceSettings(tlc=False, train_size=train_size, device='cpu')
    saved = torch.load(checkpoint, weights_only=True)
    for param_key in (None, 'params'):
        predictor = CheckpointPredictor.from_checkpoint(network_opt, checkpoint, settings, param_key=param_key)
        expected = saved[param_key or 'params_ema']
        assert all(torch.equal(v, expected[k]) for k, v in predictor.net.state_dict().items())
        # the row names the entry that ran: params_ema by preference, else what --param-key asked for
        assert predictor.label == f'fold0/net_g_latest@{param_key or "params_ema"}'


def test_find_prediction_by_relative_path_or_stem(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'images' / '1_src.jpg').write_bytes(b'x')
    (tmp_path / 'room2.png').write_bytes(b'x')
    assert PredictionFolder(tmp_path).find('images/1_src.png') == tmp_path / 'images' / '1_src.jpg'
    assert PredictionFolder(tmp_path).find('room2.jpg') == tmp_path / 'room2.png'
    with pytest.raises(FileNotFoundError, match='room3'):
        PredictionFolder(tmp_path).find('room3.jpg')


def test_find_prediction_with_the_suffix_tiled_infer_added(tmp_path):
    for name in ('room_edit.jpg', 'room1_edit.jpg', 'room10.jpg'):
        (tmp_path / name).write_bytes(b'x')
    assert PredictionFolder(tmp_path, '_edit').find('room.jpg') == tmp_path / 'room_edit.jpg'
    assert PredictionFolder(tmp_path, '_edit').find('listing/room1.png') == tmp_path / 'room1_edit.jpg'
    # without the suffix: missing, and the message names the flag that finds it
    with pytest.raises(FileNotFoundError, match='room_edit.*--pred-suffix _edit'):
        PredictionFolder(tmp_path).find('room.jpg')
    with pytest.raises(FileNotFoundError, match=r'no output named room10_edit\.\*'):
        PredictionFolder(tmp_path, '_edit').find('room10.jpg')


def test_find_prediction_in_the_tree_tiled_infer_rebuilt(tmp_path):
    # tiled_infer -i data/src -o pred, for pairs named src/listing1/0001.jpg by their manifest
    for relative in ('listing1/0001.png', 'listing2/0001.png', 'listing2/0002.png', 'deep/er/0003.png'):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b'x')
    assert PredictionFolder(tmp_path).find('src/listing1/0001.jpg') == tmp_path / 'listing1' / '0001.png'
    assert PredictionFolder(tmp_path).find('src/listing2/0001.jpg') == tmp_path / 'listing2' / '0001.png'
    assert PredictionFolder(tmp_path).find('listing2/0002.jpg') == tmp_path / 'listing2' / '0002.png'
    assert PredictionFolder(tmp_path).find('0003.jpg') == tmp_path / 'deep' / 'er' / '0003.png'  # the only 0003.*
    # two outputs that fit equally well are an error naming both, never a guess
    with pytest.raises(AmbiguousPredictionError, match='listing1/0001.png, listing2/0001.png'):
        PredictionFolder(tmp_path).find('0001.jpg')
    (tmp_path / 'listing1' / '0001.jpg').write_bytes(b'x')
    with pytest.raises(AmbiguousPredictionError, match='2 outputs'):
        PredictionFolder(tmp_path).find('src/listing1/0001.jpg')


def test_bgr_to_rgb_float():
    bgr = np.array([[[0, 128, 255]]], np.uint8)
    np.testing.assert_allclose(bgr_to_rgb_float(bgr), [[[1.0, 128 / 255, 0.0]]])
