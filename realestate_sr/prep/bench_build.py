"""Build the benchmark folder: photos -> splits by scene -> pairs of every family -> manifests.

Layout of ``out`` (docs/benchmark.md):

- ``images/<family>/<photo>_v<k>_{src,tar}.jpg``: the pairs (targets and photo sources at JPEG quality 95,
  capture sources at the quality their family drew);
- ``train.jsonl``: pairs of the training families on the training photos (what recipes train on);
  ``val.jsonl`` / ``test.jsonl``: every family on the validation / test photos; ``test_<family>.jsonl`` and
  ``val_<family>.jsonl`` per family. Each line: ``src``, ``tar`` (relative to ``out``), ``family``, ``kind``,
  ``photo``, ``scene``, ``split``, ``variant``, ``seed`` and the family's ``params``;
- ``photos.json``: every photo with its package, version, file, licence, split, size and sha256;
  ``licences/``: the licence files the photos' entries name;
- ``build_info.json``: the settings; a later build with the same settings reuses the folder.

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

from realestate_sr.prep import family_utils
from realestate_sr.prep.families import DEFAULT_HELD_OUT, FAMILIES, family
from realestate_sr.prep.photo_sources import PackageCache, check_sources, sources_digest
from realestate_sr.utils import colour
from realestate_sr.utils.colour import to_bgr_uint8
from realestate_sr.utils.output_safety import replace_folder
from realestate_sr.utils.photo_decode import PhotoReadError

FORMAT_VERSION = 1
PHOTO_JPEG_QUALITY = 95
PARTIAL_PREFIX = '.partial-'


class BenchExistsError(Exception):
    """``out`` holds a benchmark built with other settings."""


@dataclass
class BenchSettings:
    """What a build depends on; a folder built with equal settings is reused as it is."""
    seed: int = 0
    held_out: str = DEFAULT_HELD_OUT
    families: tuple = tuple(FAMILIES)
    train_variants: int = 2
    eval_variants: int = 2
    test_fraction: float = 0.3
    val_fraction: float = 0.1
    max_side: int = 1024
    sources_sha256: str = ''
    code_sha256: str = ''
    format_version: int = FORMAT_VERSION

    def as_dict(self):
        return {key: list(value) if isinstance(value, tuple) else value for key, value in vars(self).items()}


@dataclass
class BuildResult:
    out: Path
    reused: bool
    counts: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    seconds: float = 0.0


def code_digest():
    """sha256 of the code that makes pairs (families, colour curves, this builder): a change rebuilds the benchmark."""
    digest = hashlib.sha256()
    for module in [*FAMILIES.values(), family_utils, colour, sys.modules[__name__]]:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def pair_seed(seed, family_name, photo_id, variant):
    """The seed of one pair, from names only: a pair does not change when other photos are added or removed."""
    return [int(seed), zlib.crc32(f'{family_name}/{photo_id}/{variant}'.encode('utf-8'))]


def split_scenes(scene_of_photo, test_fraction, val_fraction, seed):
    """{photo id: 'train' | 'val' | 'test'}; whole scenes go to one split (seeded order, then filled test first,
    then val, to at least the given fractions of the photos)."""
    scenes = {}
    for photo_id, scene in sorted(scene_of_photo.items()):
        scenes.setdefault(scene, []).append(photo_id)
    order = sorted(scenes)
    order = [order[i] for i in np.random.default_rng([int(seed), 7]).permutation(len(order))]
    total = len(scene_of_photo)
    want = {'test': round(total * test_fraction), 'val': round(total * val_fraction)}
    counts = {'test': 0, 'val': 0}
    split = {}
    for scene in order:
        name = next((s for s in ('test', 'val') if counts[s] < want[s]), 'train')
        if name in counts:
            counts[name] += len(scenes[scene])
        for photo_id in scenes[scene]:
            split[photo_id] = name
    return split


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


def write_jpeg(path, rgb, quality):
    bgr = to_bgr_uint8(rgb)
    if not cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]):
        raise OSError(f'cannot write {path}')


def _write_jsonl(path, rows):
    with path.open('w', encoding='utf-8') as handle:
        handle.writelines(json.dumps(row, sort_keys=True) + '\n' for row in rows)


def existing_settings(out):
    try:
        return json.loads((Path(out) / 'build_info.json').read_text(encoding='utf-8'))['settings']
    except (OSError, json.JSONDecodeError, KeyError):
        return None


def check_settings(settings):
    for name in settings.families:
        family(name)
    if settings.held_out and settings.held_out not in settings.families:
        raise ValueError(f'held-out family {settings.held_out!r} is not among the families {list(settings.families)}')
    if settings.held_out and FAMILIES[settings.held_out].KIND != 'capture':
        raise ValueError(f'the held-out family must be a capture family, got {settings.held_out!r}')
    if settings.train_variants < 1 or settings.eval_variants < 1:
        raise ValueError('--train-variants and --eval-variants must be at least 1')
    if not (0 < settings.test_fraction < 1 and 0 <= settings.val_fraction < 1
            and settings.test_fraction + settings.val_fraction < 1):
        raise ValueError('test and val fractions must be in (0, 1) and leave photos for training')


def build_bench(out, photos, cache_dir, settings=None, force=False, log=print):
    """Build (or reuse) the benchmark in ``out`` from ``photos`` (PhotoSource list); returns a BuildResult.

    Raises ReservedSourceError / SourceError (sources), SourceFetchError, PhotoReadError, BenchExistsError
    (``out`` built with other settings and not ``force``), ValueError (settings).
    """
    started = time.perf_counter()
    out = Path(out)
    settings = settings or BenchSettings()
    usable, skipped = check_sources(photos)
    settings.sources_sha256 = sources_digest(usable)
    settings.code_sha256 = code_digest()
    check_settings(settings)
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
    counts = {}
    for manifest in sorted(Path(out).glob('*.jsonl')):
        counts[manifest.stem] = sum(1 for line in manifest.read_text(encoding='utf-8').splitlines() if line.strip())
    return counts


def _build_into(root, photos, skipped, cache, settings, log):
    (root / 'images').mkdir(parents=True)
    (root / 'licences').mkdir()
    split_of = split_scenes({p.id: p.scene for p in photos}, settings.test_fraction, settings.val_fraction,
                            settings.seed)
    train_families = [name for name in settings.families if name != settings.held_out]
    manifests = {'train': [], 'val': [], 'test': []}
    photo_records = []
    for index, photo in enumerate(photos, 1):
        path = cache.path(photo, photo.file)
        licence_path = cache.path(photo, photo.licence_file)
        licence_copy = root / 'licences' / f'{photo.package}-{photo.version}-{Path(photo.licence_file).name}'
        if not licence_copy.exists():
            shutil.copyfile(licence_path, licence_copy)
        rgb = read_photo(path, photo.rotate_cw, settings.max_side)
        split = split_of[photo.id]
        photo_records.append({**photo.as_dict(), 'split': split, 'width': rgb.shape[1], 'height': rgb.shape[0],
                              'sha256': hashlib.sha256(path.read_bytes()).hexdigest(),
                              'licence_copy': str(licence_copy.relative_to(root))})
        names = train_families if split == 'train' else list(settings.families)
        for name in names:
            module = FAMILIES[name]
            # the style edit is fixed: a second variant would repeat the first
            variants = 1 if module.KIND == 'style' else (
                settings.train_variants if split == 'train' else settings.eval_variants)
            (root / 'images' / name).mkdir(exist_ok=True)
            for variant in range(variants):
                seed = pair_seed(settings.seed, name, photo.id, variant)
                src, tar, params = module.make_pair(rgb, np.random.default_rng(seed))
                stem = f'images/{name}/{photo.id}_v{variant}'
                write_jpeg(root / f'{stem}_src.jpg', src, params.get('jpeg_quality') or PHOTO_JPEG_QUALITY)
                write_jpeg(root / f'{stem}_tar.jpg', tar, PHOTO_JPEG_QUALITY)
                manifests[split].append({'src': f'{stem}_src.jpg', 'tar': f'{stem}_tar.jpg', 'family': name,
                                         'kind': module.KIND, 'photo': photo.id, 'scene': photo.scene,
                                         'split': split, 'variant': variant, 'seed': seed, 'params': params})
        log(f'[{index}/{len(photos)}] {photo.id} ({split}, {rgb.shape[1]}x{rgb.shape[0]})')
    for split, rows in manifests.items():
        if rows:
            _write_jsonl(root / f'{split}.jsonl', rows)
        if split != 'train':
            for name in settings.families:
                family_rows = [row for row in rows if row['family'] == name]
                if family_rows:
                    _write_jsonl(root / f'{split}_{name}.jsonl', family_rows)
    (root / 'photos.json').write_text(json.dumps(photo_records, indent=1) + '\n', encoding='utf-8')
    counts = _counts(root)
    info = {'settings': settings.as_dict(), 'train_families': train_families, 'held_out': settings.held_out,
            'family_docs': {name: FAMILIES[name].__doc__.strip().splitlines()[0] for name in settings.families},
            'photos_per_split': {s: sum(1 for v in split_of.values() if v == s) for s in ('train', 'val', 'test')},
            'pairs': counts, 'skipped': [{'id': i, 'reason': r} for i, r in skipped]}
    (root / 'build_info.json').write_text(json.dumps(info, indent=1) + '\n', encoding='utf-8')
    return counts
