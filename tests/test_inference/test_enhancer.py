"""The one inference object: settings precedence, whole photos everywhere, any architecture, one TLC decision."""
import argparse
import copy
import json
import logging

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torch import nn

from realestate_sr.archs.nafnet_arch import NAFNet, NAFNetLocal
from realestate_sr.inference import delivery, onnx_export, onnx_runner
from realestate_sr.inference.enhancer import Enhancer, tlc_note
from realestate_sr.inference.network_args import add_network_args, add_running_args, settings_from_args
from realestate_sr.inference.settings import InferenceSettings, SettingsError
from tests.conftest import TINY_NAFNET, randomize_
from tests.test_inference.conftest import TINY_FLAGS
from tests.test_inference.photo_makers import encode_pil, smooth_rgb

from basicsr.utils.registry import ARCH_REGISTRY


class TinyConvForTests(nn.Module):
    """Not a NAFNet: two convolutions, no pooling (tiled == whole wherever the overlap covers its 2 px reach)."""

    def __init__(self, channels=3, hidden=4):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(hidden, channels, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


class MeanShiftForTests(TinyConvForTests):
    """A whole-photo model: its output depends on the photo's global mean, so tiles would change it."""
    whole_photo = True

    def forward(self, x):
        return super().forward(x) - x.mean(dim=(-2, -1), keepdim=True)


for _arch in (TinyConvForTests, MeanShiftForTests):
    if _arch.__name__ not in ARCH_REGISTRY:
        ARCH_REGISTRY.register(_arch)


def parse(argv, opt=None):
    parser = argparse.ArgumentParser()
    add_network_args(parser)
    add_running_args(parser)
    return parser.parse_args(argv + (['--opt', str(opt)] if opt else []))


def write_yaml(path, network_g, val=None, gt_size=32, bf16=False):
    opt = {'network_g': network_g, 'datasets': {'train': {'gt_size': gt_size}}, 'train': {'bf16': bf16}}
    if val is not None:
        opt['val'] = val
    path.write_text(yaml.safe_dump(opt))
    return path


def save_checkpoint(path, net):
    torch.save({'params': net.state_dict()}, path)
    return path


# ---------------------------------------------------------------- settings

def test_flags_given_win_over_the_option_file_which_wins_over_the_defaults(tmp_path):
    opt = write_yaml(tmp_path / 'o.yml', {'type': 'NAFNet', **TINY_NAFNET},
                     val={'tile': {'size': 96, 'overlap': 16, 'batch': 2}, 'tlc': False}, bf16=True)
    assert settings_from_args(parse([])) == InferenceSettings()  # no flags, no file: the defaults
    from_file = settings_from_args(parse([], opt))
    assert (from_file.tile_size, from_file.overlap, from_file.tile_batch, from_file.tlc, from_file.precision,
            from_file.train_size) == (96, 16, 2, False, 'bf16', (1, 3, 32, 32))
    assert from_file.source == f'val block of {opt}'
    flags = settings_from_args(parse(['--tile-size', '0', '--tlc', '--precision', 'fp32', '--train-size', '64'], opt))
    assert (flags.tile_size, flags.overlap, flags.tlc, flags.precision, flags.train_size) == \
        (None, 16, True, 'fp32', (1, 3, 64, 64))
    # a flag given with the default's value still wins over the file
    assert settings_from_args(parse(['--tile-size', '512'], opt)).tile_size == 512


def test_null_tile_and_size_zero_mean_whole_photos(tmp_path):
    network_g = {'type': 'NAFNet', **TINY_NAFNET}
    for val in ({'tile': None}, {'tile': {'size': 0}}):
        assert not InferenceSettings.from_option_file(write_yaml(tmp_path / 'o.yml', network_g, val)).tiled
    assert not InferenceSettings(tile_size=0).tiled
    with pytest.raises(SettingsError, match='tile size must be positive'):
        InferenceSettings(tile_size=-1)
    with pytest.raises(SettingsError, match='precision'):
        InferenceSettings(precision='fp8')


def test_a_bf16_only_the_option_file_asks_for_runs_fp32_on_a_cpu_with_one_warning(tmp_path):
    network_g = {'type': 'NAFNet', **TINY_NAFNET}
    opt = write_yaml(tmp_path / 'gpu.yml', network_g, {'tile': None, 'tlc': False}, bf16=True)
    from_file = settings_from_args(parse(['--device', 'cpu'], opt))
    on_cpu, warning = from_file.for_device('cpu')
    assert on_cpu.precision == 'fp32' and '10x slower' in warning and '--precision bf16' in warning
    assert from_file.for_device('cuda') == (from_file, None)
    asked = settings_from_args(parse(['--device', 'cpu', '--precision', 'bf16'], opt))
    assert asked.for_device('cpu') == (asked, None)
    # the tools build their networks here: the enhancer runs, describes and warns about what it runs
    checkpoint = save_checkpoint(tmp_path / 'n.pth', NAFNet(**TINY_NAFNET))
    enhancer = Enhancer.from_checkpoint(network_g, checkpoint, from_file)
    assert enhancer.settings.precision == 'fp32' and 'fp32' in enhancer.description
    assert enhancer.warnings() == [warning]
    kept = Enhancer.from_checkpoint(network_g, checkpoint, asked)
    assert kept.settings.precision == 'bf16' and kept.warnings() == []


def test_tiled_infer_on_a_cpu_runs_a_bf16_option_file_in_fp32_and_says_why_once(tmp_path, tiled_infer,
                                                                                   tiny_checkpoint, capsys):
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'room.png').write_bytes(encode_pil(smooth_rgb(40, 60), 'PNG'))
    opt = write_yaml(tmp_path / 'gpu.yml', {'type': 'NAFNet', **TINY_NAFNET}, {'tile': None, 'tlc': False}, bf16=True)
    assert tiled_infer.main(['-i', str(source), '-o', str(tmp_path / 'out'), '--model', str(tiny_checkpoint),
                             '--opt', str(opt), '--device', 'cpu']) == 0
    captured = capsys.readouterr()
    assert 'runs on whole photos, TLC off, fp32 (' in captured.out and '; 1 photo to enhance' in captured.out
    warnings = [line for line in captured.err.splitlines() if line.startswith('warning')]
    assert len(warnings) == 1 and '10x slower' in warnings[0], captured.err


