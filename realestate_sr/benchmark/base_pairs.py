"""Pretraining pairs of many procedural houses, for a base model that is then fine-tuned on one user's house.

``write_base_pairs(bench_dir, photos, houses, out)`` writes, for the given photos of a benchmark folder only, pairs
whose source is one of the benchmark's capture JPEGs (every capture family but ``held_out``, the first ``variants``
captures) and whose target is a procedural house's edit (``style_random.apply_house``) of what that capture framed.
What a capture framed is the build's own answer: the target of the ``none`` task (the photo itself, or for a
capture that cropped, the crop it took; ``build.py``), so this needs a benchmark built with that task.

Each photo gets ``houses_per_photo`` of the ``houses`` houses (``style_random.random_houses(houses, seed)``),
drawn from the photo's name, so adding a photo changes no other photo's pairs; all its sources get those houses.
A house's index in the manifest (``house``) is the row of its code in ``network_g.style_codes``.

Layout of ``out`` (written under a temporary name beside it and renamed when complete; an existing ``out``
written with the same settings is reused, one with other settings replaced only when it holds nothing else):

- ``src/<capture>__<photo>_v<k>.jpg``: copies of the benchmark's sources;
- ``tar/house<i>__<name>.jpg``: house ``i``'s edit of what the capture framed (JPEG 95, as the build's targets);
- ``pairs.jsonl``: one line per pair in the benchmark's manifest format (``src``, ``tar``, ``task`` =
  ``BASE_TASK``, ``family``, ``kind``, ``photo``, ``scene``, ``variant``, ``seed``, ``params``) plus ``house``;
- ``build_info.json``: the settings and every house's controls.
"""
import json
import shutil
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from realestate_sr.benchmark.build import PHOTO_JPEG_QUALITY, read_photo, task_manifest
from realestate_sr.benchmark.families import DEFAULT_HELD_OUT
from realestate_sr.benchmark.style_random import apply_house, random_houses
from realestate_sr.data.image_io import write_jpeg
from realestate_sr.utils.colour import to_bgr_uint8
from realestate_sr.utils.output_safety import (
    check_replaceable,
    read_info,
    remove_stale_temps,
    replace_folder,
    temp_sibling,
    write_info,
)

TOOL = 'base_pairs'
BASE_TASK = 'base_houses'
FRAMING_TASK = 'none'  # its targets are what each capture framed, unedited
MANIFEST = 'pairs.jsonl'
LAYOUT = {'build_info.json': None, MANIFEST: None, 'src': ('*.jpg', ), 'tar': ('*.jpg', )}
TEMP_TAG = 'partial'


class BasePairsError(ValueError):
    """Base pairs cannot be made from this benchmark folder with these photos or settings."""


@dataclass
class BasePairsResult:
    out: Path
    reused: bool
    pairs: int = 0
    photos: list = field(default_factory=list)
    seconds: float = 0.0


def houses_of_photo(photo_id, houses, houses_per_photo, seed=0):
    """The sorted house indices photo ``photo_id`` is edited by: ``houses_per_photo`` of ``range(houses)`` (all of
    them when not fewer), drawn from the seed and the photo's name alone."""
    if houses_per_photo >= houses:
        return list(range(houses))
    rng = np.random.default_rng([int(seed), zlib.crc32(photo_id.encode('utf-8'))])
    return sorted(int(index) for index in rng.choice(houses, size=houses_per_photo, replace=False))


def framing_rows(bench_dir, photos, held_out=DEFAULT_HELD_OUT, variants=None):
    """The ``none`` task's manifest rows of ``photos`` (every capture family but ``held_out``, variants below
    ``variants`` when given): each a source and what its capture framed."""
    manifest = task_manifest(bench_dir, FRAMING_TASK)
    if not manifest.is_file():
        raise BasePairsError(f'{bench_dir} has no {manifest.name}: base pairs need the {FRAMING_TASK!r} task (what '
                             'each capture framed); build the benchmark with it')
    wanted = set(photos)
    rows = [json.loads(line) for line in manifest.read_text(encoding='utf-8').splitlines() if line.strip()]
    rows = [row for row in rows if row['photo'] in wanted and row['family'] != held_out
            and (variants is None or row['variant'] < variants)]
    missing = sorted(wanted - {row['photo'] for row in rows})
    if missing:
        raise BasePairsError(f'photos {missing} have no training captures in {manifest}')
    return rows


