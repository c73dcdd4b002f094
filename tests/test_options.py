"""Every option file under options/ names things that exist, so a typo fails here, not on a GPU box."""
import copy
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from realestate_sr import training
from realestate_sr.archs.bilateral_grid_arch import BilateralGridNet
from realestate_sr.archs.network_loading import build_inference_network
from realestate_sr.data.pair_lists import load_manifest
from realestate_sr.data.paired_listing_dataset import PairedListingDataset
from realestate_sr.data.whole_photo_dataset import WholePhotoDataset
from realestate_sr.models.enhance_model import OPTIMIZERS
from realestate_sr.models.option_checks import (
    OptionKeyError,
    check_training_options,
    model_option_keys,
    training_option_problems,
)
from realestate_sr.options import REMOVED_KEYS, RemovedOptionError
from realestate_sr.prep.lmdb_build import BuildOptions, build_lmdb
from tests.test_data.synthetic_pairs import make_pair_set

from basicsr.archs import build_network
from basicsr.utils.registry import DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

OPTION_DIR = Path(__file__).resolve().parents[1] / 'options'
OPTION_FILES = sorted(OPTION_DIR.glob('*.yml'))
SHIPPED_OPTION_FILES = OPTION_FILES + sorted((OPTION_DIR / 'bench').glob('*.yml'))  # the benchmark's recipes too


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
    for loss in ('pixel_opt', 'perceptual_opt'):
        assert opt['train'].get(loss, {'type': 'PixelL1Loss'})['type'] in LOSS_REGISTRY
    assert opt['train']['optim_g']['type'] in OPTIMIZERS
    for metric in opt['val']['metrics'].values():
        assert metric['type'] in METRIC_REGISTRY, metric['type']
    train_set = opt['datasets']['train']
    if 'enc_blk_nums' in opt['network_g']:  # a U-Net's patches divide by 2 per encoder stage
        assert train_set['gt_size'] % 2**len(opt['network_g']['enc_blk_nums']) == 0
    scheduler = opt['train']['scheduler']
    assert sum(scheduler['periods']) == opt['train']['total_iter']
    net = build_network(dict(opt['network_g']))
    assert sum(p.numel() for p in net.parameters()) > 0


def differing_keys(first, second, prefix=''):
    """Dotted paths of the keys whose values differ between two option dicts (absent counts as a value)."""
    if not (isinstance(first, dict) and isinstance(second, dict)):
        return set() if first == second else {prefix}
    paths = set()
    for key in set(first) | set(second):
        paths |= differing_keys(first.get(key, '<absent>'), second.get(key, '<absent>'),
                                f'{prefix}.{key}' if prefix else key)
    return paths


# what each CPU check changes in its GB10 recipe: name, device, sizes, budget, random trunks
CPU_CHECK_CHANGES = {
    'name', 'num_gpu', 'dist_params',
    'datasets.train.gt_size', 'datasets.train.batch_size_per_gpu', 'datasets.train.num_worker_per_gpu',
    'datasets.train.dataset_enlarge_ratio', 'datasets.train.pin_memory', 'datasets.train.prefetch_mode',
    'train.bf16', 'train.ema_decay', 'train.total_iter', 'train.scheduler.periods',
    'val.val_freq', 'val.metrics.lpips.device', 'val.metrics.lpips.random_backbone_for_testing',
    'logger.print_freq', 'logger.save_checkpoint_freq'}


@pytest.mark.parametrize('recipe, own_changes, layout', [
    ('nafnet_gb10', {'network_g.width', 'network_g.middle_blk_num', 'network_g.enc_blk_nums', 'network_g.dec_blk_nums',
                     'train.perceptual_opt.use_random_vgg_weights_for_testing',
                     'val.tile.size', 'val.tile.overlap', 'val.tile.batch'},
     lambda network: len(network['enc_blk_nums'])),  # same stages
    ('bilateral_grid_gb10', {'datasets.train.thumb_size', 'network_g.thumb_size', 'network_g.width',
                             'network_g.blocks_per_level', 'network_g.max_width', 'network_g.lut_size',
                             'network_g.gain_cells'},
     lambda network: network['levels']),  # same grid
])
def test_a_cpu_check_is_its_gb10_recipe_with_only_sizes_device_and_random_trunks_changed(recipe, own_changes, layout):
    gb10, check = load_option_file(f'{recipe}.yml'), load_option_file(f'{recipe}_cpu_check.yml')
    assert differing_keys(gb10, check) == CPU_CHECK_CHANGES | own_changes
    assert layout(check['network_g']) == layout(gb10['network_g'])
    assert check['num_gpu'] == 0 and check['datasets']['train']['prefetch_mode'] is None
    assert training_option_problems(check, cuda_available=False) == []  # runs on a machine without CUDA


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
    assert opt['train']['pixel_opt'] == {'type': 'PixelL1Loss', 'loss_weight': 1.0}
    perceptual = opt['train']['perceptual_opt']
    assert (perceptual['type'], perceptual['perceptual_weight']) == ('VGGPerceptualLoss', 0.1)
    assert set(perceptual['layer_weights']) == {'conv3_4', 'conv4_4', 'conv5_4'}
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


