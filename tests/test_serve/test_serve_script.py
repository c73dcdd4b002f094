"""scripts/serve.py start-up: an ONNX graph through the same Enhancer as tiled_infer's ONNX backend, the port
checked before the model loads, a log line per request."""
import logging
import socket

import httpx
import numpy as np

from realestate_sr.inference import onnx_export, photo_io
from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.serve.app import create_app
from tests.test_inference.conftest import load_script
from tests.test_serve.conftest import TILED, decoded, free_port, jpeg_bytes, running

SERVE_FLAGS = ['--tile-size', '64', '--overlap', '16', '--tile-batch', '4', '--no-tlc', '--device', 'cpu']


def test_an_onnx_graph_is_served_through_the_onnx_enhancer(tmp_path, tiny_net):
    serve_script = load_script('serve')
    graph = tmp_path / 'tiny.onnx'
    onnx_export.export_onnx(tiny_net, graph)
    for backend in ([], ['--backend', 'onnxruntime']):  # detected from the suffix, or named
        args = serve_script.build_parser().parse_args(['--model', str(graph), *SERVE_FLAGS, *backend])
        enhancer, config = serve_script.build(args)
        assert enhancer.net is None and enhancer.description.startswith('ONNX Runtime')
        assert enhancer.settings.describe().startswith('on 64 px tiles, overlap 16, 4 per batch')
    data = jpeg_bytes(70, 100, seed=5)
    photo = photo_io.decode_photo(data)
    by_torch = np.clip(Enhancer.from_module(tiny_net, TILED).run_photo(photo.rgb), 0, 1)
    with running(create_app(enhancer, config)) as url:
        response = httpx.post(f'{url}/v1/enhance?format=png', content=data, timeout=60)
    assert response.status_code == 200
    served = np.asarray(decoded(response.content), np.float64)
    assert np.abs(served - np.round(by_torch * 255)).max() <= 1


def test_a_port_in_use_is_one_line_before_the_model_loads(tmp_path, capsys):
    serve_script = load_script('serve')
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        # the checkpoint does not exist: an error about it would mean the model was loaded first
        assert serve_script.main(['--model', str(tmp_path / 'missing.pth'), '--port', str(port)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f'cannot listen on 127.0.0.1:{port}' in lines[0] and 'missing.pth' not in lines[0]


def test_every_request_is_one_log_line_at_the_default_level(serve, tiled_enhancer, caplog):
    with serve(tiled_enhancer) as url, caplog.at_level(logging.INFO, logger='realestate_sr.serve.app'):
        assert httpx.post(f'{url}/v1/enhance', content=jpeg_bytes(40, 60), timeout=60).status_code == 200
        assert httpx.get(f'{url}/v1/enhance', timeout=60).status_code == 405
    lines = [record.getMessage() for record in caplog.records if record.name == 'realestate_sr.serve.app']
    assert [line.rsplit(' ', 2)[0] for line in lines if '/v1/enhance' in line] == ['POST /v1/enhance 200',
                                                                                  'GET /v1/enhance 405']
    assert all(line.endswith(' ms') and float(line.split()[-2]) > 0 for line in lines)


def test_serve_py_start_up_errors_are_one_line_and_exit_2(tmp_path, capsys):
    serve_script = load_script('serve')
    port = str(free_port())
    assert serve_script.main(['--model', str(tmp_path / 'missing.pth'), '--port', port]) == 2
    assert serve_script.main(['--model', str(tmp_path / 'missing.pth'), '--max-batch', '0', '--port', port]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith('error: cannot start the service: ') for line in lines)
    assert 'missing.pth' in lines[0] and '--max-batch must be >= 1' in lines[1]
