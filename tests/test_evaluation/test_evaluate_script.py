"""scripts/evaluate.py end to end on tiny pairs and tiny random checkpoints: files written, parseable, consistent."""
import csv
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.test_inference.conftest import load_script

REPO = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location('evaluate_script', REPO / 'scripts' / 'evaluate.py')
evaluate_script = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(evaluate_script)

RANDOM_LPIPS = ['--lpips-random-backbone-for-testing']
REPORT_FILES = ['metrics.json', 'per_image.csv', 'summary.csv', 'summary.md', 'report.html',
                'contact_sheets/sheet_01.png']


def run(*args):
    return evaluate_script.main([str(a) for a in args] + ['--quiet', '--device', 'cpu'])


def read_csv(path):
    with open(path, newline='') as handle:
        return list(csv.DictReader(handle))


def test_models_tta_and_ensemble_write_consistent_tables(eval_pairs, tiny_model, tmp_path, capsys):
    opt_file, checkpoints = tiny_model
    out = tmp_path / 'report'
    code = run('--pairs', eval_pairs['manifest'], '--opt', opt_file, '--model', checkpoints[0], '--model',
               checkpoints[1], '--tta', '--ensemble', '--tile-size', 32, '--overlap', 8, '-o', out, *RANDOM_LPIPS)
    assert code == 0
    for name in REPORT_FILES:
        assert (out / name).is_file(), name
    # every model row names the checkpoint entry it ran (params_ema by preference)
    rows = ['input', 'auto_correct', 'fold0/net_g_latest@params_ema', 'fold0/net_g_latest@params_ema+tta',
            'fold1/net_g_latest@params_ema', 'fold1/net_g_latest@params_ema+tta', 'ensemble(2)@params_ema',
            'ensemble(2)@params_ema+tta']
    document = json.loads((out / 'metrics.json').read_text())
    assert [row['method'] for row in document['rows']] == rows
    assert len(document['images']) == 3 and document['failures'] == []
    assert set(document['metrics']) == {'psnr', 'ssim', 'lpips', 'l1', 'de00', 'highlight_l1', 'highlight_shift'}
    assert document['config']['metrics']['lpips']['random_backbone_for_testing'] is True
    assert document['config']['param_keys'] == {'fold0/net_g_latest@params_ema': 'params_ema',
                                                'fold1/net_g_latest@params_ema': 'params_ema'}

    per_image = read_csv(out / 'per_image.csv')
    assert len(per_image) == 3 * len(rows)
    summary = {row['method']: row for row in read_csv(out / 'summary.csv')}
    for row in rows:
        for metric in ('psnr', 'ssim', 'lpips', 'l1', 'de00'):
            values = [float(r[metric]) for r in per_image if r['method'] == row]
            assert float(summary[row][metric]) == pytest.approx(np.mean(values), rel=1e-9)
            json_mean = next(r['mean'][metric] for r in document['rows'] if r['method'] == row)
            assert json_mean == pytest.approx(np.mean(values), rel=1e-9)
    table = (out / 'summary.md').read_text()
    assert table.startswith('| method | images | PSNR ↑ | SSIM ↑ | LPIPS ↓ | L1 ↓ | dE00 ↓ | Highlight L1 ↓ | '
                            'Highlight shift →0 |')
    assert all(f'| {row} | 3 |' in table for row in rows)
    assert table in capsys.readouterr().out  # the table is also the summary on screen


def test_folders_and_pred_rows(eval_pairs, tmp_path):
    pred = tmp_path / 'perfect'
    shutil.copytree(eval_pairs['tar_dir'], pred)  # outputs identical to the targets
    out = tmp_path / 'report'
    code = run('--pairs', eval_pairs['src_dir'], eval_pairs['tar_dir'], '--pred', pred, '--skip-lpips',
               '--no-html', '-o', out)
    assert code == 0
    document = json.loads((out / 'metrics.json').read_text())
    means = {row['method']: row['mean'] for row in document['rows']}
    assert list(means) == ['input', 'auto_correct', 'pred:perfect']
    assert means['pred:perfect']['l1'] == 0 and means['pred:perfect']['de00'] == 0
    assert means['pred:perfect']['psnr'] == 'inf'  # JSON has no infinity; the string says it
    assert means['input']['l1'] > 0.05
    assert 'lpips' not in means['input']
    assert not (out / 'report.html').exists()


