"""Every option file under options/ names things that exist, so a typo fails here, not on a GPU box."""
from pathlib import Path

import pytest
import yaml
from basicsr.archs import build_network
from basicsr.utils.registry import DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

from realestate_sr.models.enhance_model import OPTIMIZERS

OPTION_FILES = sorted((Path(__file__).resolve().parents[1] / 'options').glob('*.yml'))


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
    opt = yaml.safe_load((OPTION_FILES[0].parent / 'nafnet_gb10.yml').read_text())
    assert opt['network_g'] == {'type': 'NAFNet', 'img_channel': 3, 'width': 64, 'middle_blk_num': 12,
                                'enc_blk_nums': [2, 2, 4, 8], 'dec_blk_nums': [2, 2, 2, 2]}
    assert opt['train']['optim_g'] == {'type': 'AdamW', 'lr': 1e-3, 'weight_decay': 1e-4, 'betas': [0.9, 0.9]}
    assert opt['train']['bf16'] is True and opt['train']['ema_decay'] > 0
    assert opt['datasets']['train']['gt_size'] == 512 and opt['datasets']['train']['batch_size_per_gpu'] == 8
    assert opt['val']['tile'] == {'size': 512, 'overlap': 64, 'batch': 8}
    assert set(opt['val']['metrics']) == {'psnr', 'ssim', 'lpips', 'l1'}
