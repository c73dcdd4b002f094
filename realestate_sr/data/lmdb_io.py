"""The LMDB layout written by ``scripts/make_lmdb.py`` and read by ``PairedListingDataset``.

A built data set folder (``datasets/NAME/``) holds::

    src.lmdb/   data.mdb  lock.mdb  meta_info.txt    amateur photos (BasicSR's lq)
    tar.lmdb/   data.mdb  lock.mdb  meta_info.txt    edited photos (BasicSR's gt), same keys
    train.txt  val.txt  test.txt                     split files: one key per line
    name_map.jsonl                                   key -> pair name, source paths, split, sub-image box
    build_info.json                                  command, encoding, counts, excluded pairs and why
    pair_checks.json                                 the pair-check report (when checks ran)

Keys are ASCII: ``00012`` for whole pair number 12 (its order in the input list) and ``00012_s003`` for its
fourth sub-image; ``name_map.jsonl`` maps them back to file names. ``meta_info.txt`` follows BasicSR's
``KEY.EXT (H,W,C) PARAM`` lines, where EXT is the encoding (``png``, ``jpg`` or ``raw``: uint8 BGR bytes,
row-major H x W x 3) and PARAM its level/quality. Stock BasicSR LMDBs (PNG) are readable by the same code.
The folder appears under its final name only once complete: builds go to a hidden temporary folder that is
renamed at the end, and ``meta_info.txt`` is written after the last record.
"""
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from realestate_sr.data.image_io import decode_bgr
from realestate_sr.utils.cli_flags import LMDB_ENCODINGS
from realestate_sr.utils.photo_decode import PhotoReadError
from realestate_sr.utils.tiling import tile_starts

ENCODINGS = LMDB_ENCODINGS
META_INFO = 'meta_info.txt'
_META_LINE = re.compile(r'^(?P<key>[^.\s]+)\.(?P<ext>\w+) \((?P<h>\d+),(?P<w>\d+),(?P<c>\d+)\)(?: (?P<param>\S+))?$')


class LmdbFormatError(ValueError):
    """An LMDB folder, its meta_info.txt or a split file is missing, incomplete or malformed."""


@dataclass(frozen=True)
class RecordInfo:
    key: str
    encoding: str
    shape: tuple  # (H, W, C)
    param: str = ''


