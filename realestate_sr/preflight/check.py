"""``run_check``: a recipe's pre-flight check from start to end, returning the measured ``CheckResult``.

Order: the option file (typos, CUDA), the model (which loads every pretrained file the run needs), the synthetic
pairs and their storage, the data sets, the data pipeline alone, training steps fed by it, steps on one batch on
the device, a validation of the held-out pairs, an inference of one photo through the inference object. Anything
that would stop the real run becomes one ``PreflightError`` line naming the stage.
"""
import logging
import math
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from realestate_sr.archs.checkpoint import CheckpointMismatchError
from realestate_sr.data.image_io import read_bgr
from realestate_sr.data.lmdb_io import LmdbFormatError
from realestate_sr.data.memory_cache import CacheTooLargeError
from realestate_sr.data.pair_lists import PairListError
from realestate_sr.data.paired_listing_dataset import DatasetOptionError
from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.inference.settings import InferenceSettings
from realestate_sr.models.option_checks import OptionKeyError, check_training_options
from realestate_sr.preflight import probe
from realestate_sr.preflight.recipe import (
    PreflightError,
    needs_cuda,
    point_at_storage,
    storage_kinds,
    training_options,
)
from realestate_sr.preflight.synthetic_data import build_storage, write_pairs
from realestate_sr.prep.lmdb_build import BuildError
from realestate_sr.utils.photo_decode import PhotoReadError
from realestate_sr.utils.weights import MissingWeightsError

import basicsr.train as basicsr_train
from basicsr.models import build_model
from basicsr.utils import get_root_logger

# errors whose message already says what is wrong (a missing file, a bad option, a data set that does not load)
CLEAR_ERRORS = (MissingWeightsError, CheckpointMismatchError, OptionKeyError, PairListError, LmdbFormatError,
                DatasetOptionError, CacheTooLargeError, BuildError, PhotoReadError)


@dataclass
class CheckResult:
    """What the check measured; rates are probe.Rate, seconds and bytes plain numbers (None: not measured)."""
    recipe: dict
    device: str = ''
    bf16_supported: str = ''
    notes: list = field(default_factory=list)
    batch: int = 0
    workers: int = 0
    params: int = 0
    loader: probe.Rate | None = None
    fed: probe.Rate | None = None
    compute: probe.Rate | None = None
    validation: probe.Rate | None = None
    inference_s: float | None = None
    inference_size: tuple = ()
    peak_gpu_train: int | None = None
    peak_gpu_eval: int | None = None
    peak_host: int = 0
    stage_seconds: dict = field(default_factory=dict)


@contextmanager
def stage(name, result):
    """Time the stage ``name`` into ``result``; an error that would stop the run becomes one PreflightError line."""
    start = time.perf_counter()
    try:
        yield
    except PreflightError:
        raise
    except CLEAR_ERRORS as error:
        raise PreflightError(f'{name}: {error}') from error
    except (torch.cuda.OutOfMemoryError, MemoryError) as error:
        raise PreflightError(f'{name}: out of memory at batch {result.batch} '
                             f'({str(error).splitlines()[0] if str(error) else type(error).__name__})') from error
    finally:
        result.stage_seconds[name] = time.perf_counter() - start


def describe_device(device):
    """(device line, bf16 support line)."""
    if device.type == 'cuda':
        props = torch.cuda.get_device_properties(device)
        return (f'{props.name}, {props.total_memory / 2**30:.0f} GiB, torch {torch.__version__}',
                'yes' if torch.cuda.is_bf16_supported() else 'no (bf16 autocast is emulated: slow)')
    return f'CPU, {torch.get_num_threads()} threads, torch {torch.__version__}', 'CPU autocast (emulated on most CPUs)'


def check_device(recipe, plan, source):
    """PreflightError when the full check runs on a machine without the CUDA the recipe asks for."""
    settings = needs_cuda(recipe)
    if settings and not plan.quick and not torch.cuda.is_available():
        raise PreflightError(f'{source} trains on CUDA ({", ".join(settings)}) but this machine has no CUDA device '
                             f'(torch {torch.__version__}, torch.cuda.is_available() is False): run the check on the '
                             'GPU machine, or add --quick for the small CPU check')


def quiet_basicsr_logger():
    """BasicSR's logger at WARNING: the table is the output; warnings (and errors) still show."""
    get_root_logger().setLevel(logging.WARNING)


