"""Start-up checks of a training option file, run before any data is read.

BasicSR reads its option dict lazily: a misspelt key is a KeyError or a TypeError from deep inside the
pipeline, some only after the first training stretch (``val.val_frq``), and a misspelt optional key
(``use_hfilp``) is silently ignored. :func:`check_training_options` checks every key of the blocks our
training reads against what reads it: our own classes' keys, BasicSR's, and the constructor signatures of
the architecture, optimizer, scheduler, losses and metrics the file names; the blocks of a whole-photo recipe
against each other (``whole_photo_checks``: thumbnail sizes, grid, model, data set). It also stops CUDA
settings on a machine without CUDA and pretrained files that are not on this machine (``weights_checks``).
Each problem is one line, e.g. ``unknown key 'val_frq' in val (did you mean 'val_freq'?)``.
"""
import difflib
import inspect
import logging
import re

import torch

from realestate_sr.data.paired_listing_dataset import PairedListingDataset
from realestate_sr.distributed import DIST_PARAM_KEYS
from realestate_sr.models.best_validation import BEST_KEYS, best_option_problems
from realestate_sr.models.enhance_model import OPTIMIZERS
from realestate_sr.models.weights_checks import missing_weights_problems
from realestate_sr.models.whole_photo_checks import whole_photo_problems
from realestate_sr.options import removed_key_message
from realestate_sr.utils.registry_import import registered
from realestate_sr.utils.tiling import TILE_DEFAULTS
from realestate_sr.utils.weights import MissingWeightsError

from basicsr.models import lr_scheduler
from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

LOGGER = logging.getLogger(__name__)


class OptionKeyError(ValueError):
    """The option file has a key nothing reads, a value no class accepts, or a setting this machine cannot run."""


# keys BasicSR's parse_options and train_pipeline add to the parsed options
BASICSR_ADDED = {'dist', 'rank', 'world_size', 'auto_resume', 'is_train', 'root_path'}
# what the training pipeline reads (realestate_sr.training, basicsr's builders); each model adds the keys it reads
# (OPTION_KEYS on its class, see model_option_keys)
TOP_LEVEL = {'name', 'model_type', 'scale', 'num_gpu', 'manual_seed', 'datasets', 'path', 'train', 'val', 'logger',
             'dist_params',
             'bench'} | BASICSR_ADDED  # scoring options of a benchmark recipe (benchmark/recipes.py); training skips it
# basicsr.data.build_dataloader, basicsr.train and its prefetchers
DATALOADER_KEYS = {'name', 'type', 'phase', 'scale', 'use_shuffle', 'num_worker_per_gpu', 'batch_size_per_gpu',
                   'dataset_enlarge_ratio', 'pin_memory', 'persistent_workers', 'prefetch_mode', 'num_prefetch_queue'}
PATH_KEYS = {'resume_state', 'ignore_resume_networks',
             # set by parse_options
             'experiments_root', 'models', 'training_states', 'log', 'visualization'}
TRAIN_KEYS = {'total_iter'}
VAL_KEYS = {'val_freq'}
LOGGER_KEYS = {'print_freq', 'save_checkpoint_freq', 'use_tb_logger', 'wandb'}
WANDB_KEYS = {'project', 'resume_id'}
SCHEDULERS = {'MultiStepLR': lr_scheduler.MultiStepRestartLR, 'MultiStepRestartLR': lr_scheduler.MultiStepRestartLR,
              'CosineAnnealingRestartLR': lr_scheduler.CosineAnnealingRestartLR}


def model_option_keys():
    """{block: keys} the registered models read ('' is the file's top level): the ``OPTION_KEYS`` their classes
    and base classes declare, in declaration order. All models' together, whatever ``model_type`` says: a key
    of another model is that mismatch's business (``whole_photo_checks``), not an unknown key."""
    merged = {}
    for klass in (base for _, model in MODEL_REGISTRY for base in reversed(model.__mro__)):
        for block, keys in vars(klass).get('OPTION_KEYS', {}).items():
            merged.setdefault(block, {}).update(dict.fromkeys(keys))  # a dict: the keys in declaration order
    return merged


def unknown_key_message(key, where, known):
    """``unknown key 'val_frq' in val (did you mean 'val_freq'?)``; the hint only when a known key is close."""
    close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else f' (known: {", ".join(sorted(known))})'
    return f"unknown key '{key}' in {where}{hint}"


