"""The whole-photo recipes: the GB10 recipe reads what make_lmdb writes, the demo is the benchmark's best recipe."""
import copy
from pathlib import Path

import yaml

from realestate_sr.data.pair_lists import load_manifest
from realestate_sr.data.paired_listing_dataset import PairedListingDataset
from realestate_sr.data.whole_photo_dataset import WholePhotoDataset
from realestate_sr.models.option_checks import training_option_problems
from realestate_sr.prep.lmdb_build import BuildOptions, build_lmdb
from tests.test_data.synthetic_pairs import make_pair_set
from tests.test_options import differing_keys

OPTIONS = Path(__file__).resolve().parents[1] / 'options'
# the benchmark recipe that options/demo.yml trains on the demo pairs (docs/benchmark.md, "Whole-photo recipes")
BASELINE_RECIPE = 'bench/bilateral_grid_whole.yml'  # the benchmark's baseline grid
DEMO_RECIPE = BASELINE_RECIPE  # the statistics input hurt the held-out capture family (docs/benchmark.md)


def load(name):
    return yaml.safe_load((OPTIONS / name).read_text())


def test_gb10_grid_recipe_is_a_whole_photo_bf16_recipe_that_passes_the_start_up_checks():
    opt = load('bilateral_grid_gb10.yml')
    train_set, network = opt['datasets']['train'], opt['network_g']
    assert (opt['model_type'], train_set['type'], network['type']) == ('WholePhotoModel', 'WholePhotoDataset',
                                                                        'BilateralGridNet')
    assert train_set['thumb_size'] == network['thumb_size'] and 256 <= network['thumb_size'] <= 512
    assert train_set['cache'] == 'memory' and train_set['io_backend']['type'] == 'lmdb'
    assert opt['train']['bf16'] is True and opt['val']['tile'] is None
    assert opt['train']['whole_opt']['type'] == 'PixelL1Loss'  # the benchmark's best recipe scores whole photos
    assert sum(opt['train']['scheduler']['periods']) == opt['train']['total_iter']
    assert training_option_problems(opt, cuda_available=True) == []


def test_gb10_grid_recipe_datasets_read_what_make_lmdb_writes(tmp_path, monkeypatch):
    manifest, _, _ = make_pair_set(tmp_path / 'raw', sizes=[(40, 56)] * 10)
    pairs = load_manifest(manifest)
    summary = build_lmdb(pairs, tmp_path / 'datasets' / 'listings_lmdb',
                         BuildOptions(checks=False, val_fraction=0.25, test_names=(pairs[0].name,)))
    monkeypatch.chdir(tmp_path)  # the option file's paths are relative to the repository root
    datasets = {}
    for phase, dataset_opt in load('bilateral_grid_gb10.yml')['datasets'].items():
        dataset_opt = dict(copy.deepcopy(dataset_opt), phase=phase, gt_size=16, thumb_size=32)
        datasets[phase] = (WholePhotoDataset if dataset_opt['type'] == 'WholePhotoDataset'
                           else PairedListingDataset)(dataset_opt)
    for phase, dataset in datasets.items():
        assert len(dataset) == summary.split_counts[phase] > 0
    sample = datasets['train'][0]
    assert sample['lq'].shape == (3, 16, 16) and sample['lq_thumb'].shape == (3, 32, 32)
    assert sample['box'].shape == (4,)
    assert datasets['val'][0]['gt'].shape == (3, 40, 56)  # validation sees whole photos


def test_the_demo_trains_the_benchmarks_best_recipe_on_the_demo_pairs():
    demo, recipe = load('demo.yml'), load(DEMO_RECIPE)
    # only what points it at the demo pairs differs: network, losses, optimiser and budget are the recipe's
    assert differing_keys(demo, recipe) <= {
        'name', 'datasets.train.name', 'datasets.train.dataroot', 'datasets.train.meta_file',
        'datasets.train.dataset_enlarge_ratio', 'datasets.val.name', 'datasets.val.dataroot',
        'datasets.val.meta_file', 'val.save_img', 'logger.save_checkpoint_freq', 'logger.use_tb_logger',
        'logger.print_freq', 'val.best'}  # the demo keeps models/net_g_best.pth
    assert demo['datasets']['train']['meta_file'] == 'datasets/demo/train.jsonl'
    assert demo['datasets']['val']['meta_file'] == 'datasets/demo/val.jsonl'
    assert training_option_problems(demo, cuda_available=False) == []


def test_the_stats_recipe_is_the_default_recipe_with_only_the_statistics_input_on():
    stats = load('bench/bilateral_grid_whole_stats.yml')
    assert differing_keys(load(BASELINE_RECIPE), stats) == {'name', 'network_g.stats_input'}
    assert stats['network_g']['stats_input'] is True and stats['name'] != load(BASELINE_RECIPE)['name']


def test_the_grid_cpu_check_keeps_the_light_map_and_thumbnails_of_one_size():
    # the rest of what it changes: tests/test_options.py, test_a_cpu_check_is_its_gb10_recipe_...
    check = load('bilateral_grid_gb10_cpu_check.yml')
    assert check['network_g']['gain_cells'] > 0
    assert check['datasets']['train']['thumb_size'] == check['network_g']['thumb_size']
