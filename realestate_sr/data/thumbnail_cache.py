"""Whole-photo thumbnails made once per training pair and shared by every DataLoader worker.

Each WholePhotoDataset sample needs the thumbnails of the whole source and target photos. Making one from a
3300x2200 photo (``photo_thumbnail`` at 512 px) costs about 0.27 CPU s, twice a sample, where cutting the crop
costs milliseconds. The thumbnail of a flipped or transposed photo is the flipped or transposed thumbnail (the
resampling is symmetric; they agree to 3e-7), so a pair's two thumbnails are made once, by whichever process
needs them first, into one anonymous shared mapping allocated before the DataLoader forks its workers, and
each sample turns them as it turns the photo.
"""
import mmap
import multiprocessing

import numpy as np
import torch

from realestate_sr.data.memory_cache import available_ram_bytes
from realestate_sr.utils.wording import counted

MAX_RAM_FRACTION = 0.25  # more than this of MemAvailable and the dataset makes thumbnails per sample instead


def thumbnail_values(count, size):
    """float32 values of the (source, target) RGB thumbnails of ``count`` pairs at ``size`` px."""
    return count * 2 * 3 * size * size


class ThumbnailCache:
    """(source, target) float32 thumbnails (3, size, size) of ``count`` pairs, filled on first use."""

    def __init__(self, count, size):
        self.count, self.size = count, size
        values = thumbnail_values(count, size)
        self.nbytes = values * 4 + count
        self._mapping = mmap.mmap(-1, max(self.nbytes, 1), flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
        self._thumbs = np.frombuffer(self._mapping, dtype=np.float32, count=values).reshape(count, 2, 3, size, size)
        self._ready = np.frombuffer(self._mapping, dtype=np.uint8, count=count, offset=values * 4)
        # taken around the ready flags only: its acquire/release order a slot's values before its flag, also
        # on CPUs that reorder stores between cores (the GB10's Arm cores)
        self._lock = multiprocessing.Lock()

    @classmethod
    def if_it_fits(cls, count, size, log=None):
        """A cache, or None (with a log line) when it would take more than MAX_RAM_FRACTION of the free RAM."""
        nbytes = thumbnail_values(count, size) * 4
        available = available_ram_bytes()
        if available is not None and nbytes > MAX_RAM_FRACTION * available:
            if log is not None:
                log(f'thumbnail cache off: {counted(count, "pair")} at {size} px need {nbytes / 2**30:.1f} GiB, '
                    'more than '
                    f'{MAX_RAM_FRACTION:.0%} of the {available / 2**30:.1f} GiB available; thumbnails are made '
                    'per sample')
            return None
        if log is not None:
            log(f'thumbnail cache: {counted(count, "pair")} at {size} px -> {nbytes / 2**30:.2f} GiB, filled on '
                'first use, shared by all workers')
        return cls(count, size)

    def filled(self, index):
        with self._lock:
            return bool(self._ready[index])

    def get(self, index, make):
        """(source, target) thumbnails of pair ``index`` as fresh tensors; ``make()`` returns them the first
        time (two float32 tensors 3,size,size)."""
        if self.filled(index):
            return tuple(torch.from_numpy(self._thumbs[index, side].copy()) for side in (0, 1))
        thumbs = make()
        for side, thumb in enumerate(thumbs):
            self._thumbs[index, side] = thumb.numpy()
        with self._lock:
            self._ready[index] = 1
        return thumbs

    def __reduce__(self):
        raise TypeError('the thumbnail cache is shared with DataLoader workers through fork; this process tried to '
                        'pickle it (spawn/forkserver start method), which would copy it into every worker. Use the '
                        'default fork start method on Linux, or thumb_cache: false.')