def keyword_names(target, skip=()):
    """The keyword arguments ``target`` accepts: a function's, or a class's ``__init__`` followed up its bases while
    they pass ``**kwargs`` on (NAFNetLocal -> NAFNet); None when its signature cannot be read."""
    functions = [klass.__init__ for klass in target.__mro__ if '__init__' in vars(klass)] \
        if inspect.isclass(target) else [target]
    names = set()
    for function in functions:
        if function in (torch.nn.Module.__init__, object.__init__):
            break
        try:
            parameters = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):
            return None
        names |= {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        # a metric function's **kwargs only swallows what BasicSR passes to every metric
        if not inspect.isclass(target) or not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return names - set(skip) - {'self'}


class _Problems(list):
    def keys(self, block, where, known, path=None):
        """Each key of ``block`` that is not ``known``: a removed option's line, or an unknown key's (``where`` names
        the block in it; ``path``, when given, is its place in the file, e.g. network_g for 'network_g (NAFNet)')."""
        if isinstance(block, dict):
            self.extend(removed_key_message(path or where, key) or unknown_key_message(key, where, known)
                        for key in block if key not in known)

    def typed(self, block, where, registry_or_map, extra=(), skip=()):
        """Keys of a ``{type: ..., **kwargs}`` block against the keyword arguments of the class it names."""
        if not isinstance(block, dict) or 'type' not in block:
            return
        kind = block['type']
        target = registry_or_map.get(kind) if isinstance(registry_or_map, dict) else registered(registry_or_map, kind)
        if target is None:
            known = registry_or_map if isinstance(registry_or_map, dict) else [k for k, _ in registry_or_map]
            close = difflib.get_close_matches(str(kind), sorted(known), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else f' (known: {", ".join(sorted(known))})'
            self.append(f"unknown type '{kind}' in {where}{hint}")
            return
        names = keyword_names(target, skip)
        if names is not None:
            self.keys(block, f'{where} ({kind})', names | {'type'} | set(extra), path=where)


def _check_cuda_settings(opt, problems):
    num_gpu = opt.get('num_gpu', 1)
    if num_gpu not in (0, 'auto'):
        problems.append(f'num_gpu: {num_gpu} but this machine has no CUDA device: set num_gpu: 0 to train on the CPU')
    for phase, dataset in (opt.get('datasets') or {}).items():
        if isinstance(dataset, dict) and dataset.get('prefetch_mode') == 'cuda':
            problems.append(f'datasets.{phase}.prefetch_mode: cuda needs a CUDA device: set it to ~ (or cpu)')
    for name, metric in ((opt.get('val') or {}).get('metrics') or {}).items():
        if isinstance(metric, dict) and str(metric.get('device', '')).startswith('cuda'):
            problems.append(f'val.metrics.{name}.device: {metric["device"]} needs a CUDA device: set device: cpu')


# YAML 1.1 (PyYAML, BasicSR's loader) reads a number with an exponent as a float only with a dot: 5e-3 is text
EXPONENT_WITHOUT_DOT = re.compile(r'[-+]?[0-9_]*\.?[0-9_]*[0-9][eE][-+]?[0-9]+')


def numbers_read_as_text(node, where=''):
    """``(where, value)`` of every string in ``node`` that is a number YAML left as text (``lr: 5e-3``)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from numbers_read_as_text(value, f'{where}.{key}' if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from numbers_read_as_text(value, f'{where}[{index}]')
    elif isinstance(node, str) and EXPONENT_WITHOUT_DOT.fullmatch(node.strip()):
        yield where, node


def training_option_problems(opt, cuda_available=None):
    """One line per problem of the training options ``opt`` (a dict as parsed from the YAML); empty when none."""
    problems = _Problems()
    model_keys = model_option_keys()
    problems.extend(f"{where}: '{text}' is text, not a number, to YAML (write {float(text.replace('_', ''))!r} or "
                    f'!!float {text})' for where, text in numbers_read_as_text(opt))
    problems.keys(opt, 'the option file', TOP_LEVEL | set(model_keys.get('', ())))
    for phase, dataset in (opt.get('datasets') or {}).items():
        if not isinstance(dataset, dict):
            continue
        where = f'datasets.{phase}'
        kind = dataset.get('type')
        if kind not in DATASET_REGISTRY:
            problems.typed(dataset, where, DATASET_REGISTRY)
            continue
        # our datasets list the keys they read (OPTION_KEYS); BasicSR's read theirs from a dict, unlisted
        dataset_keys = getattr(DATASET_REGISTRY.get(kind), 'OPTION_KEYS', None)
        if dataset_keys is not None:
            problems.keys(dataset, where, DATALOADER_KEYS | set(dataset_keys))
        if kind == PairedListingDataset.__name__:
            problems.keys(dataset.get('io_backend'), f'{where}.io_backend', {'type'})
    problems.typed(opt.get('network_g'), 'network_g', ARCH_REGISTRY)
    problems.typed(opt.get('network_d'), 'network_d', ARCH_REGISTRY)
    if opt.get('model_type') in ('GANEnhanceModel', 'WholePhotoGANModel'):
        gan_train = opt.get('train') if isinstance(opt.get('train'), dict) else {}
        problems.extend(f'model_type {opt["model_type"]} needs {name}' for name, block in (
            ('network_d', opt.get('network_d')), ('train.optim_d', gan_train.get('optim_d')),
            ('train.gan_opt', gan_train.get('gan_opt'))) if not block)
    problems.keys(opt.get('path'), 'path', PATH_KEYS | set(model_keys.get('path', ())))
    train = opt.get('train')
    problems.keys(train, 'train', TRAIN_KEYS | set(model_keys.get('train', ())))
    if isinstance(train, dict):
        problems.typed(train.get('optim_g'), 'train.optim_g', OPTIMIZERS, skip={'params'})
        problems.typed(train.get('optim_d'), 'train.optim_d', OPTIMIZERS, skip={'params'})
        problems.typed(train.get('scheduler'), 'train.scheduler', SCHEDULERS, skip={'optimizer', 'last_epoch'})
        for loss in (key for key in model_keys.get('train', ()) if key.endswith('_opt')):
            problems.typed(train.get(loss), f'train.{loss}', LOSS_REGISTRY)
    val = opt.get('val')
    problems.keys(val, 'val', VAL_KEYS | set(model_keys.get('val', ())))
    if isinstance(val, dict):
        problems.keys(val.get('tile'), 'val.tile', set(TILE_DEFAULTS))
        problems.keys(val.get('best'), 'val.best', set(BEST_KEYS))
        problems.extend(best_option_problems(opt))
        for name, metric in (val.get('metrics') or {}).items():
            # 'better' is read by BasicSR's best-metric bookkeeping; img / img2 are the images
            problems.typed(metric, f'val.metrics.{name}', METRIC_REGISTRY, extra={'better'}, skip={'img', 'img2'})
    logger = opt.get('logger')
    problems.keys(logger, 'logger', LOGGER_KEYS)
    if isinstance(logger, dict):
        problems.keys(logger.get('wandb'), 'logger.wandb', WANDB_KEYS)
    problems.keys(opt.get('dist_params'), 'dist_params', DIST_PARAM_KEYS)
    problems.extend(whole_photo_problems(opt))
    if not (torch.cuda.is_available() if cuda_available is None else cuda_available):
        _check_cuda_settings(opt, problems)
    return list(problems)


def trains_on_the_cpu(opt, cuda_available):
    """Whether BasicSR's models will put the network on the CPU: no CUDA device, or ``num_gpu: 0``."""
    return not cuda_available or opt.get('num_gpu', 1) == 0


def training_option_warnings(opt, cuda_available=None):
    """One line per setting of ``opt`` that runs but costs much on this machine; empty when none."""
    cuda_available = torch.cuda.is_available() if cuda_available is None else cuda_available
    train = opt.get('train') if isinstance(opt.get('train'), dict) else {}
    warnings = []
    if train.get('bf16') and trains_on_the_cpu(opt, cuda_available):
        where = 'num_gpu: 0' if cuda_available else 'no CUDA device'
        # measured on a 2-core AVX2 CPU (docs: README, Train), bf16 vs float32, the same steps interleaved
        warnings.append(f'train.bf16: true but this run trains on the CPU ({where}): bfloat16 autocast is emulated '
                        'on CPUs without AMX, and training steps took 5x (the demo grid) to 10x (NAFNet width 16) '
                        'as long as in float32 on a 2-core AVX2 CPU; add --force_yml train:bf16=false to train in '
                        'float32')
    return warnings


def check_training_options(opt, source='the option file', cuda_available=None):
    """The start-up checks of a training run, before any data set is built: raise OptionKeyError (one line, every
    problem of ``opt`` after ``source``), or MissingWeightsError when only pretrained files are missing
    (``weights_checks``); else log (and return) the warnings of :func:`training_option_warnings`."""
    problems = training_option_problems(opt, cuda_available)
    missing = missing_weights_problems(opt)
    if problems:
        raise OptionKeyError(f'{source}: ' + '; '.join(problems + missing))
    if missing:
        raise MissingWeightsError(f'{source}: ' + '; '.join(missing))
    warnings = training_option_warnings(opt, cuda_available)
    for warning in warnings:
        LOGGER.warning(f'{source}: {warning}')
    return warnings