def test_several_manifests_are_manifests_and_two_folders_stay_two_folders(eval_pairs, tmp_path, capsys):
    root, lines = eval_pairs['root'], eval_pairs['manifest'].read_text().splitlines()
    (root / 'a.jsonl').write_text(lines[0] + '\n')
    (root / 'b.jsonl').write_text('\n'.join(lines[1:]) + '\n')
    out = tmp_path / 'report'
    assert run('--pairs', root / 'a.jsonl', root / 'b.jsonl', '--skip-lpips', '--no-html', '--baselines', 'input',
               '-o', out) == 0
    assert len(json.loads((out / 'metrics.json').read_text())['images']) == 3
    assert run('--pairs', root / 'a.jsonl', root / 'b.jsonl', root / 'a.jsonl', '--skip-lpips', '-o',
               tmp_path / 'twice') == 2
    assert 'is in' in capsys.readouterr().err
    assert run('--pairs', root / 'a.jsonl', eval_pairs['src_dir'], '--skip-lpips', '-o', tmp_path / 'mixed') == 2
    assert '--pairs takes JSONL manifests' in capsys.readouterr().err


def test_pred_outputs_are_found_in_the_tree_tiled_infer_rebuilt(eval_pairs, tmp_path, capsys):
    root, names = eval_pairs['root'], eval_pairs['names']
    lines = []
    for index, name in enumerate(names):  # a delivery of listings: src/listing<i>/room<i>.png
        for side in ('src', 'tar'):
            target = root / 'tree' / side / f'listing{index}' / name
            target.parent.mkdir(parents=True)
            shutil.copy(eval_pairs[f'{side}_dir'] / name, target)
        lines.append(json.dumps({'src': f'tree/src/listing{index}/{name}', 'tar': f'tree/tar/listing{index}/{name}'}))
    (root / 'tree.jsonl').write_text('\n'.join(lines) + '\n')
    pred = tmp_path / 'enhanced'
    shutil.copytree(root / 'tree' / 'tar', pred)  # as tiled_infer -i data/tree/src -o enhanced writes, perfect
    common = ['--pairs', root / 'tree.jsonl', '--pred', pred, '--skip-lpips', '--no-html', '--baselines', '']
    assert run(*common, '-o', tmp_path / 'report') == 0
    rows = json.loads((tmp_path / 'report' / 'metrics.json').read_text())['rows']
    assert rows[0]['method'] == 'pred:enhanced' and rows[0]['mean']['l1'] == 0
    shutil.copy(pred / 'listing0' / names[0], pred / 'listing0' / 'room0.jpg')
    assert run(*common, '-o', tmp_path / 'ambiguous') == 1
    assert 'fit pair tree/src/listing0/room0.png equally well' in capsys.readouterr().out


def test_pred_outputs_tiled_infer_wrote_with_a_suffix_are_scored_with_pred_suffix(eval_pairs, tiny_model, tmp_path,
                                                                                     capsys):
    opt_file, (checkpoint, _) = tiny_model
    pred = tmp_path / 'edited'
    assert load_script('tiled_infer').main(['-i', str(eval_pairs['src_dir']), '-o', str(pred), '--model',
                                            str(checkpoint), '--opt', str(opt_file), '--suffix', '_edit',
                                            '--format', 'png', '--device', 'cpu']) == 0
    assert sorted(path.name for path in pred.glob('room*')) == ['room0_edit.png', 'room1_edit.png', 'room2_edit.png']
    common = ['--pairs', eval_pairs['src_dir'], eval_pairs['tar_dir'], '--pred', pred, '--skip-lpips', '--no-html',
              '--baselines', '']
    capsys.readouterr()
    assert run(*common, '-o', tmp_path / 'without') == 1
    assert capsys.readouterr().out.count('--pred-suffix _edit') == 3  # each pair's failure names the flag
    assert run(*common, '--pred-suffix', '_edit', '-o', tmp_path / 'with') == 0
    document = json.loads((tmp_path / 'with' / 'metrics.json').read_text())
    assert len(document['images']) == 3 and document['config']['pred_suffix'] == '_edit'
    assert run('--pairs', eval_pairs['manifest'], '--pred-suffix', '_edit', '-o', tmp_path / 'alone') == 2
    assert '--pred-suffix applies to --pred folders' in capsys.readouterr().err


