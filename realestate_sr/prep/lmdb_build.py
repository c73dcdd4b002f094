"""Building the LMDB data set folder described in :mod:`realestate_sr.data.lmdb_io` (used by make_lmdb.py).

Order of work: hold out the test split (a fixed test list or the first K pairs), run the pair checks (optionally
dropping flagged pairs), draw a seeded validation fraction from the pairs left, check again for a photo in two
splits (which stops the build unless it is dropped or explicitly allowed), refuse an empty train split, size the
maps from every image's header, then decode/encode in worker processes while this process writes both LMDBs, and
last a JSONL manifest per non-empty split pointing at the original files.
Everything goes to a hidden ``.NAME.partial-PID`` folder renamed to ``NAME`` at the very end, so an interrupted
build never looks complete; the next run removes it.
"""
import json
import os
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from realestate_sr.data.image_io import PairSizeMismatchError, check_same_size, image_shape_from_header, read_bgr
from realestate_sr.data.lmdb_io import ENCODINGS, META_INFO, RecordInfo, encode_image, meta_info_line, sub_image_boxes
from realestate_sr.data.pair_lists import write_manifest
from realestate_sr.prep.pair_checks import CheckThresholds, flag_duplicates_across_splits, run_checks
from realestate_sr.utils.output_safety import (
    check_clear_of_inputs,
    check_replaceable,
    info_record,
    is_empty_folder,
    pid_alive,
    replace_folder,
)
from realestate_sr.utils.photo_decode import PhotoReadError
from realestate_sr.utils.wording import counted

SPLITS = ('train', 'val', 'test')
PARTIAL_TAG = '.partial-'
TOOL = 'make_lmdb'
_LMDB_FILES = ('data.mdb', 'lock.mdb', META_INFO)
# everything a build writes: --force replaces a folder holding this and nothing else
LAYOUT = {'src.lmdb': _LMDB_FILES, 'tar.lmdb': _LMDB_FILES, 'name_map.jsonl': None, 'build_info.json': None,
          'pair_checks.json': None, **{f'{split}.{ext}': None for split in SPLITS for ext in ('txt', 'jsonl')}}


class BuildError(RuntimeError):
    """The LMDB build cannot start or finish (existing output, bad options, unmatched test list)."""


class EmptySplitError(BuildError):
    """The train split would hold no pair (everything went to test, validation or was left out)."""


class LeakageError(BuildError):
    """The checks found the same photo in two splits and the options neither drop nor allow it.

    ``report`` is the CheckReport, so a caller can show the whole check summary.
    """

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


