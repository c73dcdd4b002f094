"""The option dict a pre-flight check trains: the recipe as training reads it, pointed at synthetic storage.

``CheckPlan`` says how big the check is. The full check keeps every size of the recipe; ``quick_plan`` is the CPU
check CI runs, and ``shrink_for_cpu`` says, one note per change, what it changes in the recipe. Random VGG19 /
LPIPS trunks are used only when the caller asks (``random_weights``), and said so in a note.
"""
import copy
from dataclasses import dataclass
from pathlib import Path

from realestate_sr.models.option_checks import OptionKeyError, training_option_problems
from realestate_sr.options import OptionFileError, read_option_file
from realestate_sr.utils.wording import counted


class PreflightError(RuntimeError):
    """Something that would stop the real run (or the check itself); the message is the one line to print."""


@dataclass(frozen=True)
class CheckPlan:
    """How much the check does. ``photo_size`` (H, W) of the synthetic pairs, ``pairs`` of them (``val_pairs``
    held out for validation), ``iterations`` timed training steps fed by the data pipeline (``compute_iterations``
    more on one batch already on the device; each after ``warmup_iterations`` untimed ones), ``loader_batches``
    timed alone, each stage cut after ``stage_seconds``."""
    photo_size: tuple = (2200, 3300)
    pairs: int = 10
    val_pairs: int = 2
    iterations: int = 50
    compute_iterations: int = 20
    loader_batches: int = 20
    warmup_iterations: int = 2
    stage_seconds: float = 45.0
    quick: bool = False
    random_weights: bool = False


def quick_plan(random_weights=False):
    """The CPU check: small photos, a handful of iterations (what CI runs to keep the check working)."""
    return CheckPlan(photo_size=(220, 330), pairs=4, val_pairs=1, iterations=2, compute_iterations=1,
                     loader_batches=3, warmup_iterations=1, stage_seconds=30.0, quick=True,
                     random_weights=random_weights)


# --quick: sizes a CPU trains in seconds (and no bf16); the recipe's model, data layout, losses, metrics and
# channels_last
QUICK_SIZES = {'gt_size': 64, 'thumb_size': 64, 'batch_size_per_gpu': 2, 'num_worker_per_gpu': 2}
QUICK_TILE = {'size': 64, 'overlap': 16, 'batch': 2}
# a NAFNet larger than this many channels in its first stage trains too slowly on a CPU: one block per stage
QUICK_MAX_NAFNET_WIDTH = 16
QUICK_NAFNET = {'width': 8, 'middle_blk_num': 1}


def load_recipe(path):
    """The option file at ``path`` as a dict; PreflightError when it cannot be read or is not a mapping."""
    try:
        recipe = read_option_file(path).options
    except OptionFileError as error:
        raise PreflightError(f'--opt: {error}') from error
    problems = training_option_problems(recipe, cuda_available=True)  # typos first, whatever the machine
    if problems:
        raise OptionKeyError(f'{path}: ' + '; '.join(problems))
    return recipe


def needs_cuda(recipe):
    """The settings of ``recipe`` that need a CUDA device (empty when it trains on a CPU)."""
    settings = []
    if int(recipe.get('num_gpu', 0) or 0) > 0:
        settings.append(f'num_gpu: {recipe["num_gpu"]}')
    if ((recipe.get('datasets') or {}).get('train') or {}).get('prefetch_mode') == 'cuda':
        settings.append('datasets.train.prefetch_mode: cuda')
    for name, metric in (((recipe.get('val') or {}).get('metrics')) or {}).items():
        if str(metric.get('device', '')).startswith('cuda'):
            settings.append(f'val.metrics.{name}.device: cuda')
    return settings


def shrink_for_cpu(opt):
    """``opt`` changed in place to train on a CPU at QUICK_SIZES; returns one note per change."""
    notes = []
    if opt.get('num_gpu'):
        opt['num_gpu'] = 0
    train_set = opt['datasets']['train']
    train_set.update(prefetch_mode=None, pin_memory=False)
    for key, value in QUICK_SIZES.items():
        if key in train_set and train_set[key] > value:
            notes.append(f'datasets.train.{key} {train_set[key]} -> {value}')
            train_set[key] = value
    if opt['train'].get('bf16'):
        notes.append('train.bf16 off (bfloat16 autocast is emulated, slowly, on most CPUs)')
        opt['train']['bf16'] = False
    network = opt['network_g']
    if 'thumb_size' in network and network['thumb_size'] > QUICK_SIZES['thumb_size']:
        notes.append(f'network_g.thumb_size {network["thumb_size"]} -> {QUICK_SIZES["thumb_size"]}')
        network['thumb_size'] = QUICK_SIZES['thumb_size']
        cells = network['thumb_size'] // 2 ** network.get('levels', 4)
        if network.get('gain_cells', 0) > cells:  # the light map is no finer than the smaller grid
            notes.append(f'network_g.gain_cells {network["gain_cells"]} -> {cells}')
            network['gain_cells'] = cells
    if 'enc_blk_nums' in network and network.get('width', 32) > QUICK_MAX_NAFNET_WIDTH:
        stages = len(network['enc_blk_nums'])
        notes.append(f'network_g width {network.get("width", 32)} -> {QUICK_NAFNET["width"]}, one block per stage '
                     f'({counted(stages, "stage")} kept)')
        network.update(QUICK_NAFNET, enc_blk_nums=[1] * stages, dec_blk_nums=[1] * len(network['dec_blk_nums']))
    val = opt.get('val') or {}
    if isinstance(val.get('tile'), dict) and val['tile'].get('size', 0) > QUICK_TILE['size']:
        notes.append(f'val.tile {val["tile"]["size"]}/{val["tile"].get("overlap")} -> '
                     f'{QUICK_TILE["size"]}/{QUICK_TILE["overlap"]}')
        val['tile'].update(QUICK_TILE)
    for metric in (val.get('metrics') or {}).values():
        if 'device' in metric:
            metric['device'] = 'cpu'
    return notes