def test_a_manifest_that_climbs_out_of_its_folder_names_pairs_inside_their_folder(eval_pairs, tmp_path, capsys):
    first = json.loads(eval_pairs['manifest'].read_text().splitlines()[0])
    lists = tmp_path / 'lists' / 'deep' / 'er'
    lists.mkdir(parents=True)
    climb = '../../../data/'  # from lists/deep/er back to the data root
    (lists / 'one.jsonl').write_text(json.dumps({'src': climb + first['src'], 'tar': climb + first['tar']}) + '\n')
    out = tmp_path / 'report'
    assert evaluate_script.main(['--pairs', str(lists / 'one.jsonl'), '--skip-lpips', '--baselines', 'input',
                                 '-o', str(out), '--device', 'cpu']) == 0
    printed = capsys.readouterr()
    assert json.loads((out / 'metrics.json').read_text())['images'][0]['name'] == Path(first['src']).name
    assert '../' not in printed.out + printed.err and '../' not in (out / 'report.html').read_text()
    assert '1/1 pair scored, 0 failed, 1 row (input)' in printed.out  # one pair, one row: no "1 pairs"


def test_one_bad_pair_is_reported_and_the_rest_scored(eval_pairs, tmp_path, capsys):
    (eval_pairs['root'] / 'images' / '1_tar.png').write_bytes(b'not an image')
    out = tmp_path / 'report'
    code = run('--pairs', eval_pairs['manifest'], '--skip-lpips', '-o', out)
    assert code == 1
    document = json.loads((out / 'metrics.json').read_text())
    assert len(document['images']) == 2
    assert [f['name'] for f in document['failures']] == ['images/1_src.png']
    assert 'FAILED images/1_src.png' in capsys.readouterr().out


def test_missing_lpips_weights_stop_before_any_work(eval_pairs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'empty_torch_home'))
    out = tmp_path / 'report'
    assert run('--pairs', eval_pairs['manifest'], '-o', out) == 2
    error = capsys.readouterr().err
    assert 'alexnet-owt-7be5be79.pth' in error and '--skip-lpips' in error and '--lpips-weights' in error
    assert str(tmp_path / 'empty_torch_home' / 'hub' / 'checkpoints') in error
    assert 'https://download.pytorch.org/models/alexnet-owt-7be5be79.pth' in error
    assert not out.exists()


def test_dry_run_and_refusing_to_overwrite(eval_pairs, tmp_path, capsys):
    out = tmp_path / 'report'
    assert run('--pairs', eval_pairs['manifest'], '--skip-lpips', '--dry-run', '-o', out) == 0
    assert not out.exists()
    assert '3 pairs x 2 rows' in capsys.readouterr().out
    assert run('--pairs', eval_pairs['manifest'], '--skip-lpips', '--no-html', '-o', out) == 0
    assert run('--pairs', eval_pairs['manifest'], '--skip-lpips', '--no-html', '-o', out) == 2
    assert run('--pairs', eval_pairs['manifest'], '--skip-lpips', '--no-html', '--overwrite', '-o', out) == 0


def test_a_folder_holding_a_file_a_report_writes_is_left_alone(eval_pairs, tmp_path, capsys):
    notes = tmp_path / 'notes'
    notes.mkdir()
    (notes / 'summary.md').write_text('my own summary')
    assert run('--pairs', eval_pairs['manifest'], '--skip-lpips', '--no-html', '-o', notes) == 2
    assert 'summary.md' in capsys.readouterr().err
    assert (notes / 'summary.md').read_text() == 'my own summary'


