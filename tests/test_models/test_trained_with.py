"""A checkpoint carries what is needed to run it: network_g as trained (after --force_yml) and the validation's
settings, read by every tool when --opt is absent; an --opt that contradicts them is refused in one line."""
import copy
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import uvicorn
import yaml

from realestate_sr.archs.checkpoint import TRAINED_WITH_KEY, CheckpointMismatchError
from realestate_sr.inference import delivery, network_args
from realestate_sr.inference.trained_with import settings_from_record
from tests.conftest import TINY_NAFNET, randomize_
from tests.test_evaluation.conftest import make_target
from tests.test_inference.conftest import load_script
from tests.test_models import test_enhance_model, test_whole_photo_model
from tests.test_serve.conftest import free_port
from tests.training_options import tiny_training_options, write_held_out_pairs

from basicsr.models import build_model

REPO = Path(__file__).resolve().parents[2]
TOOLS = ('tiled_infer', 'evaluate', 'serve', 'export_onnx')


def saved_checkpoint(model, iteration=2):
    """Randomised weights (so that settings visibly matter), one step, BasicSR's save; the net_g file."""
    for net in (model.net_g, model.net_g_ema):
        randomize_(net, scale=0.1, seed=3)
    model.optimize_parameters(1)
    model.save(epoch=0, current_iter=iteration)
    return model.opt['path']['models'] + f'/net_g_{iteration}.pth'


@pytest.fixture(scope='module')
def forced_grid(tmp_path_factory):
    """A whole-photo model trained with thumb_size 32 while its option file (the experiment's copy, written
    before --force_yml applied) says 64: (checkpoint, option file as written, option file as trained)."""
    folder = tmp_path_factory.mktemp('grid_experiment')
    opt = test_whole_photo_model.model_opt(folder, val={'tile': {'size': 48, 'overlap': 16}})
    as_written = folder / 'grid.yml'
    as_written.write_text(yaml.safe_dump({**opt, 'network_g': {**opt['network_g'], 'thumb_size': 64}}))
    as_trained = folder / 'grid_as_trained.yml'
    as_trained.write_text(yaml.safe_dump(opt))
    torch.manual_seed(0)
    model = build_model(copy.deepcopy(opt))
    model.feed_data(test_whole_photo_model.crop_batch())
    return saved_checkpoint(model), as_written, as_trained


def photo_folder(tmp_path):
    source = tmp_path / 'in'
    source.mkdir(parents=True)
    cv2.imwrite(str(source / 'room.png'), make_target(90, 130, 1))
    return source


def run_tool(tool, checkpoint, tmp_path, *flags):
    """``tool``'s main on ``checkpoint`` (serve: up to the point where it would start listening); the exit code."""
    if tool == 'serve':
        return load_script('serve').main(['--model', str(checkpoint), '--device', 'cpu', '--port', str(free_port()),
                                          *flags])
    source = photo_folder(tmp_path)
    argv = {
        'tiled_infer': ['-i', str(source), '-o', str(tmp_path / 'out'), '--format', 'png', '--device', 'cpu'],
        'evaluate': ['--pairs', str(source), str(source), '--skip-lpips', '--no-html', '--baselines', '',
                     '-o', str(tmp_path / 'report'), '--quiet', '--device', 'cpu'],
        'export_onnx': ['-o', str(tmp_path / 'grid.onnx')],
    }[tool]
    return load_script(tool).main([*argv, '--model', str(checkpoint), *flags])


@pytest.fixture(autouse=True)
def no_listening(monkeypatch):
    monkeypatch.setattr(uvicorn.Server, 'run', lambda *args, **kwargs: None)  # serve.py binds, then returns


