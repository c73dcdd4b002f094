"""Whole-photo networks outside training: ONNX export with dynamic sizes, and bounded memory on a large photo."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import onnx
import pytest
import torch

from realestate_sr.inference import onnx_export, onnx_runner
from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.inference.settings import InferenceSettings
from tests.conftest import randomize_

from basicsr.archs import build_network

REPO = Path(__file__).resolve().parents[2]
SMALL = {'thumb_size': 64, 'width': 8, 'levels': 3, 'max_width': 16}


@pytest.mark.parametrize('opt', [{'type': 'ImageAdaptiveLUT', 'num_basis': 2, 'lut_size': 9, **SMALL},
                                 {'type': 'BilateralGridNet', 'lut_basis': 2, 'lut_size': 9, **SMALL}],
                         ids=['lut', 'grid+lut'])
def test_onnx_export_matches_pytorch_at_two_sizes_and_batches(tmp_path, opt):
    torch.manual_seed(0)
    net = randomize_(build_network(dict(opt)), 0.1).eval()
    with torch.no_grad():  # outputs near [0, 1], as a trained network's, and a visible colour change
        for module in net.modules():
            if hasattr(module, 'residual'):
                module.residual.mul_(3)
    path = onnx_export.export_onnx(net, tmp_path / 'net.onnx', opset=17, network_opt=opt)
    session = onnx_runner.load_onnx_session(path)
    assert onnx_runner.onnx_network_opt(session)['type'] == opt['type']
    sizes = ((1, 3, 96, 128), (2, 3, 77, 203))
    difference = onnx_runner.max_onnx_difference(net, session, sizes)
    assert difference < 1e-4
    photo = torch.rand(1, 3, 70, 90)
    with torch.no_grad():
        assert (net(photo) - photo).abs().max() > 0.05, 'a randomised network that edits: parity means something'


WHOLE_PHOTO_OPTS = [{'type': 'ImageAdaptiveLUT', 'num_basis': 2, 'lut_size': 9, **SMALL},
                    {'type': 'BilateralGridNet', **SMALL},
                    {'type': 'BilateralGridNet', 'lut_basis': 2, 'lut_size': 9, **SMALL},
                    {'type': 'BilateralGridNet', 'gain_cells': 4, **SMALL},
                    {'type': 'BilateralGridNet', 'stats_input': True, **SMALL}]


def editing_network(opt):
    torch.manual_seed(0)
    net = randomize_(build_network(dict(opt)), 0.1).eval()
    with torch.no_grad():
        for module in net.modules():
            if hasattr(module, 'residual'):
                module.residual.mul_(3)
    return net


class CountingSession:
    """Wraps an ONNX Runtime session and records the pixels of each run (N x H x W of ``src``, 0 without)."""

    def __init__(self, session):
        self.session, self.pixels = session, []

    def get_inputs(self):
        return self.session.get_inputs()

    def run(self, outputs, feed):
        src = feed.get(onnx_export.ONNX_INPUT)
        self.pixels.append(0 if src is None else src.shape[0] * src.shape[2] * src.shape[3])
        return self.session.run(outputs, feed)


@pytest.mark.parametrize('opt', WHOLE_PHOTO_OPTS, ids=['lut', 'grid', 'grid+lut', 'grid-light',
                                                         'grid-stats'])
def test_onnx_graph_in_several_bands_matches_pytorch_and_never_gets_more_than_a_band(tmp_path, opt):
    net = editing_network(opt)
    path = onnx_export.export_onnx(net, tmp_path / 'net.onnx', network_opt=opt)
    session = onnx_runner.load_onnx_session(path)
    assert isinstance(session, onnx_runner.WholePhotoSession)
    session.apply = counting = CountingSession(session.apply)
    session.encode = encodes = CountingSession(session.encode)
    generator = torch.Generator().manual_seed(1)
    # 1000 px bands: 10 rows of 100 px (7 bands), 2 photos x 203 px = 2 rows (39 bands), then column bands
    for (n, height, width), band_pixels in (((1, 70, 100), 1000), ((2, 77, 203), 1000), ((1, 9, 100), 40)):
        photos = torch.rand(n, 3, height, width, generator=generator)
        with torch.no_grad():
            expected = net(photos)
        counting.pixels.clear()
        encodes.pixels.clear()
        got = onnx_runner.make_onnx_runner(session, band_pixels)(photos)
        assert float((got - expected).abs().max()) < 1e-4
        assert len(counting.pixels) >= 7 and max(counting.pixels) <= band_pixels
        assert sum(counting.pixels) == n * height * width
        assert encodes.pixels == [0], 'the thumbnail is encoded once per batch of photos, not per band'
    assert float((expected - photos).abs().max()) > 0.05, 'a network that edits: parity means something'


def test_the_graph_records_its_default_band_and_the_enhancer_runs_it_in_bands(tmp_path):
    opt = WHOLE_PHOTO_OPTS[2]
    net = editing_network(opt)
    path = onnx_export.export_onnx(net, tmp_path / 'net.onnx', network_opt=opt, band_pixels=2000)
    enhancer = Enhancer.from_onnx(path, InferenceSettings(device='cpu'))
    assert not enhancer.tiles and not enhancer.warnings()
    rgb = torch.rand(1, 3, 60, 90, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = net(rgb)[0].permute(1, 2, 0).numpy()
    got = enhancer.run_photo(rgb[0].permute(1, 2, 0).numpy())
    assert abs(got - expected).max() < 1e-4


def test_a_graph_exported_in_one_piece_still_runs_and_says_to_re_export(tmp_path):
    opt = WHOLE_PHOTO_OPTS[0]
    net = editing_network(opt)
    path = tmp_path / 'old.onnx'  # as export_onnx wrote whole-photo graphs before band inference
    dynamic = {0: 'batch', 2: 'height', 3: 'width'}
    torch.onnx.export(net, (torch.rand(1, 3, 64, 64), ), str(path), opset_version=17, dynamo=False,
                      input_names=[onnx_export.ONNX_INPUT], output_names=[onnx_export.ONNX_OUTPUT],
                      dynamic_axes={onnx_export.ONNX_INPUT: dynamic, onnx_export.ONNX_OUTPUT: dynamic})
    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = onnx_export.ONNX_NETWORK_KEY, json.dumps(opt)
    onnx.save(model, str(path))
    enhancer = Enhancer.from_onnx(path, InferenceSettings(device='cpu'))
    assert not enhancer.tiles
    (warning, ) = enhancer.warnings()
    assert 're-export it with scripts/export_onnx.py' in warning
    rgb = torch.rand(1, 3, 40, 50, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = net(rgb)[0].permute(1, 2, 0).numpy()
    assert abs(enhancer.run_photo(rgb[0].permute(1, 2, 0).numpy()) - expected).max() < 1e-4


MEASURE = textwrap.dedent('''
    import json, resource, sys
    import torch
    import realestate_sr
    from basicsr.archs import build_network
    torch.set_num_threads(2)
    net = build_network(json.loads(sys.argv[1])).eval()
    x = torch.rand(1, 3, int(sys.argv[2]), int(sys.argv[3]))
    with torch.no_grad():
        net(x[:, :, :64, :64])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        y = net(x)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({'peak_growth_mb': (after - before) / 1024, 'identity': float((y - x).abs().max())}))
''')


@pytest.mark.slow
def test_a_2000x3000_forward_grows_memory_by_little_more_than_its_output():
    opt = {'type': 'BilateralGridNet', 'lut_basis': 3}  # both full-resolution stages: LUT and grid
    # fresh process: ru_maxrss is the peak resident size, so the growth during one forward is its footprint
    result = subprocess.run([sys.executable, '-c', MEASURE, json.dumps(opt), '2000', '3000'], capture_output=True,
                            text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    output_mb = 3 * 2000 * 3000 * 4 / 2 ** 20  # 69 MB
    # the output plus one row chunk's intermediates; the gather path in one piece would need ~2 GB here
    assert measured['peak_growth_mb'] < output_mb + 250, measured
    assert measured['identity'] < 1e-5