def settings_record(bench_dir, photos, houses, houses_per_photo, held_out, variants, seed):
    build = read_info(bench_dir) or {}
    return {'bench_code_sha256': (build.get('settings') or {}).get('code_sha256'), 'photos': sorted(photos),
            'houses': int(houses), 'houses_per_photo': int(houses_per_photo), 'held_out': held_out,
            'variants': variants, 'seed': int(seed)}


def write_base_pairs(bench_dir, photos, houses, out, houses_per_photo=6, held_out=DEFAULT_HELD_OUT, variants=None,
                     seed=0, log=None):
    """Write (or reuse) the base pairs of ``photos`` (ids of ``bench_dir``'s photos) styled by ``houses`` procedural
    houses into ``out``; returns a BasePairsResult. Only the files of those photos' pairs are read.

    Raises BasePairsError (no ``none`` task, a photo without captures, bad counts) and UnsafeOutputError (``out``
    holds files this tool did not write)."""
    started = time.perf_counter()
    bench_dir, out = Path(bench_dir), Path(out)
    if houses < 1 or houses_per_photo < 1:
        raise BasePairsError(f'houses and houses_per_photo must be at least 1, got {houses} and {houses_per_photo}')
    settings = settings_record(bench_dir, photos, houses, houses_per_photo, held_out, variants, seed)
    if out.exists():
        if (read_info(out) or {}).get('settings') == settings:
            return BasePairsResult(out, reused=True, pairs=_count_lines(out / MANIFEST), photos=settings['photos'],
                                   seconds=time.perf_counter() - started)
        check_replaceable(out, TOOL, LAYOUT)
    rows = framing_rows(bench_dir, photos, held_out, variants)
    house_params = random_houses(houses, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out, TEMP_TAG)
    partial = temp_sibling(out, TEMP_TAG)
    try:
        manifest = _write_pairs(bench_dir, partial, rows, house_params, houses_per_photo, seed, log)
        write_info(partial, TOOL, settings=settings, houses=[house.as_dict() for house in house_params])
        replace_folder(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return BasePairsResult(out, reused=False, pairs=len(manifest), photos=settings['photos'],
                           seconds=time.perf_counter() - started)


def _write_pairs(bench_dir, root, rows, house_params, houses_per_photo, seed, log):
    (root / 'src').mkdir(parents=True)
    (root / 'tar').mkdir()
    manifest, edited = [], set()
    for row in rows:
        src = f'src/{row["family"]}__{Path(row["src"]).name}'
        shutil.copyfile(bench_dir / row['src'], root / src)
        framed = None
        for house in houses_of_photo(row['photo'], len(house_params), houses_per_photo, seed):
            tar = f'tar/house{house}__{Path(row["tar"]).name}'
            if tar not in edited:  # a whole photo is framed by several captures: edited once per house
                framed = read_photo(bench_dir / row['tar']) if framed is None else framed
                write_jpeg(root / tar, to_bgr_uint8(apply_house(framed, house_params[house])), PHOTO_JPEG_QUALITY)
                edited.add(tar)
            manifest.append({**row, 'src': src, 'tar': tar, 'task': BASE_TASK, 'house': house})
        if log:
            log(f'{row["src"]}: {len(manifest)} pairs so far')
    (root / MANIFEST).write_text(''.join(json.dumps(line, sort_keys=True) + '\n' for line in manifest),
                                 encoding='utf-8')
    return manifest


def _count_lines(path):
    return sum(1 for line in path.read_text(encoding='utf-8').splitlines() if line.strip())
