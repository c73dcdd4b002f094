"""A delivery enhanced unattended: the work behind ``scripts/tiled_infer.py``.

``deliver(args)`` plans every photo of the input tree and its output name (``photo_files``), refuses an output
that would touch the input or files it did not write, shares the plan among processes (``sharding``), runs this
process's share through the decode/network/encode pipeline (``pipeline``: one bad file fails alone), shows
progress (a bar on a terminal, else lines with an ETA) and prints one summary; its exit code is 1 when any photo
failed, 2 when the run could not start (bad flags or folders, a network that does not load).
"""
import logging
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from realestate_sr.inference import network_args, photo_files, photo_io, sharding
from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.inference.pipeline import run_pipeline
from realestate_sr.inference.postprocess import PostProcessError, postprocess_from_args
from realestate_sr.utils.output_safety import UnsafeOutputError, atomic_write, check_clear_of_inputs
from realestate_sr.utils.photo_formats import format_of_suffix, output_format
from realestate_sr.utils.wording import counted, one_line

LOG = logging.getLogger('tiled_infer')
TILE_PROGRESS_SECONDS = 30  # without a progress bar, a line at most this often inside a long photo


class TqdmHandler(logging.Handler):
    """Log lines printed above the progress bar instead of through it."""

    def emit(self, record):
        tqdm.write(self.format(record), file=sys.stderr)


def make_enhancer(args, settings):
    """The Enhancer of the chosen backend."""
    if not args.model:
        raise ValueError('--model is required: a checkpoint file (see --help)')
    if args.backend == 'onnxruntime':
        return Enhancer.from_onnx(args.model, settings)
    return Enhancer.from_checkpoint(network_args.network_opt_from_args(args, args.model), args.model, settings,
                                    param_key=args.param_key)


class ProgressLines:
    """Line-based progress for logs (stdout not a terminal): one line per photo with an ETA, and a line at most
    every TILE_PROGRESS_SECONDS inside a long photo."""

    def __init__(self, total, label=''):
        self.total, self.done, self.started, self.label = total, 0, time.perf_counter(), label
        self.last_line = self.started

    def tiles(self, name, done, total):
        now = time.perf_counter()
        if done < total and now - self.last_line >= TILE_PROGRESS_SECONDS:
            self.last_line = now
            print(f'{self.label}[{self.done + 1}/{self.total}] {name}: tiles {done}/{total}', flush=True)

    def photo(self, name, status):
        self.done += 1
        now = time.perf_counter()
        self.last_line = now
        elapsed = now - self.started
        eta = elapsed / self.done * (self.total - self.done)
        print(f'{self.label}[{self.done}/{self.total}] {status} {name} ({elapsed:.1f} s elapsed, ETA {eta:.0f} s)',
              flush=True)


def check_output_folder(args, jobs):
    """Refuse an output that holds the input, is a file, or would replace files tiled_infer did not write.

    A folder this script created carries photo_files.OUTPUT_MARKER: there a rerun replaces its own outputs. In
    any other folder a file already under a planned name is someone else's, so it is replaced only with
    --overwrite (or kept with --skip-existing).
    """
    output = Path(args.output)
    check_clear_of_inputs(output, [args.input])  # e.g. -o DATA for -i DATA/images: outputs land beside inputs
    if output.exists() and not output.is_dir():
        raise UnsafeOutputError(f'output {output} is a file, not a folder; nothing was written: give a folder')
    if args.skip_existing or args.overwrite or photo_files.is_output_folder(output):
        return
    clashes = [job.output for job in jobs if job.skip_reason is None and photo_files.existing_output(job)]
    if clashes:
        shown = ', '.join(printable(path.relative_to(output)) for path in clashes[:3])
        more = f' and {len(clashes) - 3} more' if len(clashes) > 3 else ''
        raise UnsafeOutputError(f'{output} already holds {counted(len(clashes), "file")} under the output names '
                                f'({shown}{more}) '
                                'and is not a folder tiled_infer created; nothing was written: choose a new folder, '
                                'or pass --skip-existing to keep them or --overwrite to replace them')