@pytest.mark.parametrize('name', ['nafnet_gb10.yml', 'nafnet_gb10_finetune_sidd.yml', 'nafnet_gb10_cpu_check.yml'])
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


# --- start-up checks of the option file -----------------------------------------------------------------------------
@pytest.mark.parametrize('path', SHIPPED_OPTION_FILES, ids=lambda p: str(p.relative_to(OPTION_DIR)))
def test_every_option_file_passes_the_start_up_checks(path):
    assert training_option_problems(yaml.safe_load(path.read_text()), cuda_available=True) == []


def rename_key(block, old, new):
    block[new] = block.pop(old)


TYPOS = [  # (edit of the gb10 recipe, the one line it must give)
    (lambda o: rename_key(o['val'], 'val_freq', 'val_frq'), "unknown key 'val_frq' in val (did you mean 'val_freq'?)"),
    (lambda o: rename_key(o['datasets']['train'], 'batch_size_per_gpu', 'batch_size_per_gpus'),
     "unknown key 'batch_size_per_gpus' in datasets.train (did you mean 'batch_size_per_gpu'?)"),
    (lambda o: rename_key(o['train'], 'total_iter', 'total_iters'),
     "unknown key 'total_iters' in train (did you mean 'total_iter'?)"),
    (lambda o: rename_key(o, 'network_g', 'netwrok_g'),
     "unknown key 'netwrok_g' in the option file (did you mean 'network_g'?)"),
    (lambda o: rename_key(o['train']['perceptual_opt'], 'perceptual_weight', 'perceptual_wieght'),
     "unknown key 'perceptual_wieght' in train.perceptual_opt (VGGPerceptualLoss) (did you mean 'perceptual_weight'?)"),
    (lambda o: rename_key(o['train']['pixel_opt'], 'loss_weight', 'loss_wieght'),
     "unknown key 'loss_wieght' in train.pixel_opt (PixelL1Loss) (did you mean 'loss_weight'?)"),
    (lambda o: rename_key(o['datasets']['train'], 'use_hflip', 'use_hfilp'),
     "unknown key 'use_hfilp' in datasets.train (did you mean 'use_hflip'?)"),
    (lambda o: o['network_g'].update(widht=64), "unknown key 'widht' in network_g (NAFNet) (did you mean 'width'?)"),
    (lambda o: o['train']['optim_g'].update(weight_decya=0),
     "unknown key 'weight_decya' in train.optim_g (AdamW) (did you mean 'weight_decay'?)"),
    (lambda o: o['train']['scheduler'].update(eta_mni=0),
     "unknown key 'eta_mni' in train.scheduler (CosineAnnealingRestartLR) (did you mean 'eta_min'?)"),
    (lambda o: o['val']['metrics']['psnr'].update(test_y_chanel=True),
     "unknown key 'test_y_chanel' in val.metrics.psnr (calculate_psnr) (did you mean 'test_y_channel'?)"),
    (lambda o: o['val']['tile'].update(overlapp=8), "unknown key 'overlapp' in val.tile (did you mean 'overlap'?)"),
    (lambda o: o['logger'].update(save_checkpoint_frq=1),
     "unknown key 'save_checkpoint_frq' in logger (did you mean 'save_checkpoint_freq'?)"),
    (lambda o: o['path'].update(pretrain_network=None),
     "unknown key 'pretrain_network' in path (did you mean 'pretrain_network_g'?)"),
    (lambda o: o['dist_params'].update(timeout=5),
     "unknown key 'timeout' in dist_params (did you mean 'timeout_minutes'?)"),
    (lambda o: o['train']['perceptual_opt'].update(type='VGGPerceptualLos'),
     "unknown type 'VGGPerceptualLos' in train.perceptual_opt (did you mean 'VGGPerceptualLoss'?)"),
    (lambda o: o['datasets']['train'].update(type='PairedListingDatset'),
     "unknown type 'PairedListingDatset' in datasets.train (did you mean 'PairedListingDataset'?)"),
    (lambda o: o['datasets']['val']['io_backend'].update(typ='lmdb'),
     "unknown key 'typ' in datasets.val.io_backend (did you mean 'type'?)"),
]


