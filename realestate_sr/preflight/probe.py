"""Timed stages of a pre-flight check: the data pipeline alone, training steps fed by it, steps on one batch already
on the device, a validation, an inference. Each returns plain numbers; the GPU is synchronised around each timing."""
import resource
import time
from dataclasses import dataclass

import torch

from basicsr.data.prefetch_dataloader import CPUPrefetcher, CUDAPrefetcher


@dataclass
class Rate:
    """``count`` things in ``seconds`` (after the warm-up ones)."""
    count: int
    seconds: float

    @property
    def per_second(self):
        return self.count / self.seconds if self.seconds > 0 else float('inf')


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def host_peak_bytes():
    """Peak resident memory of this process (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def endless_batches(loader, sampler):
    """The loader's batches epoch after epoch (the sampler told each epoch, as training does)."""
    epoch = 0
    while True:
        if sampler is not None:
            sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def time_loader(batches, count, max_seconds):
    """Samples per second the data pipeline gives alone: ``count`` batches after one warm-up batch (worker start,
    first decodes), fewer when ``max_seconds`` run out."""
    next(batches)
    start, seen, taken = time.perf_counter(), 0, 0
    while taken < count and time.perf_counter() - start < max_seconds:
        seen += next(batches)['lq'].shape[0]
        taken += 1
    return Rate(seen, time.perf_counter() - start)


def make_prefetcher(loader, opt):
    """BasicSR's prefetcher of ``datasets.train.prefetch_mode``, as train_pipeline builds it."""
    mode = opt['datasets']['train'].get('prefetch_mode')
    if mode == 'cuda':
        return CUDAPrefetcher(loader, opt)
    return CPUPrefetcher(loader)


def train_steps(model, next_batch, count, max_seconds, warmup=2, first_iter=1):
    """Training iterations/s of ``model`` (BasicSR's loop: feed, learning rate, step) on batches from
    ``next_batch()``; the first ``warmup`` steps (kernel selection, first allocations) are not timed.
    Returns (Rate, the iteration reached)."""
    device = model.device
    warmup_iter = model.opt['train'].get('warmup_iter', -1)
    iteration, timed, start = first_iter, 0, None
    while timed < count:
        if iteration - first_iter == warmup:
            synchronize(device)
            start = time.perf_counter()
        model.feed_data(next_batch())
        model.update_learning_rate(iteration, warmup_iter=warmup_iter)
        model.optimize_parameters(iteration)
        if start is not None:
            timed += 1
            if time.perf_counter() - start > max_seconds:
                break
        iteration += 1
    synchronize(device)
    return Rate(timed, time.perf_counter() - start), iteration


def time_validation(model, val_loader, iteration, save_img):
    """Seconds per validation photo of the model's own validation (network, metrics, saved images)."""
    synchronize(model.device)
    start = time.perf_counter()
    model.validation(val_loader, iteration, None, save_img)
    synchronize(model.device)
    return Rate(len(val_loader.dataset), time.perf_counter() - start)


def time_inference(enhancer, photo, runs=2):
    """Seconds per photo through ``enhancer`` (as scripts/tiled_infer.py runs it): the last of ``runs`` calls."""
    seconds = None
    for _ in range(runs):
        synchronize(enhancer.device)
        start = time.perf_counter()
        enhancer.run_photo(photo)
        synchronize(enhancer.device)
        seconds = time.perf_counter() - start
    return seconds