def resolve_weight_paths(opt, repo_root):
    """Relative weight paths made absolute against the repository root, where training resolves them."""
    paths = opt.setdefault('path', {})
    perceptual = (opt.get('train') or {}).get('perceptual_opt') or {}
    for block, key in ((paths, 'pretrain_network_g'), (perceptual, 'vgg_weights')):
        if block.get(key) and not Path(block[key]).expanduser().is_absolute():
            block[key] = str(Path(repo_root) / block[key])


def use_random_weights(opt, quick):
    """Random VGG19 and LPIPS trunks, and no missing starting checkpoint: ``opt`` changed in place; the notes."""
    notes = []
    perceptual = (opt.get('train') or {}).get('perceptual_opt')
    if perceptual:
        perceptual['use_random_vgg_weights_for_testing'] = True
        notes.append('random VGG19 trunk: the perceptual loss means nothing')
    for name, metric in ((opt.get('val') or {}).get('metrics') or {}).items():
        if metric.get('type') == 'calculate_lpips':
            metric['random_backbone_for_testing'] = True
            notes.append(f'random LPIPS trunk: val.metrics.{name} means nothing')
    pretrained = opt['path'].get('pretrain_network_g')
    if pretrained and (quick or not Path(pretrained).is_file()):
        opt['path']['pretrain_network_g'] = None
        why = 'the network is shrunk' if Path(pretrained).is_file() else 'the file is missing'
        notes.append(f'path.pretrain_network_g not loaded ({why}): random initial weights')
    return notes


def point_at_storage(opt, storage):
    """Each dataset block of ``opt`` reads the synthetic ``storage`` (synthetic_data.Storage) of its split."""
    for phase, block in opt['datasets'].items():
        split = 'train' if phase == 'train' else 'val'
        if (block.get('io_backend') or {}).get('type') == 'lmdb':
            block.update(dataroot_lq=str(storage.lmdb / 'src.lmdb'), dataroot_gt=str(storage.lmdb / 'tar.lmdb'),
                         split_file=str(storage.lmdb / f'{split}.txt'))
        elif block.get('meta_file'):
            block.update(meta_file=str(storage.manifests[split]), dataroot=str(storage.root))
        else:
            raise PreflightError(f'datasets.{phase}: the check makes LMDB (io_backend: lmdb) or manifest '
                                 '(meta_file) data; this block reads paired folders')


def storage_kinds(opt):
    """{'lmdb', 'manifest'}: what the recipe's dataset blocks read."""
    return {'lmdb' if (block.get('io_backend') or {}).get('type') == 'lmdb' else 'manifest'
            for block in opt['datasets'].values()}


def training_options(recipe, plan, work_dir, repo_root):
    """(the option dict the check trains, its notes): the recipe with BasicSR's parsed keys, at the plan's sizes,
    weights as the plan says, experiment outputs in ``work_dir``. Data paths are set later (point_at_storage)."""
    opt = copy.deepcopy(recipe)
    notes = shrink_for_cpu(opt) if plan.quick else []
    resolve_weight_paths(opt, repo_root)
    if plan.random_weights:
        notes += use_random_weights(opt, plan.quick)
    elif plan.quick and opt['path'].get('pretrain_network_g') and Path(opt['path']['pretrain_network_g']).is_file() \
            and any(note.startswith('network_g width') for note in notes):
        opt['path']['pretrain_network_g'] = None
        notes.append('path.pretrain_network_g found but not loaded: the network is shrunk')
    opt.update(dist=False, rank=0, world_size=1, is_train=True, auto_resume=False)
    for phase, block in opt['datasets'].items():
        block.update(phase=phase.split('_')[0], scale=opt.get('scale', 1))
    work_dir = Path(work_dir)
    opt['path'].update(experiments_root=str(work_dir), models=str(work_dir / 'models'), log=str(work_dir),
                       training_states=str(work_dir / 'training_states'),
                       visualization=str(work_dir / 'visualization'))
    return opt, notes