# ---------------------------------------------------------------- the enhancer

def test_any_registered_architecture_runs_tiled_and_whole(tmp_path):
    net = randomize_(TinyConvForTests(), scale=0.3).eval()
    checkpoint = save_checkpoint(tmp_path / 'conv.pth', net)
    rgb = np.random.default_rng(0).uniform(size=(70, 90, 3)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None])[0].permute(1, 2, 0).numpy()
    for tile_size in (None, 32):
        # TLC on (the default) does not apply to this architecture and is no error
        settings = InferenceSettings(tile_size=tile_size, overlap=16, tile_batch=3, device='cpu')
        enhancer = Enhancer.from_checkpoint({'type': 'TinyConvForTests'}, checkpoint, settings)
        assert isinstance(enhancer.net, TinyConvForTests) and enhancer.tlc_note is None
        np.testing.assert_allclose(enhancer.run_photo(rgb), expected, atol=1e-5)


def test_a_whole_photo_architecture_gets_the_whole_photo_even_when_tiles_are_asked_for(tmp_path):
    net = randomize_(MeanShiftForTests(), scale=0.3).eval()
    rgb = np.random.default_rng(1).uniform(size=(80, 100, 3)).astype(np.float32)
    x = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        expected = net(x)[0].permute(1, 2, 0).numpy()
    tiled_settings = InferenceSettings(tile_size=32, overlap=8, device='cpu')
    calls = []
    enhancer = Enhancer.from_module(net, tiled_settings)
    np.testing.assert_allclose(enhancer.run_photo(rgb, lambda done, total: calls.append((done, total))), expected,
                               atol=1e-6)
    assert calls == [(1, 1)]  # one pass
    assert enhancer.settings.describe().startswith('on whole photos, TLC off, ')  # says what runs
    # the same network without the declaration is tiled, and the tiles change its output
    undeclared = copy.deepcopy(net)
    undeclared.whole_photo = False
    plain = Enhancer.from_module(undeclared, tiled_settings)
    assert plain.settings.describe().startswith('on 32 px tiles, overlap 8, ')
    assert np.abs(plain.run_photo(rgb) - expected).max() > 1e-3