@pytest.mark.parametrize('where', ['a file', 'the --pred folder', 'the folder of a --pred folder'])
def test_a_report_never_lands_on_or_around_what_is_scored(eval_pairs, tmp_path, capsys, where):
    pred = tmp_path / 'outputs' / 'enhanced'
    pred.mkdir(parents=True)
    for name in eval_pairs['names']:
        (pred / name).write_bytes((eval_pairs['src_dir'] / name).read_bytes())
    (tmp_path / 'outputs' / 'notes.txt').write_text('keep me')
    output = {'a file': tmp_path / 'outputs' / 'notes.txt', 'the --pred folder': pred,
              'the folder of a --pred folder': tmp_path / 'outputs'}[where]
    before = {path: path.read_bytes() for path in (tmp_path / 'outputs').rglob('*') if path.is_file()}
    assert run('--pairs', eval_pairs['src_dir'], eval_pairs['tar_dir'], '--pred', pred, '--skip-lpips', '--no-html',
               '--overwrite', '-o', output) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'nothing was written' in err, err
    assert {path: path.read_bytes() for path in (tmp_path / 'outputs').rglob('*') if path.is_file()} == before


@pytest.mark.parametrize('args, message', [
    (['--tta'], '--tta and --ensemble apply to --model'),
    (['--baselines', 'input,sharpen'], "unknown baseline(s) ['sharpen']"),
    (['--model', 'missing.pth', '--opt', 'x.yml'], 'checkpoint missing.pth not found'),
    (['--primary', 'nope'], "--primary 'nope' is not a row"),
])
def test_usage_errors(eval_pairs, tmp_path, capsys, args, message):
    assert run('--pairs', eval_pairs['manifest'], '--skip-lpips', '-o', tmp_path / 'r', *args) == 2
    assert message in capsys.readouterr().err


def test_help_runs_as_a_script():
    done = subprocess.run([sys.executable, str(REPO / 'scripts' / 'evaluate.py'), '--help'], capture_output=True,
                          text=True, cwd='/', timeout=120)
    assert done.returncode == 0
    assert '--lpips-random-backbone-for-testing' in done.stdout and '--ensemble' in done.stdout


def option_file_with_val(tiny_model, val):
    """The tiny model's option file with a ``val`` block added."""
    opt_file, checkpoints = tiny_model
    opt = yaml.safe_load(opt_file.read_text())
    with_val = opt_file.with_name('with_val.yml')
    with_val.write_text(yaml.safe_dump({**opt, 'val': val}))
    return with_val, checkpoints[0]


def model_l1_and_config(out):
    document = json.loads((out / 'metrics.json').read_text())
    row = next(r for r in document['rows'] if r['method'].startswith('fold0/net_g_latest@'))
    return row['mean']['l1'], document['config']


def test_tiling_and_tlc_default_to_the_option_files_val_block(eval_pairs, tiny_model, tmp_path):
    opt_file, checkpoint = option_file_with_val(tiny_model, {'tile': {'size': 32, 'overlap': 8, 'batch': 2},
                                                             'tlc': False})
    common = ['--pairs', eval_pairs['manifest'], '--model', checkpoint, '--skip-lpips', '--no-html',
              '--baselines', '']
    assert run(*common, '--opt', opt_file, '-o', tmp_path / 'yaml') == 0
    l1, config = model_l1_and_config(tmp_path / 'yaml')
    assert config['tile'] == {'size': 32, 'overlap': 8, 'batch': 2, 'border_pad': 0}
    assert config['tlc'] is False
    assert config['tile_and_tlc_defaults_from'] == f'val block of {opt_file}'
    # the same numbers as the flags spelled out, not those of the script's own defaults (512/64 tiles, TLC on)
    assert run(*common, '--opt', opt_file, '--tile-size', 32, '--overlap', 8, '--tile-batch', 2, '--no-tlc',
               '-o', tmp_path / 'flags') == 0
    assert model_l1_and_config(tmp_path / 'flags')[0] == l1
    tiny_opt_without_val = tiny_model[0]
    assert run(*common, '--opt', tiny_opt_without_val, '-o', tmp_path / 'script') == 0
    script_l1, script_config = model_l1_and_config(tmp_path / 'script')
    assert script_config['tile']['size'] == 512 and script_config['tlc'] is True
    assert script_config['tile_and_tlc_defaults_from'].startswith('script defaults')
    assert script_l1 != l1