def printable(text):
    """``text`` (a path or a message naming one) safe for any console.

    A file name that is not valid UTF-8 reaches Python as lone surrogates (b'caf\\xe9.jpg' -> 'caf\\udce9.jpg'),
    which a UTF-8 stdout refuses to print; they are shown as the \\x escapes of the bytes on disk.
    """
    text = str(text)
    try:
        raw = text.encode('utf-8', 'surrogateescape')
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        raw = text.encode('utf-8', 'backslashreplace')
    return raw.decode('utf-8', 'backslashreplace')


def describe(outcome):
    """The failure reason without the file name that photo_io's messages already start with."""
    text = str(outcome.error) or type(outcome.error).__name__
    prefix = f'{outcome.job.source}: '
    return printable(text[len(prefix):] if text.startswith(prefix) else text)


def deliver(args):
    """Enhance the delivery ``args`` (tiled_infer.py's parsed flags) name, sharing it among the launcher's processes;
    the exit code: 0, 1 when any photo failed, 2 when nothing could start."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format='%(message)s',
                        handlers=[TqdmHandler()], force=True)
    try:
        shard = sharding.join(args.launcher, args.device or 'auto')
    except (RuntimeError, ValueError) as err:  # DistributedSetupError is a RuntimeError
        LOG.error('error: cannot join the other processes: %s', printable(one_line(err)))
        return 2
    try:
        return run(args, shard)
    finally:
        sharding.leave(shard)


def run(args, shard):
    """Plan the whole delivery, enhance this process's share, print the run's summary (rank 0); the exit code."""
    try:
        network_args.resolve_model_args(args, say=print if shard.rank == 0 else lambda line: None)
        photo_files.check_output_outside_input(args.input, args.output)
        jobs = photo_files.plan_outputs(photo_files.discover(args.input), args.output, args.format, args.suffix)
        # every rank checks before any rank writes (they all see the same folder), and only rank 0 marks it
        check_output_folder(args, jobs)
        postprocess = postprocess_from_args(args)
    except (photo_files.OutputInsideInputError, UnsafeOutputError, FileNotFoundError, PostProcessError) as err:
        LOG.error('%serror: %s', shard.label, printable(err))
        return 2
    if shard.distributed and not args.dry_run:
        sharding.barrier(shard)
        if shard.rank == 0 and any(job.skip_reason is None for job in jobs):
            photo_files.claim_output_folder(args.output)
        sharding.barrier(shard)
    summaries = sharding.gather(shard, run_shard(args, shard, jobs, postprocess))
    if args.dry_run:
        return 0
    load_errors = [(rank, summary['load_error']) for rank, summary in enumerate(summaries) if summary['load_error']]
    if shard.rank == 0:
        for rank, error in load_errors:
            where = f' (rank {rank})' if shard.distributed else ''
            LOG.error('error: cannot load the network%s: %s', where, error)
        if not load_errors:
            print_summary(args, summaries)
        sys.stdout.flush()
    # the launcher stops every process once one exits with an error: none leaves before rank 0 has said it all
    sharding.barrier(shard)
    if load_errors:
        return 2
    return 1 if any(summary['failed'] for summary in summaries) else 0


def run_shard(args, shard, jobs, postprocess):
    """Enhance this process's share of the planned ``jobs``; its summary (a dict of plain values)."""
    summary = {'enhanced': 0, 'skipped': [], 'failed': [], 'megapixels': 0.0, 'seconds': 0.0, 'load_error': None}
    # the share is cut from the plan before --skip-existing looks at the outputs, which other ranks are writing
    skipped = [job for job in jobs if job.skip_reason] if shard.rank == 0 else []
    todo = []
    for job in shard.take(job for job in jobs if job.skip_reason is None):
        if args.skip_existing and photo_files.existing_output(job):
            job.skip_reason = 'output exists'
        (skipped if job.skip_reason else todo).append(job)
    summary['skipped'] = [job.skip_reason for job in skipped]
    for job in skipped:
        LOG.info('%sskip %s: %s', shard.label, printable(job.relative), job.skip_reason)
    if args.dry_run:
        for job in todo:
            print(f'{shard.label}{printable(job.source)} -> {printable(job.output)}')
        print(f'{shard.label}dry run: {len(todo)} to enhance, {len(skipped)} skipped; nothing written')
        return summary

    started = time.perf_counter()
    lines = None if sys.stdout.isatty() and not shard.distributed else ProgressLines(len(todo), shard.label)
    if todo:
        try:
            settings = network_args.settings_from_args(args, args.model if args.backend == 'torch' else None)
            enhancer = make_enhancer(args, settings)
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            summary['load_error'] = printable(one_line(err))
            return summary
        for warning in enhancer.warnings():
            LOG.warning('%swarning: %s', shard.label, warning)
        print(f'{shard.label}network: {enhancer.description}, runs {enhancer.settings.describe()}; post-processing: '
              f'{postprocess.describe()}; {counted(len(todo), "photo")} to enhance', flush=True)

    def decode(job):
        return job, photo_io.read_photo(job.source)

    def compute(item):
        job, photo = item
        progress = None if lines is None else lambda done, total: lines.tiles(printable(job.relative), done, total)
        return postprocess.apply(np.clip(enhancer.run_photo(photo.rgb, progress), 0, 1))

    written, written_lock = set(), threading.Lock()

    def encode(job, item, rgb):
        photo = item[1]
        fmt = output_format(args.format, job.source.suffix, photo)
        # the planned name whose extension names the bytes: job.output, or its .png fallback for alpha
        target = next((path for path in (job.output, job.alpha_output)
                       if path is not None and format_of_suffix(path.suffix) == fmt), None)
        if target is None:
            raise photo_io.PhotoWriteError(f'no planned output name for {fmt} (planned {job.output})')
        with written_lock:  # the plan gives unique names; this makes replacing an output of this run impossible
            if photo_files.output_key(target) in written:
                raise photo_io.PhotoWriteError(f'{target} was already written by this run; not replacing it')
            written.add(photo_files.output_key(target))
        atomic_write(target, photo_io.encode_photo(rgb, photo, fmt, args.quality))
        return target, photo

    if todo and not shard.distributed:  # several processes: rank 0 marked the folder before any wrote
        photo_files.claim_output_folder(args.output)
    with tqdm(total=len(todo), unit='img', dynamic_ncols=True, disable=True if lines else None) as bar:
        for outcome in run_pipeline(todo, decode, compute, encode, args.prefetch, args.workers):
            if outcome.status == 'done':
                target, photo = outcome.value
                summary['enhanced'] += 1
                summary['megapixels'] += photo.megapixels
                for note in photo.notes:
                    LOG.info('%s%s: %s', shard.label, printable(outcome.job.relative), note)
                LOG.info('%swrote %s', shard.label, printable(target))
            else:
                summary['failed'].append((printable(outcome.job.relative), describe(outcome)))
                LOG.error('%sFAILED %s (%s): %s', shard.label, printable(outcome.job.relative), outcome.stage,
                          describe(outcome))
            if lines is not None:
                lines.photo(printable(outcome.job.relative), 'enhanced' if outcome.status == 'done' else 'FAILED')
            bar.update(1)
    summary['seconds'] = time.perf_counter() - started
    return summary


