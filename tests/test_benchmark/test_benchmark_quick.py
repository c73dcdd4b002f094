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