def encode_image(img_bgr, encoding, png_level=1, jpg_quality=95):
    """Encode uint8 BGR for storage; returns (bytes, param string for meta_info)."""
    if encoding == 'raw':
        return np.ascontiguousarray(img_bgr).tobytes(), '-'
    if encoding == 'png':
        ok, buf = cv2.imencode('.png', img_bgr, [cv2.IMWRITE_PNG_COMPRESSION, int(png_level)])
        param = str(png_level)
    elif encoding == 'jpg':
        # 4:4:4 sampling keeps colour edges of the target: chroma subsampling would blur what the network learns
        ok, buf = cv2.imencode('.jpg', img_bgr, [cv2.IMWRITE_JPEG_QUALITY, int(jpg_quality),
                                                 cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                                                 cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
        param = str(jpg_quality)
    else:
        raise ValueError(f'unknown encoding {encoding!r}; expected one of {ENCODINGS}')
    if not ok:
        raise ValueError(f'OpenCV could not encode a {img_bgr.shape} image as {encoding}')
    return buf.tobytes(), param


def decode_record(buf, info, name):
    if info.encoding == 'raw':
        expected = int(np.prod(info.shape))
        if buf is None or len(buf) != expected:
            raise PhotoReadError(f'{name}: raw record has {0 if buf is None else len(buf)} bytes, expected {expected}')
        return np.frombuffer(buf, np.uint8).reshape(info.shape)
    return decode_bgr(buf, name)


def meta_info_line(info):
    h, w, c = info.shape
    return f'{info.key}.{info.encoding} ({h},{w},{c}) {info.param or "-"}'


def read_meta_info(lmdb_path):
    """Parse ``meta_info.txt`` of an LMDB folder into ``{key: RecordInfo}`` (in file order)."""
    lmdb_path = Path(lmdb_path)
    meta = lmdb_path / META_INFO
    if not (lmdb_path / 'data.mdb').is_file():
        raise LmdbFormatError(f'{lmdb_path} is not an LMDB folder (no data.mdb): build it with scripts/make_lmdb.py '
                              '(docs/data.md)')
    if not meta.is_file():
        raise LmdbFormatError(f'{lmdb_path} has no {META_INFO}: the build did not finish; rerun make_lmdb.py')
    records = {}
    for number, line in enumerate(meta.read_text(encoding='ascii').splitlines(), 1):
        if not line.strip():
            continue
        match = _META_LINE.match(line.strip())
        if not match:
            raise LmdbFormatError(f'{meta}:{number}: expected "KEY.EXT (H,W,C) PARAM", got {line!r}')
        encoding = match['ext'].lower()
        encoding = 'jpg' if encoding == 'jpeg' else encoding
        shape = (int(match['h']), int(match['w']), int(match['c']))
        records[match['key']] = RecordInfo(match['key'], encoding, shape, match['param'] or '')
    if not records:
        raise LmdbFormatError(f'{meta} lists no records')
    return records


def read_split_file(path):
    """Keys listed in a split file, one per line. ``meta_info.txt`` itself is accepted (meaning: all keys)."""
    try:
        lines = Path(path).read_text(encoding='ascii').splitlines()
    except OSError as err:
        raise LmdbFormatError(f'cannot read split file {path}: {err.strerror or err}') from err
    keys = [line.split()[0].split('.')[0] for line in lines if line.strip()]
    if not keys:
        raise LmdbFormatError(f'split file {path} lists no keys')
    return keys


# (real path, data file identity) -> open read-only environment. py-lmdb refuses to open one environment twice
# in a process ("already open in this process"), and the train and val datasets of one run read the same src/tar
# LMDBs. A forked DataLoader worker inherits these environments and must reuse them: reopening is refused there
# too. Read-only and without locks, an inherited environment only reads its memory map.
# The memory cache fills itself from several threads that all start with the first read: without the lock two of
# them see no environment yet, both open one, and the second open fails.
_READONLY_ENVIRONMENTS = {}
_OPEN_LOCK = threading.Lock()


def _new_open_lock():
    # a fork taken while another thread held the lock would leave the child's copy locked forever
    global _OPEN_LOCK
    _OPEN_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_new_open_lock)


def _data_file_identity(path):
    try:
        stat = os.stat(os.path.join(path, 'data.mdb'))
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def open_readonly(path):
    """The process's one read-only environment of the LMDB folder ``path``, opened on first use.

    Keyed by the data file's inode as well, so a database rebuilt under the same name (make_lmdb --force) is
    opened afresh. Safe to call from several threads at once (the memory cache's fill threads do).
    """
    import lmdb
    key = (os.path.realpath(path), _data_file_identity(path))
    with _OPEN_LOCK:
        env = _READONLY_ENVIRONMENTS.get(key)
        if env is None:
            env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
            _READONLY_ENVIRONMENTS[key] = env
    return env


class LmdbImageReader:
    """Read-only access to one LMDB of images, opened on first use (see :func:`open_readonly`).

    The handle is dropped when pickled, so spawned DataLoader workers open their own; readers of the same LMDB
    in one process share its environment.
    """

    def __init__(self, lmdb_path):
        self.path = str(lmdb_path)
        self.records = read_meta_info(lmdb_path)
        self._env = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state['_env'] = None
        return state

    def get_bytes(self, key):
        if self._env is None:
            self._env = open_readonly(self.path)
        with self._env.begin(write=False) as txn:
            buf = txn.get(key.encode('ascii'))
        if buf is None:
            raise PhotoReadError(f'key {key!r} is listed in {self.path}/{META_INFO} but missing from the database')
        return buf

    def read(self, key):
        """uint8 BGR image stored under ``key``."""
        try:
            info = self.records[key]
        except KeyError:
            raise LmdbFormatError(f'key {key!r} is not in {self.path}/{META_INFO}') from None
        return decode_record(self.get_bytes(key), info, f'{self.path}:{key}')


def sub_image_boxes(height, width, size, step):
    """(top, left, h, w) boxes of overlapping sub-images covering a height x width image."""
    if step <= 0 or step > size:
        raise ValueError(f'sub-image step must be in 1..size ({size}), got {step}; a larger step leaves gaps')
    return [(top, left, min(size, height), min(size, width))
            for top in tile_starts(height, size, step) for left in tile_starts(width, size, step)]