def print_summary(args, summaries):
    """The run's one summary: every rank's counts added, the slowest rank's time, then each failed file."""
    enhanced = sum(summary['enhanced'] for summary in summaries)
    skipped = [reason for summary in summaries for reason in summary['skipped']]
    failed = [failure for summary in summaries for failure in summary['failed']]
    seconds = max(summary['seconds'] for summary in summaries)
    megapixels = sum(summary['megapixels'] for summary in summaries)
    reasons = Counter('not an image extension' if reason.startswith('not an image') else reason for reason in skipped)
    why = ', '.join(f'{count} {reason}' for reason, count in sorted(reasons.items()))
    processes = f' by {len(summaries)} processes' if len(summaries) > 1 else ''
    strength = f' at strength {args.strength:g}' if args.strength is not None and args.strength != 1 else ''
    print(f'enhanced {enhanced}{strength}, skipped {len(skipped)}{f" ({why})" if why else ""}, failed {len(failed)} '
          f'in {seconds:.1f} s{processes} ({megapixels / max(seconds, 1e-9):.2f} MP/s); outputs in '
          f'{printable(args.output)}')
    if len(summaries) > 1:
        print('  per rank: ' + ', '.join(f'{rank}: {summary["enhanced"]} enhanced, {len(summary["failed"])} failed '
                                         f'in {summary["seconds"]:.1f} s' for rank, summary in enumerate(summaries)))
    for source, reason in failed:
        print(f'  failed: {source}: {reason}')
