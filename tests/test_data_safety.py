"""No tool overwrites or deletes its inputs: every writing CLI, its output pointed at what it reads.

A delivery laid out as a user has it (``DATA/images/N_src.jpg`` + ``N_tar.jpg``, ``DATA/pairs.jsonl``, the same
photos in ``DATA/src`` and ``DATA/tar``, a checkpoint ``DATA/net.pth``, a test list ``DATA/test.txt``) is hashed
before and after each run. Every case points the output at an input file, at the folder holding the inputs, or at
an input folder itself, with ``--force`` where the tool has one: the run must exit non-zero with one error line and
leave every input as it was.
"""
import hashlib
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from realestate_sr.utils.output_safety import write_info
from tests.conftest import TINY_NAFNET
from tests.test_data.synthetic_pairs import good_photo_pairs, write_pair_set

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'scripts'))

NET_FLAGS = ['--width', str(TINY_NAFNET['width']), '--middle-blk-num', str(TINY_NAFNET['middle_blk_num']),
             '--enc-blks', *map(str, TINY_NAFNET['enc_blk_nums']), '--dec-blks', *map(str, TINY_NAFNET['dec_blk_nums'])]
TILE_FLAGS = ['--tile-size', '64', '--overlap', '16', '--device', 'cpu', '--precision', 'fp32', '--no-tlc']

# output targets, relative to DATA ('.' is DATA itself)
MANIFEST, PHOTO, CHECKPOINT = 'pairs.jsonl', 'images/0_src.jpg', 'net.pth'
INPUT_TARGETS = {'the manifest': MANIFEST, 'a photo': PHOTO, 'the folder of the inputs': '.',
                 'the photo folder': 'images', 'the src folder': 'src'}

# script -> (argv before the output, output flag, targets, extra argv)
CASES = {
    'make_lmdb': (['--pairs', '{DATA}/pairs.jsonl', '--workers', '1', '--no-checks', '--val-fraction', '0'],
                  '-o', INPUT_TARGETS, ['--force']),
    'make_lmdb (test list)': (['--pairs', '{DATA}/pairs.jsonl', '--test-list', '{DATA}/test.txt', '--workers', '1',
                               '--no-checks', '--val-fraction', '0'], '-o', {'the test list': 'test.txt'}, ['--force']),
    'make_lmdb (folders)': (['--src-dir', '{DATA}/src', '--tar-dir', '{DATA}/tar', '--workers', '1', '--no-checks',
                             '--val-fraction', '0'], '-o', INPUT_TARGETS, ['--force']),
    'check_pairs (report)': (['--pairs', '{DATA}/pairs.jsonl', '--workers', '1'], '-o', INPUT_TARGETS, []),
    'check_pairs (clean manifest)': (['--pairs', '{DATA}/pairs.jsonl', '--workers', '1', '-o', '{TMP}/checks.json'],
                                     '--exclude', INPUT_TARGETS, []),
    'check_pairs (contact sheet)': (['--pairs', '{DATA}/pairs.jsonl', '--workers', '1', '-o', '{TMP}/checks.json'],
                                    '--contact-sheet', INPUT_TARGETS, ['--overwrite']),
    'make_demo_data': (['--train-variants', '1', '--val-variants', '1'], '-o', INPUT_TARGETS, ['--force']),
    'make_planted_pairs': (['--good', '1', '--size', '48', '64'], '-o', INPUT_TARGETS, ['--force']),
    'tiled_infer': (['-i', '{DATA}/images', '--model', '{DATA}/net.pth', *NET_FLAGS, *TILE_FLAGS], '-o',
                    {'the photo folder': 'images', 'the folder of the inputs': '.', 'a photo': PHOTO}, []),
    'evaluate': (['--pairs', '{DATA}/pairs.jsonl', '--pred', '{DATA}/src', '--baselines', '', '--skip-lpips',
                  '--no-html', '-q'], '-o', INPUT_TARGETS, ['--overwrite']),
    'export_onnx': (['--model', '{DATA}/net.pth', *NET_FLAGS], '-o',
                    {'the checkpoint': CHECKPOINT, 'the folder of the inputs': '.'}, []),
}