def test_tlc_is_decided_once_for_checkpoints_and_live_modules(tmp_path):
    network_g = {'type': 'NAFNet', **TINY_NAFNET}
    net = randomize_(NAFNet(**TINY_NAFNET), scale=0.1).eval()
    checkpoint = save_checkpoint(tmp_path / 'n.pth', net)
    on = InferenceSettings(tile_size=32, overlap=8, tlc=True, train_size=(1, 3, 32, 32), device='cpu')
    assert isinstance(Enhancer.from_checkpoint(network_g, checkpoint, on).net, NAFNetLocal)
    assert type(Enhancer.from_checkpoint(network_g, checkpoint, InferenceSettings(tlc=False)).net) is NAFNet
    assert '48x48' in tlc_note(network_g, on)  # 32 px tiles inside the 48 px window
    assert tlc_note(network_g, InferenceSettings(tile_size=None, train_size=(1, 3, 32, 32))) is None
    assert tlc_note({'type': 'TinyConvForTests'}, on) is None


# ---------------------------------------------------------------- through the command lines

def test_tiled_infer_tile_size_zero_runs_whole_photos(tmp_path, run_infer, tiny_net):
    source = tmp_path / 'in'
    source.mkdir()
    rgb8 = smooth_rgb(100, 140)
    (source / 'room.png').write_bytes(encode_pil(rgb8, 'PNG'))
    code, out = run_infer(source, tmp_path / 'out', '--format', 'png', '--tile-size', '0', '--no-tlc')
    assert code == 0 and 'enhanced 1' in out and 'on whole photos' in out
    with torch.no_grad():
        whole = tiny_net(torch.from_numpy(rgb8.transpose(2, 0, 1).astype(np.float32) / 255)[None])
    expected = np.round(np.clip(whole[0].permute(1, 2, 0).numpy(), 0, 1) * 255)
    assert np.abs(np.asarray(Image.open(tmp_path / 'out' / 'room.png'), np.float64) - expected).max() <= 1


def test_tiled_infer_follows_the_option_files_tlc_and_prints_the_settings_line(tmp_path, tiled_infer,
                                                                                tiny_checkpoint, capsys):
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'room.png').write_bytes(encode_pil(smooth_rgb(150, 200), 'PNG'))
    network_g = {'type': 'NAFNet', **TINY_NAFNET}
    # gt_size 32: a 48 px TLC window, which 128 px tiles exceed, so TLC changes the output
    val = {'tile': {'size': 128, 'overlap': 32}}
    outputs = {}
    for name, tlc, extra in (('yaml_off', False, []), ('flag_on', False, ['--tlc']), ('yaml_on', True, [])):
        opt = write_yaml(tmp_path / f'{name}.yml', network_g, dict(val, tlc=tlc))
        argv = ['-i', str(source), '-o', str(tmp_path / name), '--model', str(tiny_checkpoint), '--opt', str(opt),
                '--format', 'png', '--device', 'cpu', *extra]
        assert tiled_infer.main(argv) == 0
        out = capsys.readouterr().out
        on = tlc or bool(extra)
        assert f'on 128 px tiles, overlap 32, 4 per batch, border pad 0, TLC {"on" if on else "off"}, fp32 ' \
               f'(defaults from the val block of {opt})' in out
        outputs[name] = np.asarray(Image.open(tmp_path / name / 'room.png'), np.int16)
    assert np.array_equal(outputs['flag_on'], outputs['yaml_on'])
    assert np.abs(outputs['yaml_off'] - outputs['yaml_on']).max() > 0