@pytest.mark.parametrize('edit, expected', TYPOS, ids=[expected.split("'")[1] for _, expected in TYPOS])
def test_a_typo_in_any_block_we_read_is_one_line_with_a_suggestion(edit, expected):
    opt = load_option_file('nafnet_gb10.yml')
    edit(opt)
    assert training_option_problems(opt, cuda_available=True) == [expected]


def test_network_keys_of_nafnet_local_include_its_base_class_keys():
    opt = load_option_file('nafnet_gb10.yml')
    opt['network_g'].update(type='NAFNetLocal', train_size=[1, 3, 512, 512])
    assert training_option_problems(opt, cuda_available=True) == []
    opt['network_g']['fast_ipm'] = True
    assert training_option_problems(opt, cuda_available=True) == [
        "unknown key 'fast_ipm' in network_g (NAFNetLocal) (did you mean 'fast_imp'?)"]


def test_cuda_settings_on_a_machine_without_cuda_name_the_setting_to_change():
    problems = training_option_problems(load_option_file('nafnet_gb10.yml'), cuda_available=False)
    assert problems == ['num_gpu: 1 but this machine has no CUDA device: set num_gpu: 0 to train on the CPU',
                        'datasets.train.prefetch_mode: cuda needs a CUDA device: set it to ~ (or cpu)',
                        'val.metrics.lpips.device: cuda needs a CUDA device: set device: cpu']
    with pytest.raises(OptionKeyError, match=r'^gb10\.yml: num_gpu: 1 but .*; datasets\.train'):
        check_training_options(load_option_file('nafnet_gb10.yml'), 'gb10.yml', cuda_available=False)


def parsed_with_force_yml(monkeypatch, tmp_path, *entries):
    """training.parse_and_check_options on the CPU check file with ``--force_yml entries``."""
    argv = ['train.py', '-opt', str(OPTION_DIR / 'nafnet_gb10_cpu_check.yml'), '--launcher', 'none']
    monkeypatch.setattr(sys, 'argv', argv + ['--force_yml', *entries])
    opt, _ = training.parse_and_check_options(str(tmp_path))
    assert sys.argv == argv + ['--force_yml', *entries]  # the whole command line is left for copy_option_file
    return opt


def test_force_yml_tilde_deletes_a_key_and_other_entries_still_set_values(monkeypatch, tmp_path):
    opt = parsed_with_force_yml(monkeypatch, tmp_path, 'val:metrics:lpips=~', 'train:total_iter=8')
    assert set(opt['val']['metrics']) == {'psnr', 'ssim', 'l1'} and opt['train']['total_iter'] == 8
    opt = parsed_with_force_yml(monkeypatch, tmp_path, 'datasets:train:cache=~')
    assert 'cache' not in opt['datasets']['train']


def test_force_yml_deleting_a_key_that_is_not_there_names_it(monkeypatch, tmp_path):
    with pytest.raises(OptionKeyError, match=r"--force_yml val:metrics:lpip=~: unknown key 'lpip' in val.metrics "
                                             r"\(did you mean 'lpips'\?\)"):
        parsed_with_force_yml(monkeypatch, tmp_path, 'val:metrics:lpip=~')


def test_a_misspelt_key_set_by_force_yml_is_caught_too(monkeypatch, tmp_path):
    with pytest.raises(OptionKeyError, match=r"unknown key 'val_frq' in val \(did you mean 'val_freq'\?\)"):
        parsed_with_force_yml(monkeypatch, tmp_path, 'val:val_frq=5')


def test_a_number_yaml_reads_as_text_is_one_line_naming_the_key_and_what_to_write():
    opt = load_option_file('nafnet_gb10.yml')
    opt.update(yaml.safe_load('train: {optim_g: {type: AdamW, lr: 5e-3, betas: [0.9, 1e-1]}}'))
    opt['name'] = '1e5_is_a_name'  # text that only starts like a number stays text
    assert isinstance(opt['train']['optim_g']['lr'], str)  # what PyYAML (YAML 1.1) makes of it
    assert training_option_problems(opt, cuda_available=True) == [
        "train.optim_g.lr: '5e-3' is text, not a number, to YAML (write 0.005 or !!float 5e-3)",
        "train.optim_g.betas[1]: '1e-1' is text, not a number, to YAML (write 0.1 or !!float 1e-1)"]