def run_check(recipe, plan, repo_root, source='the recipe'):
    """Check ``recipe`` (an option dict, as recipe.load_recipe gives it) as ``plan`` says; returns a CheckResult.
    Raises PreflightError (one line) for anything that would stop the real run."""
    check_device(recipe, plan, source)
    quiet_basicsr_logger()
    result = CheckResult(recipe=recipe)
    with tempfile.TemporaryDirectory(prefix='check_gpu_') as work:
        opt, result.notes = training_options(recipe, plan, f'{work}/experiment', repo_root)
        result.batch = opt['datasets']['train']['batch_size_per_gpu']
        result.workers = opt['datasets']['train'].get('num_worker_per_gpu', 0)
        with stage('building the model', result):
            check_training_options(opt, source)  # the weights it names, and its settings on this machine
            model = build_model(opt)
        result.device, result.bf16_supported = describe_device(model.device)
        result.params = sum(p.numel() for p in model.get_bare_model(model.net_g).parameters())
        with stage('making synthetic pairs', result):
            pairs = write_pairs(f'{work}/pairs', plan.pairs, plan.photo_size)
            storage = build_storage(pairs, f'{work}/pairs', plan.val_pairs, storage_kinds(opt))
            point_at_storage(opt, storage)
        with stage('building the data sets', result):
            train_loader, sampler, val_loaders = basicsr_train.create_train_val_dataloader(opt, get_root_logger())[:3]
        with stage('the data pipeline', result):
            result.loader = probe.time_loader(probe.endless_batches(train_loader, sampler), plan.loader_batches,
                                              plan.stage_seconds)
        iteration = measure_training(model, opt, plan, result, train_loader, sampler)
        measure_evaluation(model, opt, result, val_loaders, storage, iteration)
        result.peak_host = probe.host_peak_bytes()
        del train_loader, val_loaders  # the workers end with the loaders, before the folder goes
    return result


def measure_training(model, opt, plan, result, train_loader, sampler):
    """Training steps fed by the real pipeline, then steps on one batch already on the device; returns the
    iteration reached."""
    cuda = model.device.type == 'cuda'
    if cuda:
        torch.cuda.reset_peak_memory_stats(model.device)
    with stage('training', result):
        prefetcher = probe.make_prefetcher(train_loader, opt)

        def next_batch():
            batch = prefetcher.next()
            if batch is None:  # end of an epoch, as train_pipeline restarts it
                if sampler is not None:
                    sampler.set_epoch(sampler.epoch + 1)
                prefetcher.reset()
                batch = prefetcher.next()
            return batch

        result.fed, iteration = probe.train_steps(model, next_batch, plan.iterations, plan.stage_seconds,
                                                  warmup=plan.warmup_iterations)
        last = next_batch()
        result.compute, iteration = probe.train_steps(model, lambda: last, plan.compute_iterations,
                                                      plan.stage_seconds, warmup=1, first_iter=iteration)
    if cuda:
        result.peak_gpu_train = torch.cuda.max_memory_allocated(model.device)
        torch.cuda.reset_peak_memory_stats(model.device)
    return iteration


def measure_evaluation(model, opt, result, val_loaders, storage, iteration):
    """The model's validation of the held-out pairs, then one photo through the inference object."""
    with stage('validation', result):
        if val_loaders:
            result.validation = probe.time_validation(model, val_loaders[0], iteration,
                                                      bool(opt['val'].get('save_img')))
    with stage('inference', result):
        net = model.inference_network()
        was_training = net.training
        net.eval()
        enhancer = Enhancer.from_module(net, InferenceSettings.from_options(opt))
        photo = np.ascontiguousarray(read_bgr(storage.val_photos[0])[:, :, ::-1], dtype=np.float32) / 255.0
        result.inference_size = photo.shape[:2]
        result.inference_s = probe.time_inference(enhancer, photo)
        net.train(was_training)
    if model.device.type == 'cuda':
        result.peak_gpu_eval = torch.cuda.max_memory_allocated(model.device)


def projected_seconds(result, val_photos):
    """(training seconds, validation seconds) of the whole recipe at the measured rates, validating
    ``val_photos`` photos each time; validation None when not measured."""
    recipe = result.recipe
    total_iter = int(recipe['train']['total_iter'])
    train_s = total_iter / result.fed.per_second
    val = recipe.get('val') or {}
    if result.validation is None or not val.get('val_freq'):
        return train_s, None
    validations = math.floor(total_iter / float(val['val_freq']))
    if total_iter % float(val['val_freq']):
        validations += 1  # the last validation runs at total_iter
    return train_s, validations * val_photos / result.validation.per_second
