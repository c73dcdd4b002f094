"""ONNX export parity and the ONNX Runtime backend through the shared tiler."""
import numpy as np
import pytest
import torch
from PIL import Image

from realestate_sr.archs.network_loading import build_inference_network
from realestate_sr.inference import onnx_export, onnx_runner
from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.inference.settings import InferenceSettings
from tests.conftest import TINY_NAFNET, randomize_
from tests.test_inference.conftest import TINY_FLAGS
from tests.test_inference.photo_makers import encode_pil, smooth_rgb


@pytest.fixture(scope='module')
def exported(tmp_path_factory, export_onnx_script, tiny_checkpoint):
    path = tmp_path_factory.mktemp('onnx') / 'tiny.onnx'
    assert export_onnx_script.main(['--model', str(tiny_checkpoint), '-o', str(path), *TINY_FLAGS, '--no-tlc']) == 0
    return path


def test_export_is_opset_17_with_dynamic_height_and_width(exported):
    import onnx

    model = onnx.load(str(exported))
    assert max(op.version for op in model.opset_import if op.domain in ('', 'ai.onnx')) >= 17
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ['batch', '', 'height', 'width']
    assert not list(exported.parent.glob('.*'))  # the staging file is gone


def test_onnx_runtime_matches_pytorch_tiled(exported, tiny_net):
    settings = InferenceSettings(tile_size=96, overlap=16, tile_batch=3, tlc=False, device='cpu')
    rgb = smooth_rgb(150, 230).astype(np.float32) / 255
    by_torch = Enhancer.from_module(tiny_net, settings).run_photo(rgb)
    by_onnx = Enhancer.from_onnx(exported, settings).run_photo(rgb)
    assert np.abs(by_torch - by_onnx).max() < 1e-4


def test_export_script_prints_the_difference(export_onnx_script, tiny_checkpoint, tmp_path, capsys):
    code = export_onnx_script.main(['--model', str(tiny_checkpoint), '-o', str(tmp_path / 'm.onnx'), *TINY_FLAGS,
                                    '--train-size', '64'])
    out = capsys.readouterr().out
    assert code == 0 and 'max |PyTorch - ONNX Runtime|' in out and 'ok tolerance 0.001' in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ['m.onnx']


def test_export_above_tolerance_writes_nothing_and_fails(export_onnx_script, tiny_checkpoint, tmp_path, capsys):
    code = export_onnx_script.main(['--model', str(tiny_checkpoint), '-o', str(tmp_path / 'm.onnx'), *TINY_FLAGS,
                                    '--train-size', '64', '--tolerance', '-1'])  # no difference is below -1
    out = capsys.readouterr().out
    assert code == 1 and 'ABOVE tolerance -1' in out and 'not written' in out
    assert list(tmp_path.iterdir()) == []  # neither the .onnx nor its staging file
    assert '(existing file unchanged)' not in out


def test_export_above_tolerance_says_an_existing_file_is_unchanged(export_onnx_script, tiny_checkpoint, tmp_path,
                                                                    capsys):
    (tmp_path / 'm.onnx').write_bytes(b'an older export')
    code = export_onnx_script.main(['--model', str(tiny_checkpoint), '-o', str(tmp_path / 'm.onnx'), *TINY_FLAGS,
                                    '--train-size', '64', '--tolerance', '-1'])
    assert code == 1 and f'not written: {tmp_path / "m.onnx"} (existing file unchanged)' in capsys.readouterr().out
    assert (tmp_path / 'm.onnx').read_bytes() == b'an older export'


def test_tlc_export_refuses_inputs_below_its_window(tmp_path):
    net = randomize_(build_inference_network(dict(TINY_NAFNET, type='NAFNet'), tlc=True, train_size=(1, 3, 32, 32)))
    min_side = onnx_export.tlc_min_side((1, 3, 32, 32))
    onnx_export.export_onnx(net, tmp_path / 'tlc.onnx', min_side=min_side)
    session = onnx_runner.load_onnx_session(tmp_path / 'tlc.onnx')
    assert onnx_runner.max_onnx_difference(net, session, [(1, 3, min_side, min_side), (1, 3, 80, 130)]) < 1e-4
    with pytest.raises(onnx_runner.OnnxInputTooSmallError, match=f'>= {min_side}'):
        onnx_runner.make_onnx_runner(session)(torch.rand(1, 3, min_side - 16, 200))


def test_tiled_infer_onnx_backend_matches_torch_backend(exported, run_infer, tmp_path):
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'room.jpg').write_bytes(encode_pil(smooth_rgb(140, 200), 'JPEG'))
    assert run_infer(source, tmp_path / 'torch', '--format', 'png', '--no-tlc')[0] == 0
    code, summary = run_infer(source, tmp_path / 'ort', '--format', 'png', '--backend', 'onnxruntime', '--model',
                              exported)
    assert code == 0 and 'enhanced 1' in summary
    # TLC is on by default, but this graph was exported without it: the settings line says what runs
    assert 'runs on 128 px tiles, overlap 32, 4 per batch, border pad 0, TLC off, fp32 (' in summary
    by_torch = np.asarray(Image.open(tmp_path / 'torch' / 'room.png'), np.int16)
    by_onnx = np.asarray(Image.open(tmp_path / 'ort' / 'room.png'), np.int16)
    assert np.abs(by_torch - by_onnx).max() <= 1
