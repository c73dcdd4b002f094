"""Build the benchmark folder: photos -> captured sources and house-style targets -> one manifest per task.

A task is one house style (``realestate_sr.benchmark.styles``) with every capture family
(``realestate_sr.benchmark.families``) as sources: each pair's source is a capture of the photo, its target is the
style's edit of what the capture framed (the photo, or the crop a capture family took). Photos are not split
here: the runner folds them by scene (``realestate_sr.benchmark.folds``), so every photo is tested once.

Layout of ``out`` (docs/benchmark.md):

- ``images/src/<capture>/<photo>_v<k>.jpg``: the sources, shared by every task (at the JPEG quality the
  capture drew, 95 when it drew none);
- ``images/tar/<style>/<photo>.jpg``: one target per style and photo (JPEG 95);
  ``images/tar/<style>/<photo>_<capture>_v<k>.jpg`` for a capture that cropped the photo;
- ``task_<style>.jsonl``: every pair of that task; each line ``src``, ``tar`` (relative to ``out``), ``task``,
  ``family`` (the capture family), ``kind``, ``photo``, ``scene``, ``variant``, ``seed`` and the capture's
  ``params``;
- ``photos.json``: every photo with its package, version, file, licence, size and sha256; ``licences/``: the
  licence files the photos' entries name;
- ``build_info.json``: the settings, the tasks and the counts; a later build with the same settings reuses
  the folder.

The folder is written under a temporary name beside ``out`` and renamed when complete.
"""
import hashlib
import json
import os
import shutil
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from realestate_sr.benchmark import family_utils
from realestate_sr.benchmark.families import capture_families, family
from realestate_sr.benchmark.photo_sources import PackageCache, check_sources, sources_digest
from realestate_sr.benchmark.styles import style, style_names
from realestate_sr.data import image_io
from realestate_sr.data.image_io import write_jpeg
from realestate_sr.utils import colour
from realestate_sr.utils.colour import to_bgr_uint8
from realestate_sr.utils.output_safety import replace_folder
from realestate_sr.utils.photo_decode import PhotoReadError

FORMAT_VERSION = 2
PHOTO_JPEG_QUALITY = 95
PARTIAL_PREFIX = '.partial-'
TASK_PREFIX = 'task_'


class BenchExistsError(Exception):
    """``out`` holds a benchmark built with other settings."""


@dataclass
class BenchSettings:
    """What a build depends on; a folder built with equal settings is reused as it is.

    ``captures`` / ``styles``: the capture families and house styles (empty: every registered one);
    ``variants``: captures per photo and capture family (the runner picks how many it trains and scores).
    """
    seed: int = 0
    captures: tuple = ()
    styles: tuple = ()
    variants: int = 2
    max_side: int = 1024
    sources_sha256: str = ''
    code_sha256: str = ''
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        self.captures = tuple(self.captures or capture_families())
        self.styles = tuple(self.styles or style_names())

    def as_dict(self):
        return {key: list(value) if isinstance(value, tuple) else value for key, value in vars(self).items()}


@dataclass
class BuildResult:
    out: Path
    reused: bool
    counts: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    seconds: float = 0.0


def task_manifest(out, task):
    """The manifest of one task (house style) in a benchmark folder."""
    return Path(out) / f'{TASK_PREFIX}{task}.jsonl'


def code_digest(settings):
    """sha256 of the code that makes pairs (captures, styles, colour curves, the JPEG writer, this builder): a change
    rebuilds."""
    digest = hashlib.sha256()
    modules = [*(family(name) for name in settings.captures), *(style(name) for name in settings.styles),
               family_utils, colour, image_io, sys.modules[__name__]]
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def pair_seed(seed, family_name, photo_id, variant):
    """The seed of one capture, from names only: a pair does not change when other photos are added or removed."""
    return [int(seed), zlib.crc32(f'{family_name}/{photo_id}/{variant}'.encode('utf-8'))]