def test_a_checkpoint_saved_by_the_model_loads_with_weights_only_and_records_how_it_was_trained(tmp_path):
    opt = test_enhance_model.model_opt(tmp_path, val={'tile': {'size': 64, 'overlap': 16}, 'tlc': True})
    model = build_model(opt)
    model.feed_data(test_enhance_model.fixed_batch())
    checkpoint = saved_checkpoint(model)
    loaded = torch.load(checkpoint, map_location='cpu', weights_only=True)
    assert set(loaded) == {'params', 'params_ema', TRAINED_WITH_KEY}
    assert loaded['params'].keys() == model.net_g.state_dict().keys()
    assert loaded[TRAINED_WITH_KEY] == {
        'network_g': {'type': 'NAFNet', **TINY_NAFNET},
        'inference': {'tile_size': 64, 'overlap': 16, 'tile_batch': 4, 'border_pad': 0, 'tlc': True,
                      'train_size': [1, 3, 32, 32], 'precision': 'fp32', 'channels_last': False}}
    # BasicSR's own loader (path.pretrain_network_g) still reads the weights
    (tmp_path / 'again').mkdir()
    again = test_enhance_model.model_opt(tmp_path / 'again')
    again['path']['pretrain_network_g'] = checkpoint
    torch.testing.assert_close(build_model(again).net_g.state_dict(), model.net_g.state_dict())


def test_a_whole_photo_model_trained_with_a_thumb_size_override_runs_as_trained_without_opt(
        forced_grid, tmp_path, capsys):
    checkpoint, _, as_trained = forced_grid
    tiled_infer = load_script('tiled_infer')
    args = tiled_infer.build_parser().parse_args(['-i', 'x', '-o', 'y', '--model', checkpoint, '--device', 'cpu'])
    settings = network_args.settings_from_args(args, checkpoint)
    assert delivery.make_enhancer(args, settings).net.thumb_size == 32
    source = photo_folder(tmp_path)
    outputs, printed = {}, {}
    for name, flags in (('recorded', []), ('as_trained', ['--opt', str(as_trained)])):
        code = tiled_infer.main(['-i', str(source), '-o', str(tmp_path / name), '--model', checkpoint,
                                 '--format', 'png', '--device', 'cpu', *flags])
        printed[name] = capsys.readouterr().out
        assert code == 0, printed[name]
        outputs[name] = cv2.imread(str(tmp_path / name / 'room.png'))
    assert f'settings saved in {checkpoint}' in printed['recorded']
    assert outputs['recorded'] is not None and np.array_equal(outputs['recorded'], outputs['as_trained'])


