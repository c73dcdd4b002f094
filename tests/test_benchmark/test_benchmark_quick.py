"""scripts/benchmark.py --quick end to end: a tiny benchmark, one tiny recipe, pieces, reuse, merge, the tables."""
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from realestate_sr.benchmark.build import BenchSettings, build_bench
from realestate_sr.benchmark.photo_sources import load_source_list
from tests.test_benchmark.conftest import TINY_SIDE
from tests.training_options import tiny_training_options

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def prefix():
    prefix = f'pytest_bench_{uuid.uuid4().hex[:8]}_'
    yield prefix
    for folder in (REPO / 'experiments', REPO / 'tb_logger'):
        for path in folder.glob(f'{prefix}*'):
            shutil.rmtree(path, ignore_errors=True)


def run_benchmark(*args):
    return subprocess.run([sys.executable, str(REPO / 'scripts' / 'benchmark.py'), *args], capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow  # 9 fresh processes that import torch (~95 CPU s)
def test_quick_run_trains_scores_writes_pieces_reuses_them_and_merges(tmp_path, source_list, prefix):
    bench = build_bench(tmp_path / 'bench', load_source_list(source_list), tmp_path / 'cache',
                        BenchSettings(max_side=TINY_SIDE, variants=1), log=lambda _: None).out
    recipe = tiny_training_options('tiny', tmp_path / 'unused', total_iter=400, tile={'size': 64, 'overlap': 16})
    recipe['datasets']['train']['gt_size'] = 32
    recipe_path = tmp_path / 'tiny_recipe.yml'
    recipe_path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / 'results'
    common = ['--recipes', str(recipe_path), '--quick', '--data', str(bench), '--experiment-prefix', prefix,
              '--train-variants', '1', '--keep-models']

    result = run_benchmark(*common, '-o', str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    pieces = sorted(p.name for p in (out / 'pieces').iterdir())
    assert pieces == ['references__listing_hdr.json', 'references__none.json',
                      'tiny_recipe__listing_hdr__test0__seed0__demo__photos-all.json',
                      'tiny_recipe__none__test0__seed0__demo__photos-all.json']
    piece = json.loads((out / 'pieces' / pieces[-1]).read_text())
    assert piece['settings']['total_iter'] == 2 and piece['cost']['budget'] == '2 x 2 x 32²'
    trained = yaml.safe_load((out / 'work' / pieces[-1].removesuffix('.json') / 'options.yml').read_text())
    train_rows = [json.loads(line) for line in Path(trained['datasets']['train']['meta_file']).read_text().splitlines()]
    scored = {pair['photo'] for pair in piece['pairs']}
    assert train_rows and not {row['photo'] for row in train_rows} & scored  # other photos, other scenes
    assert 'mixed_light' not in {row['family'] for row in train_rows}
    assert {pair['family'] for pair in piece['pairs']} >= {'mixed_light', 'amateur'}
    document = json.loads((out / 'benchmark.json').read_text())
    summary = document['summaries']['all styles / all capture families']
    assert set(summary) == {'input', 'auto_correct', 'tiny_recipe seed 0', 'oracle_lut', 'oracle_local'}
    assert summary['oracle_local']['psnr'][0] > summary['input']['psnr'][0]  # fitted on the target: a ceiling
    markdown = (out / 'benchmark.md').read_text()
    assert '### none / mixed_light (held out: never trained on)' in markdown and 'Quick run: not a result' in markdown
    assert (REPO / 'experiments' / f'{prefix}{pieces[-1].removesuffix(".json")}' / 'models' / 'net_g_latest.pth'
            ).is_file()

    stamps = {name: (out / 'pieces' / name).stat().st_mtime_ns for name in pieces}
    again = run_benchmark(*common, '-o', str(out), '--seeds', '1', '--tasks', 'none', '--no-references')
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert {name: (out / 'pieces' / name).stat().st_mtime_ns for name in pieces} == stamps  # reused, not redone
    assert (out / 'pieces' / 'tiny_recipe__none__test0__seed1__demo__photos-all.json').is_file()
    merged = run_benchmark('--merge', str(out), '-o', str(tmp_path / 'merged'))
    assert merged.returncode == 0, merged.stderr
    summaries = json.loads((tmp_path / 'merged' / 'benchmark.json').read_text())['summaries']
    assert 'tiny_recipe (mean of 2 seeds ± sd over seeds)' in summaries['none / all capture families']
    wrong_split = run_benchmark('--merge', str(out), '--split', 'val', '-o', str(tmp_path / 'merged_val'))
    assert wrong_split.returncode == 2 and 'add --split test' in wrong_split.stderr, wrong_split.stderr
    assert not (tmp_path / 'merged_val').exists()  # no empty tables written


@pytest.mark.slow  # a fresh process that imports torch and basicsr
def test_missing_benchmark_data_is_one_line_and_exit_2(tmp_path):
    result = run_benchmark('--data', str(tmp_path / 'nothing'), '-o', str(tmp_path / 'out'))
    assert result.returncode == 2 and 'make_bench_data.py' in result.stderr, result.stderr
    assert result.stderr.count('\n') == 1 and not (tmp_path / 'out').exists()


def tiny_whole_photo_recipe(path, style_codes, **extra):
    recipe = tiny_training_options('tiny', path.parent / 'unused', total_iter=400)
    recipe['model_type'] = 'WholePhotoModel'
    recipe['datasets']['train'].update(type='WholePhotoDataset', thumb_size=32, gt_size=32)
    recipe['network_g'] = {'type': 'BilateralGridNet', 'thumb_size': 32, 'width': 4, 'levels': 2, 'max_width': 8,
                           'grid_depth': 4, 'stats_input': True, 'style_codes': style_codes}
    path.write_text(yaml.safe_dump({**recipe, **extra}))
    return path


@pytest.mark.slow  # 4 fresh processes that import torch
def test_quick_base_run_pretrains_once_per_fold_on_unscored_photos_and_fine_tunes_from_it(tmp_path, source_list,
                                                                                          prefix):
    bench = build_bench(tmp_path / 'bench', load_source_list(source_list), tmp_path / 'cache',
                        BenchSettings(max_side=TINY_SIDE, variants=1, styles=('none', 'warm_natural')),
                        log=lambda _: None).out
    base = tiny_whole_photo_recipe(tmp_path / 'tiny_base.yml', {'count': 4, 'dim': 3},
                                   bench={'houses_per_photo': 2})
    fine_tune = tiny_whole_photo_recipe(tmp_path / 'tiny_fine_tune.yml', {'count': 1, 'dim': 3})
    out = tmp_path / 'results'
    common = ['--recipes', str(fine_tune), '--base', str(base), '--quick', '--k', '2', '--data', str(bench),
              '--experiment-prefix', prefix, '--train-variants', '1', '--tasks', 'warm_natural', '--no-references',
              '-o', str(out)]

    result = run_benchmark(*common)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    folder = out / 'bases' / 'tiny_base__fold0'
    settings = json.loads((folder / 'base_settings.json').read_text())['settings']
    assert (folder / 'net_g_base.pth').is_file() and settings['base_photos'] == ['astronaut']
    base_rows = [json.loads(line) for line in (folder / 'pairs' / 'pairs.jsonl').read_text().splitlines()]
    assert {row['photo'] for row in base_rows} == {'astronaut'}  # not the scored coffee/rocket, not the val chelsea
    assert {row['house'] for row in base_rows} <= set(range(4)) and len({row['house'] for row in base_rows}) == 2
    assert 'mixed_light' not in {row['family'] for row in base_rows}
    piece_name = 'tiny_fine_tune__warm_natural__test0__seed0__demo__photos-all__from-tiny_base'
    piece = json.loads((out / 'pieces' / f'{piece_name}.json').read_text())
    assert piece['key']['base'] == 'tiny_base' and piece['settings']['base'] == settings
    trained = yaml.safe_load((out / 'work' / piece_name / 'options.yml').read_text())
    assert trained['path']['pretrain_network_g'] == str(folder / 'net_g_base.pth')
    log = (out / 'logs' / f'{piece_name}_train.log').read_text()
    assert 'the mean of the checkpoint\'s 4 house codes' in log
    summary = json.loads((out / 'benchmark.json').read_text())['summaries']['all styles / all capture families']
    assert 'tiny_fine_tune [from tiny_base] seed 0' in summary

    stamp = (folder / 'net_g_base.pth').stat().st_mtime_ns
    scratch = run_benchmark(*[arg for arg in common if arg not in ('--base', str(base))])  # the same recipe, no base
    assert scratch.returncode == 0, scratch.stdout[-3000:] + scratch.stderr[-3000:]
    assert (out / 'pieces' / 'tiny_fine_tune__warm_natural__test0__seed0__demo__photos-all.json').is_file()
    again = run_benchmark(*common, '--seeds', '1')
    assert again.returncode == 0 and 'tiny_base__fold0: base reused' in again.stdout, again.stdout[-3000:]
    assert (folder / 'net_g_base.pth').stat().st_mtime_ns == stamp
    summary = json.loads((out / 'benchmark.json').read_text())['summaries']['all styles / all capture families']
    assert {'tiny_fine_tune seed 0', 'tiny_fine_tune [from tiny_base] seed 1'} <= set(summary)


@pytest.mark.slow  # a fresh process that imports torch and basicsr
def test_a_recipe_that_cannot_start_from_the_base_is_one_line_and_exit_2(tmp_path, source_list):
    bench = build_bench(tmp_path / 'bench', load_source_list(source_list), tmp_path / 'cache',
                        BenchSettings(max_side=TINY_SIDE, variants=1, styles=('none', )), log=lambda _: None).out
    base = tiny_whole_photo_recipe(tmp_path / 'tiny_base.yml', {'count': 4, 'dim': 3})
    three = tiny_whole_photo_recipe(tmp_path / 'three_houses.yml', {'count': 3, 'dim': 3})
    result = run_benchmark('--recipes', str(three), '--base', str(base), '--quick', '--data', str(bench), '-o',
                           str(tmp_path / 'out'))
    assert result.returncode == 2 and 'cannot fine-tune from base tiny_base' in result.stderr, result.stderr
    assert "style_codes: {'count': 3, 'dim': 3}" in result.stderr and not (tmp_path / 'out').exists()