@dataclass
class BuildOptions:
    encoding: str = 'png'
    png_level: int = 1
    jpg_quality: int = 95
    sub_size: int = 0            # 0: training pairs are stored whole
    sub_step: int = 0            # 0: sub_size // 2
    val_fraction: float = 0.1
    seed: int = 0
    test_names: tuple = ()       # pairs held out for test, by name or path suffix
    test_first: int = 0          # or: the first K pairs are the test split
    checks: bool = True
    exclude: bool = False        # drop pairs flagged by the checks
    allow_leakage: bool = False  # keep near-duplicates across splits (recorded); without it or exclude they stop it
    thresholds: CheckThresholds = field(default_factory=CheckThresholds)
    workers: int = 1
    force: bool = False

    def validate(self):
        if self.encoding not in ENCODINGS:
            raise BuildError(f'encoding must be one of {ENCODINGS}, got {self.encoding!r}')
        if not 0 <= self.val_fraction < 1:
            raise BuildError(f'val fraction must be in [0, 1), got {self.val_fraction}')
        if self.sub_size and not 0 < (self.sub_step or self.sub_size // 2) <= self.sub_size:
            raise BuildError(f'sub-image step must be in 1..{self.sub_size}, got {self.sub_step}')
        if self.test_names and self.test_first:
            raise BuildError('give a test list or a number of first pairs for test, not both')


def read_test_list(path):
    """Names from a test-list file: plain lines (pair name or path) or JSONL lines with a "src" field."""
    try:
        lines = Path(path).read_text(encoding='utf-8').splitlines()
    except OSError as err:
        raise BuildError(f'cannot read test list {path}: {err.strerror or err}') from err
    names = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            names.append(json.loads(line)['src'] if line.startswith('{') else line)
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise BuildError(f'{path}:{number}: expected a pair name, a path or {{"src": ...}}, got {line!r}') from err
    return tuple(names)


def _matches(pair, name):
    return name in (pair.name, pair.src, pair.tar) or pair.src.endswith('/' + name) or pair.tar.endswith('/' + name)


def assign_test_split(pairs, options):
    """'test' for the pairs the options hold out, 'train' for the others."""
    splits = ['train'] * len(pairs)
    if options.test_names:
        unmatched = []
        for name in options.test_names:
            hits = [i for i, pair in enumerate(pairs) if _matches(pair, name)]
            if not hits:
                unmatched.append(name)
            for i in hits:
                splits[i] = 'test'
        if unmatched:
            raise BuildError(f'{len(unmatched)} test-list entries match no pair (first: {unmatched[0]!r})')
    for i in range(min(options.test_first, len(pairs))):
        splits[i] = 'test'
    return splits


def draw_validation(splits, options, left_out=()):
    """``splits`` with a seeded ``val_fraction`` of its train pairs moved to 'val', drawn among the pairs not
    ``left_out`` (indices), so pairs the checks exclude never take a validation slot."""
    left_out = set(left_out)
    rest = [i for i, split in enumerate(splits) if split == 'train' and i not in left_out]
    n_val = round(options.val_fraction * len(rest))
    splits = list(splits)
    for i in random.Random(options.seed).sample(rest, n_val):
        splits[i] = 'val'
    return splits


def assign_splits(pairs, options, left_out=()):
    """A split name per pair. The test split is fixed by the options; validation is a seeded draw from the rest
    (without the ``left_out`` indices)."""
    return draw_validation(assign_test_split(pairs, options), options, left_out)


def split_counts_line(splits, keep):
    """'train 0, val 0, test 7 of 10 pairs (3 left out)' for the kept indices."""
    counts = {s: sum(1 for i in keep if splits[i] == s) for s in SPLITS}
    left_out = len(splits) - len(keep)
    return (', '.join(f'{s} {counts[s]}' for s in SPLITS) + f' of {counted(len(splits), "pair")}'
            + (f' ({left_out} left out)' if left_out else ''))


def check_train_not_empty(splits, keep, options):
    """Raise EmptySplitError, with the counts per split, when none of the kept pairs is for training."""
    if not any(splits[i] == 'train' for i in keep):
        causes = []
        if options.test_first or options.test_names:
            causes.append('--test-first/--test-list')
        if options.val_fraction:
            causes.append('--val-fraction')
        hint = f'; lower {" or ".join(causes)} or add pairs' if causes else '; add pairs'
        raise EmptySplitError(f'the train split would be empty: {split_counts_line(splits, keep)}{hint}. '
                              'Nothing was written')


def pair_keys(count):
    width = max(5, len(str(count - 1)))
    return [f'{i:0{width}d}' for i in range(count)]


def _encode_job(job):
    """Worker: decode one pair, cut sub-images if asked, encode. Returns (index, records, error message)."""
    index, key, pair, split, options = job
    try:
        src, tar = read_bgr(pair.src), read_bgr(pair.tar)
        check_same_size(src, tar, pair.name)
    except (PhotoReadError, PairSizeMismatchError) as err:
        return index, [], str(err)
    height, width = tar.shape[:2]
    if split == 'train' and options.sub_size:
        boxes = sub_image_boxes(height, width, options.sub_size, options.sub_step or options.sub_size // 2)
        items = [(f'{key}_s{j:03d}', box) for j, box in enumerate(boxes)]
    else:
        items = [(key, None)]
    records = []
    for record_key, box in items:
        if box is None:
            crops = (src, tar)
        else:
            top, left, h, w = box
            crops = (src[top:top + h, left:left + w], tar[top:top + h, left:left + w])
        encoded = [encode_image(img, options.encoding, options.png_level, options.jpg_quality) for img in crops]
        shape = tuple(crops[1].shape)
        records.append((record_key, box, shape, encoded[0][0], encoded[1][0], encoded[0][1]))
    return index, records, None


def planned_bytes(pairs, splits, options):
    """Raw uint8 bytes of every record, from headers: the base of the map size (whole set, not the first image)."""
    total = 0
    for pair, split in zip(pairs, splits):
        try:
            height, width, channels = image_shape_from_header(pair.tar)
        except PhotoReadError:
            continue
        if split == 'train' and options.sub_size:
            boxes = sub_image_boxes(height, width, options.sub_size, options.sub_step or options.sub_size // 2)
            total += sum(h * w * channels for _, _, h, w in boxes)
        else:
            total += height * width * channels
    return total


def map_size_for(raw_bytes):
    # PNG of noisy content and 4:4:4 JPEG at high quality can exceed raw size slightly; LMDB files are sparse,
    # so the slack costs address space, not disk
    return int(raw_bytes * 1.3) + (64 << 20)


@dataclass
class BuildSummary:
    output: str
    split_counts: dict
    record_counts: dict
    excluded: list
    leakage_allowed: list        # cross-split duplicates kept because of allow_leakage
    failed: list
    bytes_written: int
    seconds: float
    removed_partial: list
    manifests: list = field(default_factory=list)  # split manifests written (empty splits get none)
    report: object = None  # CheckReport when checks ran


LEAKAGE = 'duplicate_across_splits'


def leakage_message(pairs, report):
    """Why the build refuses: every flagged pair with its twin, and the two ways on."""
    flagged = [(pairs[i].name, result) for i, result in enumerate(report.results) if LEAKAGE in result.flags]
    listed = '; '.join(f'{name} ({result.split}): {result.flags[LEAKAGE]}' for name, result in flagged[:10])
    more = f'; and {len(flagged) - 10} more' if len(flagged) > 10 else ''
    return (f'{counted(len(flagged), "pair shows", "pairs show")} a photo that is also in another split '
            '(train/val/test leakage): '
            f'{listed}{more}. Nothing was written. Pass --exclude to leave flagged pairs out, or --allow-leakage '
            'to keep them anyway')


def remove_stale_partials(output):
    """Delete what interrupted builds of ``output`` left behind (not the folder of a build still running)."""
    output = Path(output)
    removed = []
    for folder in sorted(output.parent.glob(f'.{output.name}{PARTIAL_TAG}*')):
        pid = folder.name.rsplit(PARTIAL_TAG, 1)[1]
        if not pid.isdigit() or not folder.is_dir() or folder.is_symlink():
            continue  # not a name a build gives its temporary folder: someone else's
        if int(pid) != os.getpid() and pid_alive(int(pid)):
            raise BuildError(f'another build of {output} is running (pid {pid}, folder {folder})')
        shutil.rmtree(folder)
        removed.append(str(folder))
    return removed


def check_output(output, pairs, options, inputs=()):
    """Raise unless ``output`` may be written: it is no input and holds none (the photos of ``pairs`` and the
    ``inputs`` paths: manifest, roots, test list), and it is new, empty, or (with ``force``) an earlier build.

    UnsafeOutputError (a ValueError) when the folder is not ours to replace, BuildError when only --force is missing.
    """
    check_clear_of_inputs(output, [*inputs, *(path for pair in pairs for path in (pair.src, pair.tar))])
    output = Path(output)
    if not (output.exists() or output.is_symlink()) or is_empty_folder(output):
        return
    check_replaceable(output, TOOL, LAYOUT)
    if not options.force:
        raise BuildError(f'{output} holds an earlier build; pass --force to replace it (the old one stays until '
                         'the new one is done)')


def build_lmdb(pairs, output, options, progress=False, inputs=()):
    """Write the data set folder ``output`` from ``pairs`` (PairPaths). Returns a BuildSummary.

    ``inputs``: further paths the output must not be or hold (the manifest, its root, a test list); the photos of
    ``pairs`` are always checked.
    """
    import lmdb

    options.validate()
    output = Path(output)
    check_output(output, pairs, options, inputs)
    output.parent.mkdir(parents=True, exist_ok=True)
    removed = remove_stale_partials(output)
    started = time.time()
    splits = assign_test_split(pairs, options)
    keys = pair_keys(len(pairs))
    # leaving pairs out can only shrink train further: refuse now, before the checks read every photo
    check_train_not_empty(draw_validation(splits, options), range(len(pairs)), options)

    report, excluded, leakage_kept = None, [], []
    flagged = set()
    if options.checks:
        # validation is not drawn yet: the first pass sees test against the rest, so the pairs it flags can be
        # left out before the draw and no excluded pair takes a validation slot
        report = run_checks(pairs, splits, options.thresholds, workers=options.workers, progress=progress)
        if options.exclude:
            flagged = {i for i, result in enumerate(report.results) if result.flags}
    splits = draw_validation(splits, options, left_out=flagged)
    if report is not None:
        _recheck_leakage(report, splits, options.thresholds)
        leaking = [i for i, result in enumerate(report.results) if LEAKAGE in result.flags]
        if leaking and not (options.exclude or options.allow_leakage):
            raise LeakageError(leakage_message(pairs, report), report)
        if not options.exclude:
            leakage_kept = [{'key': keys[i], 'pair': pairs[i].name, 'split': splits[i],
                             'detail': report.results[i].flags[LEAKAGE]} for i in leaking]
    keep = list(range(len(pairs)))
    if options.exclude and report is not None:
        # a pair flagged only now is the train copy of a validation photo: train loses it, validation keeps its own
        excluded = [{'key': keys[i], 'pair': pairs[i].name, 'split': splits[i], 'flags': report.results[i].flags}
                    for i in keep if report.results[i].flags]
        keep = [i for i in keep if not report.results[i].flags]
    check_train_not_empty(splits, keep, options)
    temp = output.parent / f'.{output.name}{PARTIAL_TAG}{os.getpid()}'
    temp.mkdir()
    if report is not None:
        (temp / 'pair_checks.json').write_text(report.to_json(), encoding='utf-8')

    map_size = map_size_for(planned_bytes([pairs[i] for i in keep], [splits[i] for i in keep], options))
    # no fsync per pair: a crash loses the whole temporary folder anyway; one sync at the end
    envs = {role: lmdb.open(str(temp / f'{role}.lmdb'), map_size=map_size, subdir=True, meminit=False,
                            sync=False, metasync=False) for role in ('src', 'tar')}
    infos = {'src': [], 'tar': []}
    names, split_keys, failed, written = [], {s: [] for s in SPLITS}, [], 0
    jobs = [(i, keys[i], pairs[i], splits[i], options) for i in keep]
    pool = get_context('fork').Pool(options.workers) if options.workers > 1 else None
    try:
        results = pool.imap(_encode_job, jobs, chunksize=1) if pool else map(_encode_job, jobs)
        if progress:
            from tqdm import tqdm
            results = tqdm(results, total=len(jobs), desc='writing LMDB', unit='pair')
        for index, records, error in results:
            if error:
                failed.append({'key': keys[index], 'pair': pairs[index].name, 'error': error})
                continue
            written += _put_records(envs, records)
            for record_key, box, shape, _, _, param in records:
                for role in ('src', 'tar'):
                    infos[role].append(RecordInfo(record_key, options.encoding, shape, param))
                split_keys[splits[index]].append(record_key)
                names.append({'key': record_key, 'pair': pairs[index].name, 'src': pairs[index].src,
                              'tar': pairs[index].tar, 'split': splits[index], 'box': box})
    finally:
        if pool:
            pool.terminate()
        for env in envs.values():
            env.sync(True)
            env.close()

    for role in ('src', 'tar'):
        # written last: a database without its meta_info.txt is an unfinished one
        (temp / f'{role}.lmdb' / META_INFO).write_text(''.join(meta_info_line(i) + '\n' for i in infos[role]),
                                                       encoding='ascii')
    for split in SPLITS:
        (temp / f'{split}.txt').write_text(''.join(k + '\n' for k in split_keys[split]), encoding='ascii')
    (temp / 'name_map.jsonl').write_text(''.join(json.dumps(n) + '\n' for n in names), encoding='utf-8')
    failed_keys = {f['key'] for f in failed}
    stored = [i for i in keep if keys[i] not in failed_keys]  # input order, as the records and split files
    try:
        check_train_not_empty(splits, stored, options)  # every train pair failed to decode
    except EmptySplitError:
        shutil.rmtree(temp)
        raise
    manifests = []
    for split in SPLITS:
        # the original whole pairs of each split, for tools that read photos rather than LMDB records (evaluate.py);
        # paths relative to the final folder (temp is its sibling), which is the manifest's default dataroot.
        # An empty split gets none: a manifest listing no pairs is refused by load_manifest.
        split_pairs = [pairs[i] for i in stored if splits[i] == split]
        if split_pairs:
            write_manifest(split_pairs, temp / f'{split}.jsonl', output)
            manifests.append(f'{split}.jsonl')
    split_counts = {s: sum(1 for i in stored if splits[i] == s) for s in SPLITS}
    record_counts = {s: len(split_keys[s]) for s in SPLITS}
    info = info_record(
        TOOL, command=sys.argv, options={k: v for k, v in asdict(options).items() if k != 'thresholds'},
        thresholds=asdict(options.thresholds) if options.checks else None, pairs_in=len(pairs),
        pairs_per_split=split_counts, records_per_split=record_counts, map_size=map_size, manifests=manifests,
        excluded=excluded, leakage_allowed=leakage_kept, failed=failed)
    (temp / 'build_info.json').write_text(json.dumps(info, indent=1, default=str), encoding='utf-8')

    replace_folder(temp, output)  # --force (or an empty folder): the old one goes once the new one is in place
    return BuildSummary(output=str(output), split_counts=split_counts, record_counts=record_counts,
                        excluded=excluded, leakage_allowed=leakage_kept, failed=failed, bytes_written=written,
                        seconds=time.time() - started, removed_partial=removed, manifests=manifests, report=report)


def _recheck_leakage(report, splits, thresholds):
    """Redo the cross-split duplicate flags of ``report`` for the final ``splits`` (validation now drawn)."""
    for result, split in zip(report.results, splits):
        result.split = split
        result.flags.pop(LEAKAGE, None)
    flag_duplicates_across_splits(report.results, thresholds)


def _put_records(envs, records):
    import lmdb
    written = 0
    for role, column in (('src', 3), ('tar', 4)):
        env = envs[role]
        while True:
            try:
                with env.begin(write=True) as txn:
                    for record in records:
                        txn.put(record[0].encode('ascii'), record[column])
                break
            except lmdb.MapFullError:  # the header-based estimate was short: grow the map and redo this pair
                env.set_mapsize(env.info()['map_size'] * 2)
        written += sum(len(record[column]) for record in records)
    return written