@pytest.mark.slow
def test_onnx_export_follows_the_same_tlc_setting_as_the_torch_backend(tmp_path, export_onnx_script, tiled_infer,
                                                                       tiny_checkpoint, capsys):
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'room.png').write_bytes(encode_pil(smooth_rgb(150, 200), 'PNG'))
    opt = write_yaml(tmp_path / 'tlc.yml', {'type': 'NAFNet', **TINY_NAFNET},
                     {'tile': {'size': 128, 'overlap': 32}, 'tlc': True})
    graph = tmp_path / 'tlc.onnx'
    assert export_onnx_script.main(['--model', str(tiny_checkpoint), '--opt', str(opt), '-o', str(graph)]) == 0
    assert 'exported NAFNetLocal' in capsys.readouterr().out
    session = onnx_runner.load_onnx_session(graph)
    assert onnx_runner.onnx_min_side(session) == 48 and onnx_runner.onnx_network_opt(session)['type'] == 'NAFNetLocal'
    common = ['-i', str(source), '--opt', str(opt), '--format', 'png', '--device', 'cpu']
    assert tiled_infer.main([*common, '-o', str(tmp_path / 'torch'), '--model', str(tiny_checkpoint)]) == 0
    assert tiled_infer.main([*common, '-o', str(tmp_path / 'ort'), '--model', str(graph), '--backend',
                             'onnxruntime']) == 0
    by_torch = np.asarray(Image.open(tmp_path / 'torch' / 'room.png'), np.int16)
    by_onnx = np.asarray(Image.open(tmp_path / 'ort' / 'room.png'), np.int16)
    assert np.abs(by_torch - by_onnx).max() <= 1
    # tiles below the graph's TLC window are refused at start-up, with the reason
    assert tiled_infer.main([*common, '-o', str(tmp_path / 'small'), '--model', str(graph), '--backend',
                             'onnxruntime', '--tile-size', '32', '--overlap', '8']) == 2
    assert 'needs inputs of at least 48 px' in capsys.readouterr().err
    # where TLC would change nothing (tiles inside its window) the plain graph is exported, valid at any size
    assert export_onnx_script.main(['--model', str(tiny_checkpoint), '--opt', str(opt), '--tile-size', '32',
                                    '-o', str(tmp_path / 'plain.onnx')]) == 0
    assert 'exporting plain NAFNet' in capsys.readouterr().out
    assert onnx_runner.onnx_min_side(onnx_runner.load_onnx_session(tmp_path / 'plain.onnx')) == 0


@pytest.fixture
def every_tool(tmp_path, tiled_infer, export_onnx_script, capsys):
    """``every_tool(model, flags)`` runs tiled_infer, export_onnx and evaluate on ``model`` (a one-photo folder, a
    tiny option file with whole photos) -> {tool: (exit code, stderr)}; ``flags`` describe the network to
    tiled_infer and export_onnx (default: the option file; evaluate always reads it)."""
    from tests.test_evaluation.test_evaluate_script import evaluate_script

    source = tmp_path / 'in'
    source.mkdir()
    (source / 'a.png').write_bytes(encode_pil(smooth_rgb(20, 20), 'PNG'))
    opt = write_yaml(tmp_path / 'o.yml', {'type': 'NAFNet', **TINY_NAFNET}, {'tile': None})

    def run(model, flags=None):
        flags = ['--opt', str(opt)] if flags is None else flags
        mains = {
            'tiled_infer': lambda: tiled_infer.main(['-i', str(source), '-o', str(tmp_path / 'out'), '--model',
                                                     str(model), *flags]),
            'export_onnx': lambda: export_onnx_script.main(['--model', str(model), '-o', str(tmp_path / 'x.onnx'),
                                                            *flags]),
            'evaluate': lambda: evaluate_script.main(['--pairs', str(source), str(source), '--opt', str(opt),
                                                      '--model', str(model), '--skip-lpips', '-o', str(tmp_path / 'r'),
                                                      '--quiet']),
        }
        return {tool: (main(), capsys.readouterr().err.strip()) for tool, main in mains.items()}

    return run


def test_an_onnx_graph_given_as_a_checkpoint_is_one_line_in_every_tool(tmp_path, every_tool, tiny_net):
    graph = tmp_path / 'model.onnx'
    onnx_export.export_onnx(tiny_net, graph)
    for tool, (code, err) in every_tool(graph, TINY_FLAGS).items():
        assert code == 2, tool
        assert len(err.splitlines()) == 1 and 'is an ONNX graph, not a PyTorch checkpoint' in err, (tool, err)
        assert '--backend onnxruntime' in err and 'weights_only' not in err


def test_a_checkpoint_of_another_width_is_one_line_in_every_tool(tmp_path, every_tool):
    wider = save_checkpoint(tmp_path / 'w16.pth', NAFNet(**dict(TINY_NAFNET, width=16)))
    for tool, (code, err) in every_tool(wider).items():
        assert code == 2, tool
        assert len(err.splitlines()) == 1 and 'holds a width-16 network' in err and 'width 8' in err, (tool, err)
    assert not (tmp_path / 'x.onnx').exists()


def test_a_checkpoint_with_missing_and_unexpected_keys_is_one_readable_line_in_every_tool(tmp_path, every_tool):
    state = NAFNet(**TINY_NAFNET).state_dict()
    state.pop('intro.weight')
    state['extra.weight'] = torch.zeros(1)
    broken = tmp_path / 'broken.pth'
    torch.save({'params': state}, broken)
    for tool, (code, err) in every_tool(broken).items():
        assert code == 2, tool
        assert len(err.splitlines()) == 1 and 'does not fit NAFNet: missing keys: intro.weight; unexpected keys: ' \
            'extra.weight' in err and ':;' not in err, (tool, err)


