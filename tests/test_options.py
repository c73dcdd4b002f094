"""Every option file under options/ names things that exist, so a typo fails here, not on a GPU box."""
import copy
from pathlib import Path

import pytest
import yaml
from basicsr.archs import build_network
from basicsr.utils.registry import DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

from realestate_sr.data.lmdb_build import BuildOptions, build_lmdb
from realestate_sr.data.pair_lists import load_manifest
from realestate_sr.data.paired_listing_dataset import PairedListingDataset
from realestate_sr.models.enhance_model import OPTIMIZERS
from tests.test_data.synthetic_pairs import make_pair_set

OPTION_DIR = Path(__file__).resolve().parents[1] / 'options'
OPTION_FILES = sorted(OPTION_DIR.glob('*.yml'))


def load_option_file(name):
    return yaml.safe_load((OPTION_DIR / name).read_text())


def test_there_are_option_files():
    assert {p.name for p in OPTION_FILES} >= {'nafnet_gb10.yml', 'nafnet_gb10_finetune_sidd.yml', 'nafnet_demo.yml'}


@pytest.mark.parametrize('path', OPTION_FILES, ids=lambda p: p.name)
def test_option_file_names_registered_classes_and_a_buildable_network(path):
    opt = yaml.safe_load(path.read_text())
    assert opt['model_type'] in MODEL_REGISTRY
    for phase, dataset in opt['datasets'].items():
        assert dataset['type'] in DATASET_REGISTRY, (phase, dataset['type'])
    assert opt['train']['pixel_opt']['type'] in LOSS_REGISTRY
    assert opt['train']['optim_g']['type'] in OPTIMIZERS
    for metric in opt['val']['metrics'].values():
        assert metric['type'] in METRIC_REGISTRY, metric['type']
    train_set = opt['datasets']['train']
    assert train_set['gt_size'] % 2**len(opt['network_g']['enc_blk_nums']) == 0
    scheduler = opt['train']['scheduler']
    assert sum(scheduler['periods']) == opt['train']['total_iter']
    net = build_network(dict(opt['network_g']))
    assert sum(p.numel() for p in net.parameters()) > 0


def test_gb10_recipe_is_the_one_the_readme_promises():
    opt = load_option_file('nafnet_gb10.yml')
    assert opt['network_g'] == {'type': 'NAFNet', 'img_channel': 3, 'width': 64, 'middle_blk_num': 12,
                                'enc_blk_nums': [2, 2, 4, 8], 'dec_blk_nums': [2, 2, 2, 2]}
    assert opt['train']['optim_g'] == {'type': 'AdamW', 'lr': 1e-3, 'weight_decay': 1e-4, 'betas': [0.9, 0.9]}
    assert opt['train']['bf16'] is True and opt['train']['ema_decay'] > 0
    assert opt['datasets']['train']['gt_size'] == 512 and opt['datasets']['train']['batch_size_per_gpu'] == 8
    assert opt['val']['tile'] == {'size': 512, 'overlap': 64, 'batch': 8}
    assert set(opt['val']['metrics']) == {'psnr', 'ssim', 'lpips', 'l1'}
    assert opt['train']['scheduler'] == {'type': 'CosineAnnealingRestartLR', 'periods': [46000, 46000],
                                         'restart_weights': [1, 0.5], 'eta_min': 1e-7}
    assert opt['train']['total_iter'] == 92000
    loss = opt['train']['pixel_opt']
    assert (loss['type'], loss['l1_weight'], loss['perceptual_weight']) == ('L1PerceptualLoss', 1.0, 0.1)
    assert set(loss['layer_weights']) == {'conv3_4', 'conv4_4', 'conv5_4'}
    assert opt['datasets']['train']['use_hflip'] and opt['datasets']['train']['use_rot']
    assert opt['val']['val_freq'] == 2000 and opt['logger']['use_tb_logger'] is True


def test_sidd_finetune_differs_from_the_gb10_recipe_only_in_name_and_starting_weights():
    base, finetune = load_option_file('nafnet_gb10.yml'), load_option_file('nafnet_gb10_finetune_sidd.yml')
    assert finetune['path']['pretrain_network_g'].endswith('NAFNet-SIDD-width64.pth')
    assert finetune['path']['param_key_g'] == 'params' and finetune['name'] != base['name']
    for opt in (base, finetune):
        del opt['name']
        opt['path'] = {k: v for k, v in opt['path'].items() if k not in ('pretrain_network_g', 'param_key_g')}
    assert finetune == base


@pytest.mark.parametrize('name', ['nafnet_gb10.yml', 'nafnet_gb10_finetune_sidd.yml'])
def test_gb10_datasets_read_what_make_lmdb_writes(name, tmp_path, monkeypatch):
    """The dataset blocks, unchanged but for the cache, load the splits of a make_lmdb build at their paths."""
    manifest, _, _ = make_pair_set(tmp_path / 'raw', sizes=[(32, 48)] * 10)
    pairs = load_manifest(manifest)
    summary = build_lmdb(pairs, tmp_path / 'datasets' / 'listings_lmdb',
                         BuildOptions(checks=False, val_fraction=0.25, test_names=(pairs[0].name,)))
    monkeypatch.chdir(tmp_path)  # the option file's paths are relative to the repository root
    datasets = {}  # all alive at once, as in a training run: train and val read the same LMDBs
    for phase, dataset_opt in load_option_file(name)['datasets'].items():
        dataset_opt = dict(copy.deepcopy(dataset_opt), phase=phase, gt_size=16)
        datasets[phase] = PairedListingDataset(dataset_opt)  # train with its cache: memory, as configured
    for phase, dataset in datasets.items():
        assert len(dataset) == summary.split_counts[phase] > 0
        assert dataset[0]['gt'].shape[0] == 3