def test_flags_given_win_over_the_val_block_and_a_null_tile_runs_whole_photos(eval_pairs, tiny_model, tmp_path):
    opt_file, checkpoint = option_file_with_val(tiny_model, {'tile': None, 'tlc': True})
    common = ['--pairs', eval_pairs['manifest'], '--opt', opt_file, '--model', checkpoint, '--skip-lpips',
              '--no-html', '--baselines', '']
    assert run(*common, '-o', tmp_path / 'whole') == 0
    whole_l1, config = model_l1_and_config(tmp_path / 'whole')
    assert config['tile']['size'] == 0 and config['tlc'] is True
    # tiles larger than every photo (at most 52x64) are the whole photo too
    assert run(*common, '--tile-size', 96, '-o', tmp_path / 'big_tile') == 0
    big_l1, big_config = model_l1_and_config(tmp_path / 'big_tile')
    assert big_config['tile'] == {'size': 96, 'overlap': 64, 'batch': 4, 'border_pad': 0} and big_config['tlc']
    assert big_l1 == pytest.approx(whole_l1, rel=1e-6)
    assert run(*common, '--no-tlc', '-o', tmp_path / 'no_tlc') == 0
    assert model_l1_and_config(tmp_path / 'no_tlc')[1]['tlc'] is False


def test_tlc_on_tiles_inside_its_window_is_warned_about_and_recorded(eval_pairs, tiny_model, tmp_path, capsys):
    # gt_size 32: the TLC window is 48x48, so 32 px tiles are pooled globally
    opt_file, checkpoint = option_file_with_val(tiny_model, {'tile': {'size': 32, 'overlap': 8}, 'tlc': True})
    common = ['--pairs', eval_pairs['manifest'], '--opt', opt_file, '--model', checkpoint, '--skip-lpips',
              '--no-html', '--baselines', '']
    assert run(*common, '-o', tmp_path / 'small') == 0
    error = capsys.readouterr().err
    assert 'TLC has no effect' in error and '48x48' in error and 'equals plain NAFNet' in error
    assert 'every 32x32 tile' in model_l1_and_config(tmp_path / 'small')[1]['tlc_without_effect']
    assert run(*common, '--tile-size', 0, '-o', tmp_path / 'whole') == 0
    assert 'TLC has no effect' not in capsys.readouterr().err
    assert model_l1_and_config(tmp_path / 'whole')[1]['tlc_without_effect'] is None


def test_precision_follows_the_training_autocast_only_when_it_runs_well_here(eval_pairs, tiny_model, tmp_path):
    """EnhanceModel validates under train.bf16's autocast, which evaluate.py --opt follows on a GPU; on a CPU
    (these tests) bf16 is ~10x slower, so it runs fp32 unless --precision bf16 asks for it."""
    opt_file, checkpoint = option_file_with_val(tiny_model, {'tile': {'size': 32, 'overlap': 8}, 'tlc': False})
    opt = yaml.safe_load(opt_file.read_text())
    opt.setdefault('train', {})['bf16'] = True
    opt_file.write_text(yaml.safe_dump(opt))
    common = ['--pairs', eval_pairs['manifest'], '--opt', opt_file, '--model', checkpoint, '--skip-lpips',
              '--no-html', '--baselines', '']
    assert run(*common, '--precision', 'bf16', '-o', tmp_path / 'bf16') == 0
    bf16_l1, bf16_config = model_l1_and_config(tmp_path / 'bf16')
    assert run(*common, '-o', tmp_path / 'fp32') == 0
    fp32_l1, fp32_config = model_l1_and_config(tmp_path / 'fp32')
    assert (bf16_config['precision'], fp32_config['precision']) == ('bf16', 'fp32')
    assert bf16_l1 != fp32_l1 and bf16_l1 == pytest.approx(fp32_l1, rel=2e-2)
