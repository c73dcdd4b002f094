"""A small prefetch pipeline: decode the next photos and encode finished ones while the network computes.

The network runs on the calling thread; decoding and encoding run in a few
worker threads. PyTorch, ONNX Runtime, Pillow, OpenCV and zlib release the GIL
in their heavy parts, so on a GPU box a photo's decode and the previous
photo's encode hide behind the network. At most ``prefetch`` decoded photos
and ``prefetch`` encodes wait at any time, which bounds memory whatever the
folder size.
"""
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any


@dataclass
class JobOutcome:
    """What happened to one job: ``status`` is 'done' or 'failed' (with ``error``), ``value`` what encode returned."""
    job: Any
    status: str
    value: Any = None
    error: BaseException | None = None
    stage: str | None = None


def run_pipeline(jobs, decode, compute, encode, prefetch=2, workers=2):
    """Yield a JobOutcome per job as it completes (input order, except that a failure can overtake pending encodes).

    Args:
        jobs (iterable): Work items.
        decode (callable): job -> item, in a worker thread.
        compute (callable): item -> result, on the calling thread (the network).
        encode (callable): (job, item, result) -> value, in a worker thread.
        prefetch (int): Decoded items, and pending encodes, kept in flight.
        workers (int): Threads shared by decoding and encoding.

    An exception (``Exception``) in any stage fails that job only; anything else
    (KeyboardInterrupt) cancels the queued work and propagates.
    """
    prefetch = max(1, prefetch)
    pending = iter(jobs)
    decoding, encoding = deque(), deque()
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix='photo-io')

    def top_up():
        while len(decoding) < prefetch:
            job = next(pending, _END)
            if job is _END:
                return
            decoding.append((job, pool.submit(decode, job)))

    def finish_oldest_encode():
        job, future = encoding.popleft()
        try:
            return JobOutcome(job, 'done', value=future.result())
        except Exception as err:  # noqa: BLE001  (one bad file must not stop the batch)
            return JobOutcome(job, 'failed', error=err, stage='encode')

    try:
        top_up()
        while decoding:
            job, future = decoding.popleft()
            top_up()
            try:
                item = future.result()
            except Exception as err:  # noqa: BLE001
                yield JobOutcome(job, 'failed', error=err, stage='decode')
                continue
            try:
                result = compute(item)
            except Exception as err:  # noqa: BLE001
                yield JobOutcome(job, 'failed', error=err, stage='compute')
                continue
            encoding.append((job, pool.submit(encode, job, item, result)))
            while len(encoding) > prefetch:
                yield finish_oldest_encode()
        while encoding:
            yield finish_oldest_encode()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_END = object()