# --- warnings: settings that run, at a cost --------------------------------------------------------------------------
@pytest.mark.parametrize('cuda_available, num_gpu, warned', [(False, 0, True), (True, 0, True), (True, 1, False)])
def test_bf16_on_the_cpu_is_a_warning_naming_the_cost_and_the_way_out(caplog, cuda_available, num_gpu, warned):
    opt = load_option_file('nafnet_gb10_cpu_check.yml')
    opt['train']['bf16'], opt['num_gpu'] = True, num_gpu
    with caplog.at_level('WARNING', logger='realestate_sr.models.option_checks'):
        warnings = check_training_options(opt, 'check.yml', cuda_available=cuda_available)  # not an error
    assert len(warnings) == warned and [r.getMessage() for r in caplog.records] == [f'check.yml: {w}' for w in warnings]
    if warned:
        assert warnings[0].startswith('train.bf16: true but this run trains on the CPU')
        assert '10x' in warnings[0] and 'float32' in warnings[0] and '--force_yml train:bf16=false' in warnings[0]
    opt['train']['bf16'] = False
    assert check_training_options(opt, 'check.yml', cuda_available=cuda_available) == []


# (where in the option file, key, a value it used to take): the options removed after they lost on the benchmark
REMOVED = [(('network_g', ), 'colour_space', 'srgb'), (('train', ), 'light_opt', {'type': 'PixelL1Loss'}),
           (('network_g', ), 'white_box', True), (('network_g', ), 'style_codes', {'count': 1, 'dim': 8}),
           (('network_g', ), 'context', 0.5), (('datasets', 'train'), 'src_jitter', {'exposure_ev': 0.3}),
           (('datasets', 'train'), 'pair_mix', 0.5), (('datasets', 'train'), 'src_light_field', {'prob': 1.0})]


def with_removed_key(path, key, value):
    """options/demo.yml (a whole-photo recipe, where each of these keys once worked) with ``key: value`` added."""
    opt = load_option_file('demo.yml')
    block = opt
    for name in path:
        block = block[name]
    block[key] = value
    return opt


@pytest.mark.parametrize('path, key, value', REMOVED, ids=[key for _, key, _ in REMOVED])
def test_an_option_file_naming_a_removed_key_stops_at_start_up_with_one_line_saying_what_to_do(
        monkeypatch, tmp_path, path, key, value):
    option_file = tmp_path / 'old.yml'
    option_file.write_text(yaml.safe_dump(with_removed_key(path, key, value), sort_keys=False))
    monkeypatch.setattr(sys, 'argv', ['train.py', '-opt', str(option_file), '--launcher', 'none'])
    with pytest.raises(OptionKeyError) as raised:
        training.parse_and_check_options(str(tmp_path))
    what = REMOVED_KEYS['datasets' if path[0] == 'datasets' else path[0], key]
    assert str(raised.value) == (f'{option_file}: {".".join(path)}.{key} was removed ({what}); delete the {key} '
                                 'line from the option file')


def test_the_removed_keys_table_names_only_keys_nothing_reads_any_more():
    assert {key for _, key, _ in REMOVED} == {key for _, key in REMOVED_KEYS}
    assert not {'colour_space', 'white_box', 'style_codes', 'context'} & set(
        inspect.signature(BilateralGridNet).parameters)
    assert not {'src_jitter', 'pair_mix', 'src_light_field'} & WholePhotoDataset.OPTION_KEYS
    assert 'light_opt' not in model_option_keys()['train']


def test_a_network_g_naming_a_removed_key_is_refused_by_the_inference_builder_too():
    with pytest.raises(RemovedOptionError, match=r'^network_g\.colour_space was removed .*delete the colour_space '
                                                 r'line from the option file$'):
        build_inference_network({'type': 'BilateralGridNet', 'colour_space': 'linear'})


@pytest.mark.slow
def test_train_py_prints_the_removed_key_line_without_a_traceback(tmp_path):
    path = tmp_path / 'old.yml'
    path.write_text(yaml.safe_dump(with_removed_key(('train', ), 'light_opt', {'type': 'PixelL1Loss'}),
                                   sort_keys=False))
    done = subprocess.run([sys.executable, str(OPTION_DIR.parent / 'realestate_sr' / 'train.py'), '-opt', str(path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert 'Traceback' not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f'realestate_sr/train.py: error: {path}: train.light_opt was removed '
        f"({REMOVED_KEYS['train', 'light_opt']}); delete the light_opt line from the option file")
