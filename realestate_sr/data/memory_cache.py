"""Decoded uint8 pairs held once in RAM and shared by every DataLoader worker.

Decoding a 3300x2200 JPEG costs ~40 ms, cropping a 512x512 patch out of a decoded image well under 1 ms, so on
a unified-memory machine with RAM to spare (~44 MB per such pair) the fastest loader decodes each pair once.
The images live in one anonymous *shared* memory mapping filled before the DataLoader starts its workers:
forked workers map the same physical pages (one copy, whatever ``num_worker_per_gpu`` is), and the mapping is
not a /dev/shm file, so container /dev/shm limits do not apply. Workers started with ``spawn`` would each need a
copy, so pickling the cache is refused with an explanation instead of silently multiplying the RAM.
"""
import mmap
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from realestate_sr.utils.photo_decode import PhotoReadError
from realestate_sr.utils.wording import counted


class CacheTooLargeError(MemoryError):
    """The decoded pairs would not fit in the RAM that is available."""


def available_ram_bytes():
    """MemAvailable from /proc/meminfo, or None where it cannot be read (non-Linux)."""
    try:
        with open('/proc/meminfo', encoding='ascii') as meminfo:
            for line in meminfo:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class SharedPairCache:
    """Every (src, tar) of a pair source, decoded to uint8 BGR into one shared buffer.

    ``source`` must provide ``len()``, ``shapes(i) -> (src_shape, tar_shape)`` (cheap, from headers or
    meta_info) and ``read(i) -> (src, tar)``. ``max_ram_fraction`` of MemAvailable is the most it may take.
    """

    def __init__(self, source, num_threads=None, max_ram_fraction=0.8, log=None):
        shapes = [source.shapes(i) for i in range(len(source))]
        sizes = [int(np.prod(shape)) for pair in shapes for shape in pair]
        self.nbytes = sum(sizes)
        available = available_ram_bytes()
        if log is not None:
            free = f'{available / 2**30:.1f} GiB available' if available else 'available RAM unknown'
            log(f'memory cache: {counted(len(source), "pair")} -> {self.nbytes / 2**30:.2f} GiB of decoded uint8 '
                f'({self.nbytes / max(len(source), 1) / 2**20:.1f} MiB per pair; {free}), shared by all workers')
        if available is not None and self.nbytes > max_ram_fraction * available:
            raise CacheTooLargeError(
                f'the memory cache needs {self.nbytes / 2**30:.1f} GiB but only {available / 2**30:.1f} GiB is '
                f'available ({max_ram_fraction:.0%} allowed): use cache: none with sub-image LMDBs '
                '(scripts/make_lmdb.py --sub-size) or fewer pairs')
        self._mapping = mmap.mmap(-1, max(self.nbytes, 1), flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
        self.buffer = np.frombuffer(self._mapping, dtype=np.uint8)
        self._slots = []  # per pair: ((offset, shape) of src, (offset, shape) of tar)
        offset = 0
        for pair_shapes in shapes:
            slots = []
            for shape in pair_shapes:
                slots.append((offset, tuple(shape)))
                offset += int(np.prod(shape))
            self._slots.append(tuple(slots))
        # OpenCV decodes outside the GIL, so threads fill the cache in parallel
        threads = num_threads or min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for _ in pool.map(lambda i: self._fill(source, i), range(len(source))):
                pass
        self.buffer.flags.writeable = False

    def _fill(self, source, index):
        for (offset, shape), img in zip(self._slots[index], source.read(index)):
            if tuple(img.shape) != shape:
                raise PhotoReadError(f'pair {source.name(index)}: decoded {img.shape}, header said {shape}')
            self.buffer[offset:offset + img.size] = img.reshape(-1)

    def __len__(self):
        return len(self._slots)

    def shapes(self, index):
        return tuple(shape for _, shape in self._slots[index])

    def read(self, index):
        """Read-only views (no copy) of the cached src and tar."""
        return tuple(self.buffer[offset:offset + int(np.prod(shape))].reshape(shape)
                     for offset, shape in self._slots[index])

    def __reduce__(self):
        raise TypeError('cache: memory shares one decoded copy with DataLoader workers through fork; this process '
                        'tried to pickle it (spawn/forkserver start method), which would copy it into every worker. '
                        'Use the default fork start method on Linux, or cache: none.')