@pytest.mark.parametrize('tool', TOOLS)
def test_an_opt_that_contradicts_the_checkpoint_is_refused_in_one_line(forced_grid, tmp_path, capsys, tool):
    checkpoint, as_written, _ = forced_grid
    assert run_tool(tool, checkpoint, tmp_path, '--opt', str(as_written)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f'--opt {as_written} says network_g.thumb_size=64, the checkpoint was trained with 32' in err
    assert not (tmp_path / 'out').exists() or not any((tmp_path / 'out').iterdir())


@pytest.mark.parametrize('tool', TOOLS)
def test_every_tool_runs_a_recording_checkpoint_without_opt(forced_grid, tmp_path, capsys, tool):
    checkpoint, _, _ = forced_grid
    assert run_tool(tool, checkpoint, tmp_path) == 0, capsys.readouterr()


def test_a_recorded_bf16_runs_as_an_option_files_does_fp32_on_a_cpu_unless_asked_for():
    record = {'network_g': {'type': 'NAFNet', **TINY_NAFNET}, 'inference': {'precision': 'bf16', 'tile_size': 64}}
    settings = settings_from_record(record, 'settings saved in x.pth')
    assert settings.precision == 'bf16' and settings.for_device('cpu')[0].precision == 'fp32'
    assert settings.overridden(precision='bf16').for_device('cpu')[0].precision == 'bf16'


def nafnet_checkpoint(tmp_path):
    """A tiny NAFNet trained with 64 px validation tiles and TLC on; its checkpoint."""
    opt = test_enhance_model.model_opt(tmp_path, val={'tile': {'size': 64, 'overlap': 16}, 'tlc': True})
    model = build_model(opt)
    model.feed_data(test_enhance_model.fixed_batch())
    return saved_checkpoint(model), opt


def test_flags_given_win_over_the_opt_and_the_record_and_are_not_refused(tmp_path):
    checkpoint, opt = nafnet_checkpoint(tmp_path)
    other = tmp_path / 'other_tiles.yml'
    other.write_text(yaml.safe_dump({**opt, 'val': {'tile': {'size': 128, 'overlap': 32}, 'tlc': True}}))
    parser = load_script('tiled_infer').build_parser()

    def settings(*flags):
        return network_args.settings_from_args(parser.parse_args(['-i', 'x', '-o', 'y', '--model', checkpoint,
                                                                  *flags]), checkpoint)

    recorded = settings()
    assert (recorded.tile_size, recorded.overlap, recorded.tlc, recorded.train_size) == (64, 16, True, (1, 3, 32, 32))
    assert 'settings saved in' in recorded.describe()
    assert settings('--tile-size', '96', '--no-tlc').tile_size == 96
    with pytest.raises(ValueError, match=r'says val.tile.size=128, the checkpoint was trained with 64'):
        settings('--opt', str(other))
    given = settings('--opt', str(other), '--tile-size', '96', '--overlap', '8')
    assert (given.tile_size, given.overlap) == (96, 8)


def test_an_architecture_flag_given_must_agree_with_the_record(tmp_path, capsys):
    checkpoint, _ = nafnet_checkpoint(tmp_path)
    parser = load_script('tiled_infer').build_parser()

    def network(*flags, model=checkpoint):
        args = parser.parse_args(['-i', 'x', '-o', 'y', '--model', str(model), *flags])
        return network_args.network_opt_from_args(args, model)

    recorded = network()
    width, enc = recorded['width'], recorded['enc_blk_nums']
    assert network('--width', str(width), '--arch', 'NAFNet') == recorded  # a flag that agrees is no contradiction
    with pytest.raises(ValueError, match=rf'--width {2 * width} contradicts the checkpoint, trained with '
                                         rf'network_g.width={width} \(leave out --width'):
        network('--width', str(2 * width))
    with pytest.raises(ValueError, match=re.escape(f'--enc-blks 9 9 contradicts the checkpoint, trained with '
                                                   f'network_g.enc_blk_nums={enc}')):
        network('--enc-blks', '9', '9')
    assert run_tool('tiled_infer', checkpoint, tmp_path, '--width', str(2 * width)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f'--width {2 * width} contradicts the checkpoint' in err, err
    # a checkpoint without the record: the flags given over the defaults, as before
    old_style = tmp_path / 'old.pth'
    torch.save({'params': torch.load(checkpoint, weights_only=True)['params']}, old_style)
    assert network(model=old_style) == {'type': 'NAFNet', 'img_channel': 3, 'width': 32, 'middle_blk_num': 12,
                                        'enc_blk_nums': [2, 2, 4, 8], 'dec_blk_nums': [2, 2, 2, 2]}
    assert network('--width', '8', '--enc-blks', '1', '1', model=old_style)['enc_blk_nums'] == [1, 1]


def test_an_old_style_checkpoint_still_works_with_opt_and_its_mismatch_names_the_experiment_file(
        forced_grid, tmp_path, capsys):
    checkpoint, _, as_trained = forced_grid
    experiment = tmp_path / 'experiments' / 'grid'
    (experiment / 'models').mkdir(parents=True)
    old_style = experiment / 'models' / 'net_g_2.pth'
    torch.save({'params': torch.load(checkpoint, weights_only=True)['params']}, old_style)
    (experiment / 'grid.yml').write_text(as_trained.read_text())
    assert run_tool('tiled_infer', old_style, tmp_path / 'a', '--opt', str(as_trained), '--device', 'cpu') == 0
    capsys.readouterr()
    # without --opt an old file runs the architecture flags as before (NAFNet width 32): the keys do not fit
    assert run_tool('tiled_infer', old_style, tmp_path / 'b', '--device', 'cpu') == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f'the option file it was trained with: {experiment / "grid.yml"}' in err


def test_training_from_a_checkpoint_that_does_not_fit_names_the_network_it_was_trained_with(tmp_path):
    for name in ('first', 'second'):
        (tmp_path / name).mkdir()
    checkpoint, _ = nafnet_checkpoint(tmp_path / 'first')
    opt = test_enhance_model.model_opt(tmp_path / 'second', network={'type': 'NAFNet', **TINY_NAFNET, 'width': 16})
    opt['path']['pretrain_network_g'] = checkpoint
    with pytest.raises(CheckpointMismatchError) as caught:
        build_model(opt)
    assert '\n' not in str(caught.value)
    assert 'it was trained with network_g {type: NAFNet, img_channel: 3, width: 8,' in str(caught.value)


@pytest.mark.slow  # train.py in a fresh process: ~30 s here
def test_train_py_with_a_forced_thumb_size_saves_it_and_the_experiment_copy_is_refused(
        tmp_path, experiment_name, capsys):
    data_dir = tmp_path / 'data'
    write_held_out_pairs(data_dir, 3, size=(64, 96))
    opt = tiny_training_options(experiment_name, data_dir, total_iter=2,
                                train_dataset={'type': 'WholePhotoDataset', 'thumb_size': 32, 'gt_size': 32})
    opt['model_type'] = 'WholePhotoModel'
    opt['network_g'] = dict(test_whole_photo_model.GRID)
    opt_path = tmp_path / 'grid.yml'
    opt_path.write_text(yaml.safe_dump(opt, sort_keys=False))
    result = subprocess.run([sys.executable, str(REPO / 'realestate_sr' / 'train.py'), '-opt', str(opt_path),
                             '--force_yml', 'network_g:thumb_size=16', 'datasets:train:thumb_size=16'],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    experiment = REPO / 'experiments' / experiment_name
    copied = experiment / 'grid.yml'
    assert yaml.safe_load(copied.read_text())['network_g']['thumb_size'] == 32  # BasicSR copies the file as given
    checkpoint = experiment / 'models' / 'net_g_latest.pth'
    assert torch.load(checkpoint, weights_only=True)[TRAINED_WITH_KEY]['network_g']['thumb_size'] == 16
    capsys.readouterr()
    assert run_tool('tiled_infer', checkpoint, tmp_path / 'copy', '--opt', str(copied)) == 2
    assert (f'--opt {copied} says network_g.thumb_size=32, the checkpoint was trained with 16'
            in capsys.readouterr().err)
    assert run_tool('tiled_infer', checkpoint, tmp_path / 'recorded') == 0


@pytest.fixture
def opt_file_opens(monkeypatch):
    """The times the option file at ``opt_file_opens.path`` is opened from now on: {'path': ..., 'count': n}."""
    import builtins
    import io
    import os
    seen = {'path': None, 'count': 0}
    real_open = io.open

    def counting_open(file, *args, **kwargs):
        if seen['path'] is not None and isinstance(file, (str, os.PathLike)) and \
                os.path.abspath(os.fspath(file)) == os.path.abspath(seen['path']):
            seen['count'] += 1
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, 'open', counting_open)  # pathlib's read_text opens through io.open
    monkeypatch.setattr(builtins, 'open', counting_open)
    return seen


@pytest.mark.parametrize('recorded', [True, False], ids=['with_record', 'without_record'])
@pytest.mark.parametrize('tool', TOOLS)
def test_each_tool_reads_its_opt_once(forced_grid, tmp_path, capsys, opt_file_opens, tool, recorded):
    checkpoint, _, as_trained = forced_grid
    if not recorded:
        checkpoint = tmp_path / 'old_style.pth'
        torch.save({'params': torch.load(forced_grid[0], weights_only=True)['params']}, checkpoint)
    opt_file_opens['path'] = as_trained
    assert run_tool(tool, checkpoint, tmp_path, '--opt', str(as_trained)) == 0, capsys.readouterr()
    assert opt_file_opens['count'] == 1
