"""Dynamic batching: requests that arrive together share network calls.

One asyncio task takes the oldest waiting photo, then waits at most ``max_wait_ms`` for up to
``max_batch - 1`` more (those already waiting join at once), and hands the group to one device thread,
which runs it through ``Enhancer.run_photos``: tiles of all its photos in shared calls for tiled networks,
photos of one size stacked for whole-photo networks. Only one group runs at a time, so the device holds one
group's tiles; the queue of waiting photos is bounded (``queue_size``) and a full queue is refused at once
(the caller answers 503 with Retry-After) rather than letting latency grow without bound.

A group whose shared run fails is retried photo by photo, so one photo that breaks the network (a shape it
cannot take, memory) fails alone and the others of its group still get their result.
"""
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from realestate_sr.utils.wording import counted


class QueueFullError(RuntimeError):
    """More photos wait than the queue holds; retry later."""


@dataclass
class _Waiting:
    rgb: object
    future: asyncio.Future
    strength: float | None = None
    queued_at: float = field(default_factory=time.perf_counter)


@dataclass
class GroupResult:
    """What one photo got from its group: the enhanced pixels, or the error; and how its group ran."""
    rgb: object
    group_size: int
    queue_s: float
    compute_s: float


class Batcher:
    """Groups concurrent photos into network calls of one ``Enhancer``.

    Args:
        enhancer (Enhancer): runs the network (``run_photos``).
        max_batch (int): photos per group at most (1: no batching, one photo per run).
        max_wait_ms (float): how long the first photo of a group waits for company.
        queue_size (int): photos that may wait for the device; one more raises QueueFullError.
        on_group (callable | None): ``on_group(photos, seconds)`` after each group (metrics).
        on_call (callable | None): ``on_call(batch_size)`` for every network call (metrics).
    """

    def __init__(self, enhancer, max_batch=4, max_wait_ms=10.0, queue_size=64, on_group=None, on_call=None):
        if max_batch < 1 or queue_size < 1 or max_wait_ms < 0:
            raise ValueError(f'max_batch and queue_size must be >= 1 and max_wait_ms >= 0; got {max_batch}, '
                             f'{queue_size}, {max_wait_ms}')
        self.enhancer, self.max_batch, self.max_wait = enhancer, int(max_batch), max_wait_ms / 1000.0
        self.queue_size, self.on_group, self.on_call = int(queue_size), on_group, on_call
        self._queue = None
        self._task = None
        # one thread owns the network: calls never overlap on the device
        self._device = ThreadPoolExecutor(max_workers=1, thread_name_prefix='device')

    @property
    def depth(self):
        """Photos waiting for the device (not counting the group running)."""
        return self._queue.qsize() if self._queue is not None else 0

    def start(self):
        """Start the grouping task on the running event loop."""
        self._queue = asyncio.Queue(maxsize=self.queue_size)
        self._task = asyncio.get_running_loop().create_task(self._run(), name='batcher')

    async def stop(self):
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        while self._queue is not None and not self._queue.empty():
            waiting = self._queue.get_nowait()
            if not waiting.future.done():
                waiting.future.set_exception(RuntimeError('the server is shutting down'))
        self._device.shutdown(wait=True)

    async def enhance(self, rgb, strength=None):
        """Enhanced float32 H,W,3 for ``rgb`` at edit ``strength`` (None: the enhancer's settings) and how it
        ran (GroupResult). Photos of different strengths share a group. Raises QueueFullError at once when
        the queue is full, or what the network raised for this photo alone. Cancelling (a timeout) while it
        waits takes the photo out of its group."""
        if self._queue is None:
            raise RuntimeError('the batcher is not started')
        waiting = _Waiting(rgb, asyncio.get_running_loop().create_future(), strength)
        try:
            self._queue.put_nowait(waiting)
        except asyncio.QueueFull:
            waiting_photos = counted(self.queue_size, 'photo already waits', 'photos already wait')
            raise QueueFullError(f'{waiting_photos} for the device') from None
        return await waiting.future

    async def _run(self):
        loop = asyncio.get_running_loop()
        while True:
            group = [await self._queue.get()]
            deadline = loop.time() + self.max_wait
            while len(group) < self.max_batch:
                if not self._queue.empty():
                    group.append(self._queue.get_nowait())
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                waiting = await self._next_within(left)
                if waiting is None:
                    break
                group.append(waiting)
            group = [waiting for waiting in group if not waiting.future.done()]  # timed out while waiting
            if not group:
                continue
            started = time.perf_counter()
            outcomes = await loop.run_in_executor(self._device, self._run_group, [w.rgb for w in group],
                                                  [w.strength for w in group])
            seconds = time.perf_counter() - started
            if self.on_group is not None:
                self.on_group(len(group), seconds)
            for waiting, outcome in zip(group, outcomes):
                if waiting.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    waiting.future.set_exception(outcome)
                else:
                    waiting.future.set_result(GroupResult(outcome, len(group), started - waiting.queued_at,
                                                          seconds))

    async def _next_within(self, seconds):
        """The next waiting photo if one comes within ``seconds``, else None.

        Not ``asyncio.wait_for(queue.get())``: on Python 3.11 a get that completes as the timeout fires can
        be dropped, and with it a request.
        """
        getter = asyncio.ensure_future(self._queue.get())
        done, _ = await asyncio.wait({getter}, timeout=seconds)
        if getter in done:
            return getter.result()
        getter.cancel()
        try:
            return await getter  # it took a photo before the cancel arrived
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():  # the batcher itself is being stopped
                raise
            return None

    async def warm_up(self, photos):
        """Run ``photos`` once on the device thread, outside the queue (start-up, before /readyz says ready)."""
        return await asyncio.get_running_loop().run_in_executor(self._device, self._run_all, photos)

    def _run_all(self, photos, strengths=None):
        return self.enhancer.run_photos(photos, on_call=self.on_call, strengths=strengths)

    def _run_group(self, photos, strengths):
        """Outputs (or exceptions) per photo: the whole group in shared calls, else photo by photo."""
        try:
            return self._run_all(photos, strengths)
        except Exception as err:  # noqa: BLE001  (one photo's failure must not fail its group)
            if len(photos) == 1:
                return [err]
        outcomes = []
        for rgb, strength in zip(photos, strengths):
            try:
                outcomes.append(self._run_all([rgb], [strength])[0])
            except Exception as err:  # noqa: BLE001
                outcomes.append(err)
        return outcomes