def read_photo(path, rotate_cw=0, max_side=0):
    """RGB float32 in [0, 1], EXIF orientation applied, turned ``rotate_cw`` degrees clockwise, the long side
    reduced to ``max_side`` (area filter) when larger."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise PhotoReadError(f'cannot decode photo {path}')
    if rotate_cw:
        bgr = np.ascontiguousarray(np.rot90(bgr, k=-rotate_cw // 90))
    height, width = bgr.shape[:2]
    if max_side and max(height, width) > max_side:
        scale = max_side / max(height, width)
        bgr = cv2.resize(bgr, (max(1, round(width * scale)), max(1, round(height * scale))),
                         interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def _write_jsonl(path, rows):
    with path.open('w', encoding='utf-8') as handle:
        handle.writelines(json.dumps(row, sort_keys=True) + '\n' for row in rows)


def existing_settings(out):
    try:
        return json.loads((Path(out) / 'build_info.json').read_text(encoding='utf-8'))['settings']
    except (OSError, json.JSONDecodeError, KeyError):
        return None


def check_settings(settings):
    for name in settings.captures:
        if family(name).KIND != 'capture':
            raise ValueError(f'{name!r} is not a capture family; captures: {capture_families()}')
    for name in settings.styles:
        style(name)
    if settings.variants < 1:
        raise ValueError('--variants must be at least 1')


def build_bench(out, photos, cache_dir, settings=None, force=False, log=print):
    """Build (or reuse) the benchmark in ``out`` from ``photos`` (PhotoSource list); returns a BuildResult.

    Raises ReservedSourceError / SourceError (sources), SourceFetchError, PhotoReadError, BenchExistsError
    (``out`` built with other settings and not ``force``), ValueError / KeyError (settings).
    """
    started = time.perf_counter()
    out = Path(out)
    settings = settings or BenchSettings()
    usable, skipped = check_sources(photos)
    check_settings(settings)
    settings.sources_sha256 = sources_digest(usable)
    settings.code_sha256 = code_digest(settings)
    for stale in out.parent.glob(f'.{out.name}{PARTIAL_PREFIX}*'):
        shutil.rmtree(stale, ignore_errors=True)  # left by a build that was killed
    if out.exists():
        if existing_settings(out) == settings.as_dict():
            return BuildResult(out, reused=True, counts=_counts(out), skipped=skipped,
                               seconds=time.perf_counter() - started)
        if not force:
            raise BenchExistsError(f'{out} holds a benchmark built with other settings (or is not one); '
                                   'pass --force to rebuild it or choose another --out')
    if len(usable) < 3:
        raise ValueError(f'the benchmark needs at least 3 photos with a clear licence, got {len(usable)}')
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.parent / f'.{out.name}{PARTIAL_PREFIX}{os.getpid()}'
    try:
        counts = _build_into(partial, usable, skipped, PackageCache(cache_dir), settings, log)
        replace_folder(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return BuildResult(out, reused=False, counts=counts, skipped=skipped, seconds=time.perf_counter() - started)


def _counts(out):
    """{task: pairs} of a benchmark folder."""
    counts = {}
    for manifest in sorted(Path(out).glob(f'{TASK_PREFIX}*.jsonl')):
        task = manifest.stem[len(TASK_PREFIX):]
        counts[task] = sum(1 for line in manifest.read_text(encoding='utf-8').splitlines() if line.strip())
    return counts


def _photo_pairs(root, photo, rgb, settings):
    """Write one photo's sources and targets; {style: [manifest rows]}."""
    rows = {name: [] for name in settings.styles}
    whole_targets = {}
    for capture in settings.captures:
        module = family(capture)
        for variant in range(settings.variants):
            seed = pair_seed(settings.seed, capture, photo.id, variant)
            src, framed, params = module.make_pair(rgb, np.random.default_rng(seed))
            src_path = f'images/src/{capture}/{photo.id}_v{variant}.jpg'
            write_jpeg(root / src_path, to_bgr_uint8(src), params.get('jpeg_quality') or PHOTO_JPEG_QUALITY)
            whole = framed.shape == rgb.shape and np.array_equal(framed, rgb)
            for name in settings.styles:
                if whole:
                    tar_path = f'images/tar/{name}/{photo.id}.jpg'
                    if name not in whole_targets:
                        whole_targets[name] = tar_path
                        write_jpeg(root / tar_path, to_bgr_uint8(style(name).apply_style(rgb)), PHOTO_JPEG_QUALITY)
                else:  # the capture framed a part of the photo: the house edits what it was handed
                    tar_path = f'images/tar/{name}/{photo.id}_{capture}_v{variant}.jpg'
                    write_jpeg(root / tar_path, to_bgr_uint8(style(name).apply_style(framed)), PHOTO_JPEG_QUALITY)
                rows[name].append({'src': src_path, 'tar': tar_path, 'task': name, 'family': capture,
                                   'kind': module.KIND, 'photo': photo.id, 'scene': photo.scene,
                                   'variant': variant, 'seed': seed, 'params': params})
    return rows


def _build_into(root, photos, skipped, cache, settings, log):
    (root / 'images').mkdir(parents=True)
    (root / 'licences').mkdir()
    manifests = {name: [] for name in settings.styles}
    photo_records = []
    for index, photo in enumerate(photos, 1):
        path = cache.path(photo, photo.file)
        licence_path = cache.path(photo, photo.licence_file)
        licence_copy = root / 'licences' / f'{photo.package}-{photo.version}-{Path(photo.licence_file).name}'
        if not licence_copy.exists():
            shutil.copyfile(licence_path, licence_copy)
        rgb = read_photo(path, photo.rotate_cw, settings.max_side)
        photo_records.append({**photo.as_dict(), 'width': rgb.shape[1], 'height': rgb.shape[0],
                              'sha256': hashlib.sha256(path.read_bytes()).hexdigest(),
                              'licence_copy': str(licence_copy.relative_to(root))})
        for name, rows in _photo_pairs(root, photo, rgb, settings).items():
            manifests[name] += rows
        log(f'[{index}/{len(photos)}] {photo.id} ({rgb.shape[1]}x{rgb.shape[0]})')
    for name, rows in manifests.items():
        _write_jsonl(task_manifest(root, name), rows)
    (root / 'photos.json').write_text(json.dumps(photo_records, indent=1) + '\n', encoding='utf-8')
    counts = _counts(root)
    info = {'settings': settings.as_dict(), 'tasks': list(settings.styles), 'captures': list(settings.captures),
            'capture_docs': {name: family(name).__doc__.strip().splitlines()[0] for name in settings.captures},
            'style_docs': {name: style(name).__doc__.strip().splitlines()[0] for name in settings.styles},
            'style_recipes': {name: family_utils.record(style(name).RECIPE) for name in settings.styles},
            'photos': len(photos), 'pairs': counts, 'skipped': [{'id': i, 'reason': r} for i, r in skipped]}
    (root / 'build_info.json').write_text(json.dumps(info, indent=1) + '\n', encoding='utf-8')
    return counts