# cases expected to fail until their tool guards its outputs; strict, so a fix shows up as an unexpected pass and
# the case is removed
NOT_YET_GUARDED = set()


def params():
    for case, (_, _, targets, _) in CASES.items():
        for target_name in targets:
            marks = [pytest.mark.xfail(strict=True, reason='output not yet checked against the inputs')] \
                if (case, target_name) in NOT_YET_GUARDED else []
            yield pytest.param(case, target_name, id=f'{case}->{target_name}', marks=marks)


def sha256_tree(folder):
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(Path(folder).rglob('*')) if path.is_file()}


@pytest.fixture
def delivery(tmp_path):
    data = tmp_path / 'DATA'
    write_pair_set(data, good_photo_pairs(2, size=(64, 80)), ext='.jpg', folder_names=['0_src.jpg', '1_src.jpg'],
                   manifest_name='pairs.jsonl')
    from realestate_sr.archs.nafnet_arch import NAFNet
    torch.save({'params': NAFNet(**TINY_NAFNET).state_dict()}, data / 'net.pth')
    (data / 'test.txt').write_text('images/1_src.jpg\n')
    return data


@pytest.mark.parametrize('case, target_name', list(params()))
def test_a_tool_pointed_at_its_inputs_refuses_and_leaves_them_intact(delivery, tmp_path, capsys, case, target_name):
    before_args, flag, targets, extra = CASES[case]
    script = importlib.import_module(case.split(' ')[0])
    target = delivery / targets[target_name]
    fill = {'DATA': str(delivery), 'TMP': str(tmp_path)}
    argv = [arg.format(**fill) for arg in before_args] + [flag, str(target)] + extra
    before = sha256_tree(delivery)
    try:
        code = script.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert sha256_tree(delivery).items() >= before.items(), f'{case} changed or removed an input'
    assert code not in (0, None), f'{case} -o {target_name} exited 0'
    error_lines = [line for line in err.splitlines() if 'error' in line.lower()]
    assert len(error_lines) == 1 and 'Traceback' not in err, err


CHECK_PAIRS_OUTPUTS = {'-o': 'checks.json', '--exclude': 'clean.jsonl', '--contact-sheet': 'sheet.png'}


@pytest.mark.parametrize('flag', list(CHECK_PAIRS_OUTPUTS))
def test_check_pairs_replaces_an_existing_file_only_with_overwrite(delivery, tmp_path, capsys, flag):
    """An existing file that is no input (a user's master manifest) is refused before any pair is read, and
    replaced with --overwrite."""
    script = importlib.import_module('check_pairs')
    outputs = {option: tmp_path / 'out' / name for option, name in CHECK_PAIRS_OUTPUTS.items()}
    outputs[flag] = tmp_path / 'master.jsonl'
    outputs[flag].write_text('{"src": "mine.jpg", "tar": "mine_edit.jpg"}\n')
    argv = ['--pairs', str(delivery / 'pairs.jsonl'), '--workers', '1',
            *(arg for option, path in outputs.items() for arg in (option, str(path)))]
    assert script.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'already exists' in err and '--overwrite' in err, err
    assert outputs[flag].read_text() == '{"src": "mine.jpg", "tar": "mine_edit.jpg"}\n'
    assert not (tmp_path / 'out').exists()  # refused before anything was written
    assert script.main(argv + ['--overwrite']) in (0, 1)
    assert outputs[flag].read_bytes() != b'{"src": "mine.jpg", "tar": "mine_edit.jpg"}\n'
    assert all(path.is_file() for path in outputs.values())


FOLDER_BUILDERS = {
    'make_lmdb': ['--pairs', '{DATA}/pairs.jsonl', '--workers', '1', '--no-checks', '--val-fraction', '0'],
    'make_demo_data': ['--train-variants', '1', '--val-variants', '1'],
    'make_planted_pairs': ['--good', '1', '--size', '48', '64'],
}