def test_tiled_infer_prints_a_progress_line_per_photo_without_a_terminal(tmp_path, run_infer, monkeypatch):
    source = tmp_path / 'in'
    source.mkdir()
    for index in range(3):
        (source / f'{index}.png').write_bytes(encode_pil(smooth_rgb(150, 150, index), 'PNG'))
    monkeypatch.setattr(delivery, 'TILE_PROGRESS_SECONDS', 0)  # and every tile batch inside a photo
    code, out = run_infer(source, tmp_path / 'out', '--tile-batch', '1')  # pytest's stdout is not a terminal
    assert code == 0
    done = [line for line in out.splitlines() if ' enhanced ' in line and 'ETA' in line]
    assert [line.split()[0] for line in done] == ['[1/3]', '[2/3]', '[3/3]'], out
    assert 'tiles 1/4' in out  # 150 px with 128 px tiles, overlap 32: 2 x 2 tiles


def test_evaluate_logs_tile_progress_inside_a_photo(eval_pairs_for_progress, caplog):
    from realestate_sr.evaluation.methods import CheckpointPredictor
    from realestate_sr.evaluation.runner import evaluate_pairs
    from realestate_sr.evaluation.scoring import metric_options

    net = randomize_(NAFNet(**TINY_NAFNET), scale=0.1).eval()
    predictor = CheckpointPredictor(Enhancer.from_module(net, InferenceSettings(tile_size=32, overlap=8,
                                                                                tile_batch=1)), 'tiny')
    with caplog.at_level(logging.INFO, logger='realestate_sr.evaluation.runner'):
        result = evaluate_pairs(eval_pairs_for_progress[:1], metric_options(skip=('lpips', 'ssim', 'de00')),
                                [predictor], ('input', ), tta=True, progress_seconds=0)
    assert not result.failures
    lines = [r.getMessage() for r in caplog.records if 'tiles' in r.getMessage()]
    # the photo is 48x64: 2 x 3 tiles of 32 px per pass, 8 passes with TTA; the last call ends the photo
    assert lines == [f'[1/1] room0.png: tiny tiles {done}/48' for done in range(1, 48)]


@pytest.fixture
def eval_pairs_for_progress(tmp_path):
    from realestate_sr.data.pair_lists import pairs_from_folders
    from tests.test_data.synthetic_pairs import write_pair_set
    from tests.test_evaluation.conftest import PAIR_SIZES, amateur_version, make_target

    targets = [make_target(height, width, index) for index, (height, width) in enumerate(PAIR_SIZES)]
    names = [f'room{index}.png' for index in range(len(targets))]
    _, src_dir, tar_dir = write_pair_set(tmp_path / 'data', [(amateur_version(t), t) for t in targets],
                                         folder_names=names, manifest_name='val.jsonl')
    return pairs_from_folders(src_dir, tar_dir)


def test_metrics_json_records_the_settings_the_checkpoints_ran_with(tmp_path, capsys):
    """Regression guard for the evaluate config block built from InferenceSettings."""
    from tests.test_evaluation.conftest import save_random_checkpoint
    from tests.test_evaluation.test_evaluate_script import evaluate_script

    source = tmp_path / 'in'
    source.mkdir()
    (source / 'a.png').write_bytes(encode_pil(smooth_rgb(40, 40), 'PNG'))
    checkpoint = save_random_checkpoint(tmp_path / 'experiments' / 'e' / 'models' / 'net_g_1.pth', 0)
    # a GPU recipe's train.bf16: on this CPU the checkpoint runs, and is recorded as running, fp32
    opt = write_yaml(tmp_path / 'o.yml', {'type': 'NAFNet', **TINY_NAFNET}, {'tile': None, 'tlc': False}, bf16=True)
    assert evaluate_script.main(['--pairs', str(source), str(source), '--opt', str(opt), '--model', str(checkpoint),
                                 '--param-key', 'params', '--skip-lpips', '--no-html', '-o', str(tmp_path / 'r'),
                                 '--quiet', '--device', 'cpu']) == 0
    config = json.loads((tmp_path / 'r' / 'metrics.json').read_text())['config']
    assert config['param_keys'] == {'e/net_g_1@params': 'params'}
    assert config['tile']['size'] == 0 and config['tlc'] is False and config['precision'] == 'fp32'
