"""scripts/benchmark.py --quick end to end: a tiny benchmark, one tiny recipe, every table and file."""
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from realestate_sr.prep.bench_build import BenchSettings, build_bench
from realestate_sr.prep.photo_sources import load_source_list
from tests.test_bench.conftest import TINY_SIDE
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


@pytest.mark.slow
def test_quick_run_trains_scores_and_writes_the_tables(tmp_path, source_list, prefix):
    bench = build_bench(tmp_path / 'bench', load_source_list(source_list), tmp_path / 'cache',
                        BenchSettings(max_side=TINY_SIDE, train_variants=1, eval_variants=1, test_fraction=0.4,
                                      val_fraction=0.2), log=lambda _: None).out
    recipe = tiny_training_options('tiny', tmp_path / 'unused', total_iter=400, tile={'size': 64, 'overlap': 16})
    recipe['datasets']['train']['gt_size'] = 32
    recipe_path = tmp_path / 'tiny_recipe.yml'
    recipe_path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / 'results'

    result = run_benchmark(str(recipe_path), '--quick', '--data', str(bench), '-o', str(out),
                           '--experiment-prefix', prefix)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads((out / 'benchmark.json').read_text())
    assert document['quick'] and document['iters_override'] == 2 and not document['failures']
    families = {'amateur', 'camera_pipeline', 'mixed_light', 'listing_hdr'}
    assert set(document['summaries']) == {'overall'} | families
    overall = document['summaries']['overall']
    assert set(overall) == {'input', 'auto_correct', 'oracle_poly', 'oracle_lut', 'tiny_recipe'}
    for method in overall.values():
        assert {'psnr', 'ssim', 'de00', 'l1'} <= set(method)  # and any metric evaluate.py adds
    assert overall['oracle_poly']['psnr'][0] > overall['input']['psnr'][0]  # fitted on the target: the ceiling
    cost = document['costs']['tiny_recipe']
    assert cost['budget'] == '2 x 2 x 32²' and cost['train_s'] > 0 and cost['gmac_per_listing_photo'] > 0
    assert cost['infer_s_per_photo'] > 0 and cost['eval_peak_mb'] > 0
    trained = yaml.safe_load((out / 'options' / 'tiny_recipe.yml').read_text())
    assert trained['datasets']['train']['meta_file'] == str(bench.resolve() / 'train.jsonl')
    markdown = (out / 'benchmark.md').read_text()
    assert '## mixed_light (held out: never trained on)' in markdown and 'Quick run: not a result' in markdown
    assert markdown in result.stdout
    assert (REPO / 'experiments' / f'{prefix}tiny_recipe' / 'models' / 'net_g_latest.pth').is_file()


@pytest.mark.slow  # a fresh process that imports torch and basicsr
def test_missing_benchmark_data_is_one_line_and_exit_2(tmp_path):
    result = run_benchmark('--data', str(tmp_path / 'nothing'), '-o', str(tmp_path / 'out'))
    assert result.returncode == 2 and 'make_bench_data.py' in result.stderr
    assert result.stderr.count('\n') == 1 and not (tmp_path / 'out').exists()