@pytest.mark.parametrize('script_name', list(FOLDER_BUILDERS))
def test_force_replaces_the_tools_own_folder_and_nothing_a_user_added(delivery, tmp_path, capsys, script_name):
    script = importlib.import_module(script_name)
    argv = [arg.format(DATA=delivery) for arg in FOLDER_BUILDERS[script_name]] + ['-o', str(tmp_path / 'out')]
    assert script.main(argv) == 0
    assert script.main(argv + ['--force']) == 0  # its own folder: rebuilt
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith('.out')]  # no temporary left
    (tmp_path / 'out' / 'my_notes.txt').write_text('keep me')
    capsys.readouterr()
    assert script.main(argv + ['--force']) == 2
    assert 'my_notes.txt' in capsys.readouterr().err
    assert (tmp_path / 'out' / 'my_notes.txt').read_text() == 'keep me'


def test_speed_dataloader_never_deletes_a_data_folder_it_did_not_write(tmp_path, capsys):
    script = importlib.import_module('speed_dataloader')
    users = tmp_path / 'work' / 'data'
    write_pair_set(users, good_photo_pairs(3, size=(40, 48)), ext='.jpg')
    before = sha256_tree(users)
    # 3 pairs there, 1 asked for: the old rule rebuilt (deleted) any data folder whose count differed
    code = script.main(['--workdir', str(tmp_path / 'work'), '--pairs', '1', '--size', '48', '64'])
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'not written by speed_dataloader' in err, err
    assert sha256_tree(users) == before


def test_speed_dataloader_rebuilds_only_what_it_generated(tmp_path):
    script = importlib.import_module('speed_dataloader')
    root = tmp_path / 'data'
    assert script.prepare_data(root, 1, (48, 64)) is True
    assert script.prepare_data(root, 1, (48, 64)) is False  # same pairs: reused
    (root / 'my_notes.txt').write_text('keep me')
    assert script.prepare_data(root, 2, (48, 64)) is True
    assert sorted(p.name for p in (root / 'tar').iterdir()) == ['000.jpg', '001.jpg']
    assert (root / 'my_notes.txt').read_text() == 'keep me'


def test_speed_dataloader_keeps_reusing_a_folder_it_wrote_as_bench_dataloader(tmp_path):
    script = importlib.import_module('speed_dataloader')
    root = tmp_path / 'data'
    root.mkdir()
    write_info(root, 'bench_dataloader', pairs=None, size=None)  # a run killed before the rename
    assert script.prepare_data(root, 1, (48, 64)) is True
    assert sorted(p.name for p in (root / 'tar').iterdir()) == ['000.jpg']


def dead_pid():
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    return child.pid


@pytest.mark.parametrize('script_name', ['make_demo_data', 'make_planted_pairs'])
def test_the_unfinished_build_of_a_killed_run_is_removed_at_the_next_run(tmp_path, capsys, script_name):
    script = importlib.import_module(script_name)
    output = tmp_path / 'out'
    stale, live = tmp_path / f'.out.partial-{dead_pid()}', tmp_path / f'.out.partial-{os.getppid()}'
    other = tmp_path / '.other.partial-999999999'
    for folder in (stale, live, other):
        (folder / 'images').mkdir(parents=True)
        (folder / 'images' / '0_src.jpg').write_bytes(b'half a photo')
    argv = [arg.format(DATA=tmp_path) for arg in FOLDER_BUILDERS[script_name]] + ['-o', str(output)]
    assert script.main(argv) == 0
    assert not stale.exists() and f'removed {stale.name}' in capsys.readouterr().out
    assert live.is_dir() and other.is_dir()  # a running build and another output's temporary stay
    assert (output / 'build_info.json').is_file()


def test_export_onnx_replaces_no_file_that_is_not_an_onnx_graph(delivery, capsys):
    script = importlib.import_module('export_onnx')
    other = delivery.parent / 'other_model.pth'
    other.write_bytes(b'another checkpoint')
    assert script.main(['--model', str(delivery / 'net.pth'), *NET_FLAGS, '-o', str(other)]) == 2
    assert 'not an .onnx file' in capsys.readouterr().err
    assert other.read_bytes() == b'another checkpoint'
