"""Edit strength through the Enhancer: the edit scaled for whole-photo networks (PyTorch and ONNX), a pixel
blend for the others, and one refusal for graphs exported before it."""
import numpy as np
import pytest
import torch

from realestate_sr.archs.network_loading import build_inference_network
from realestate_sr.archs.whole_photo_ops import StrengthError
from realestate_sr.inference import onnx_export, onnx_runner
from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.inference.settings import InferenceSettings, SettingsError
from tests.conftest import TINY_NAFNET, randomize_
from tests.test_archs.test_whole_photo_export import WHOLE_PHOTO_OPTS, editing_network

TILED = InferenceSettings(tile_size=32, overlap=8, tile_batch=4, tlc=False, device='cpu')
GRID_LUT = WHOLE_PHOTO_OPTS[2]  # a LUT then a grid: the edit's blend is not the pixel blend


def photo(seed, height=40, width=56):
    return np.random.default_rng(seed).random((height, width, 3), dtype=np.float32)


def test_settings_refuse_a_strength_outside_zero_to_one_and_describe_one_below_one():
    for bad in (-0.5, 1.01, float('nan')):
        with pytest.raises(SettingsError, match=r'strength must be a number in \[0, 1\]'):
            InferenceSettings(strength=bad)
    assert 'strength 0.3' in InferenceSettings(strength=0.3).describe()
    assert 'strength' not in InferenceSettings().describe()
    assert InferenceSettings().overridden(strength=0.5).strength == 0.5


def test_a_tiled_network_is_blended_pixel_by_pixel_with_its_input():
    net = randomize_(build_inference_network(dict(TINY_NAFNET, type='NAFNet')), scale=0.1)
    enhancer = Enhancer.from_module(net, TILED)
    rgb = photo(0)
    full = enhancer.run_photo(rgb)
    assert np.abs(full - rgb).max() > 0.05
    np.testing.assert_array_equal(enhancer.run_photo(rgb, strength=0.0), rgb)
    np.testing.assert_allclose(enhancer.run_photo(rgb, strength=0.25), 0.75 * rgb + 0.25 * full, atol=1e-6)
    at_settings = Enhancer.from_module(net, InferenceSettings(**{**TILED.__dict__, 'strength': 0.25}))
    np.testing.assert_allclose(at_settings.run_photo(rgb), 0.75 * rgb + 0.25 * full, atol=1e-6)
    together = enhancer.run_photos([rgb, photo(1)], strengths=[0.0, 1.0])
    np.testing.assert_array_equal(together[0], rgb)
    np.testing.assert_allclose(together[1], enhancer.run_photo(photo(1)), atol=2e-5)


def test_a_whole_photo_network_runs_its_edit_at_each_photos_strength():
    net = editing_network(GRID_LUT)
    enhancer = Enhancer.from_module(net, InferenceSettings(device='cpu'))
    rgb = photo(2)
    tensor = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        expected = net(tensor, strength=0.5)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(enhancer.run_photo(rgb, strength=0.5), expected, atol=1e-6)
    pixel_blend = 0.5 * rgb + 0.5 * enhancer.run_photo(rgb)
    assert np.abs(expected - pixel_blend).max() > 1e-3, 'the edit is scaled, not the pixels blended'
    np.testing.assert_allclose(enhancer.run_photo(rgb, strength=0.0), rgb, atol=1e-6)
    calls = []
    together = enhancer.run_photos([rgb, photo(3), rgb], on_call=calls.append, strengths=[0.5, 1.0, 0.0])
    assert calls == [3], 'photos of one size share one call whatever their strengths'
    np.testing.assert_allclose(together[0], expected, atol=1e-5)
    np.testing.assert_allclose(together[1], enhancer.run_photo(photo(3)), atol=1e-5)
    np.testing.assert_allclose(together[2], rgb, atol=1e-6)
    with pytest.raises(StrengthError, match=r'\[0, 1\]'):
        enhancer.run_photo(rgb, strength=2)


def test_the_exported_graph_takes_the_strength_and_keeps_parity_in_bands(tmp_path):
    net = editing_network(GRID_LUT)
    path = onnx_export.export_onnx(net, tmp_path / 'net.onnx', network_opt=GRID_LUT)
    session = onnx_runner.load_onnx_session(path)
    assert session.takes_strength
    sizes = ((1, 3, 70, 100), (2, 3, 37, 61))
    for strength in (0.0, 0.5, 1.0):
        assert onnx_runner.max_onnx_difference(net, session, sizes, band_pixels=1000, strength=strength) < 1e-4
    enhancer = Enhancer.from_onnx(path, InferenceSettings(device='cpu', strength=0.5))
    rgb = photo(4)
    by_torch = Enhancer.from_module(net, InferenceSettings(device='cpu', strength=0.5)).run_photo(rgb)
    np.testing.assert_allclose(enhancer.run_photo(rgb), by_torch, atol=1e-4)
    np.testing.assert_allclose(enhancer.run_photo(rgb, strength=0.0), rgb, atol=1e-5)


class GraphBeforeStrength(onnx_export.WholePhotoGraph):
    """The graph as export_onnx wrote it before edit strength: the encoder has no strength input."""

    def forward(self, src, box, thumb, strength, *edit_in):
        return (self.net.apply_edit(src, box, *edit_in), *self.net.photo_edit(thumb))


def test_a_graph_exported_before_strength_runs_strength_one_and_refuses_others_in_one_line(tmp_path, monkeypatch):
    net = editing_network(WHOLE_PHOTO_OPTS[0])
    monkeypatch.setattr(onnx_export, 'WholePhotoGraph', GraphBeforeStrength)
    path = onnx_export.export_onnx(net, tmp_path / 'old.onnx', network_opt=WHOLE_PHOTO_OPTS[0])
    monkeypatch.undo()
    enhancer = Enhancer.from_onnx(path, InferenceSettings(device='cpu'))
    assert not onnx_runner.load_onnx_session(path).takes_strength
    rgb = photo(5)
    assert np.abs(enhancer.run_photo(rgb) - rgb).max() > 0.05
    with pytest.raises(StrengthError, match='re-export it with scripts/export_onnx.py'):
        enhancer.run_photo(rgb, strength=0.5)
    with pytest.raises(SettingsError, match='exported before edit strength') as refused:
        Enhancer.from_onnx(path, InferenceSettings(device='cpu', strength=0.5))
    assert '\n' not in str(refused.value)
