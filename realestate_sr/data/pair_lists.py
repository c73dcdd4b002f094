"""Where pairs come from: a JSONL manifest or two folders with matching file names.

Both return a list of :class:`PairPaths`; make_lmdb.py, check_pairs.py and
``PairedListingDataset`` share these functions, so every tool sees the same pairs (the two tools through
:func:`pairs_given`, which takes either source as their flags name it).
"""
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from realestate_sr.utils.output_safety import atomic_write
from realestate_sr.utils.photo_decode import is_image_file
from realestate_sr.utils.wording import counted


class PairListError(ValueError):
    """A manifest or a pair of folders does not describe a valid list of pairs."""


@dataclass(frozen=True)
class PairPaths:
    src: str
    tar: str
    name: str  # how errors and reports refer to the pair (the manifest's src entry or the shared file name)


def load_manifest(meta_file, dataroot=None):
    """Read a JSONL manifest of ``{"src": ..., "tar": ...}`` lines; paths are relative to ``dataroot``.

    ``dataroot`` defaults to the manifest's folder. Blank lines are skipped; extra fields are ignored.
    """
    meta_file = Path(meta_file)
    root = Path(dataroot) if dataroot is not None else meta_file.parent
    try:
        lines = meta_file.read_text(encoding='utf-8').splitlines()
    except OSError as err:
        raise PairListError(f'cannot read manifest {meta_file}: {err.strerror or err}') from err
    pairs = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            src, tar = entry['src'], entry['tar']
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise PairListError(f'{meta_file}:{number}: expected {{"src": ..., "tar": ...}}, got {line!r}') from err
        pairs.append(PairPaths(src=str(root / src), tar=str(root / tar), name=str(src)))
    if not pairs:
        raise PairListError(f'manifest {meta_file} lists no pairs')
    return pairs


def readable_pair_names(pairs):
    """``pairs`` named without climbing out of a folder: when a manifest's entries start with ``..``
    (``../../../raw/before/a.jpg``, a manifest kept elsewhere), each pair is named by its src path inside the deepest
    folder that holds every src (``a.jpg``, ``listing1/a.jpg``); names without ``..`` are kept as the manifest wrote
    them. Reports, logs and ``--pred`` lookups of check_pairs and evaluate use these names."""
    if not any('..' in Path(pair.name).parts for pair in pairs):
        return list(pairs)
    sources = [Path(os.path.abspath(pair.src)) for pair in pairs]
    root = Path(os.path.commonpath([source.parent for source in sources]))
    return [replace(pair, name=source.relative_to(root).as_posix()) for pair, source in zip(pairs, sources)]


MISSING_SHOWN = 10


def require_existing_files(pairs, listed_in):
    """Raise PairListError, naming up to ten of them and the count, when files of ``pairs`` do not exist.

    A training run reads each file only when a DataLoader worker first draws it, possibly hours in; one stat per
    file at start-up turns that crash into one line before the first iteration.
    """
    missing = [path for pair in pairs for path in (pair.src, pair.tar) if not os.path.isfile(path)]
    if missing:
        shown = ', '.join(missing[:MISSING_SHOWN]) + (', ...' if len(missing) > MISSING_SHOWN else '')
        raise PairListError(f'{counted(len(missing), "file")} listed in {listed_in} '
                            f'{"does" if len(missing) == 1 else "do"} not exist: {shown}')


def _image_names(folder):
    # hidden names are never photos: macOS writes ``._IMG_1.jpg`` resource forks and ``.DS_Store`` next to them,
    # and one of those in only one folder would otherwise read as an unmatched pair
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith('.') and p.is_file() and is_image_file(p))


# what editors append to an exported photo's name: Lightroom's ``IMG_1-Edit.jpg``, ``IMG_1_edit``, ``-edited``
EDITOR_SUFFIX = re.compile(r'[-_ ]edit(ed)?$', re.IGNORECASE)
UNPAIRED_SHOWN = 5


def pairing_key(name):
    """What a src and its tar file have in common: the name without an editor's suffix, the extension lower-case
    (``IMG_1.JPG`` and ``IMG_1-Edit.jpg`` -> ``IMG_1.jpg``)."""
    stem, ext = os.path.splitext(name)
    return EDITOR_SUFFIX.sub('', stem) + ext.lower()


def _names_by_key(folder):
    by_key = {}
    for name in _image_names(folder):
        by_key.setdefault(pairing_key(name), []).append(name)
    ambiguous = [names for names in by_key.values() if len(names) > 1]
    if ambiguous:
        raise PairListError(f'{folder}: {" and ".join(ambiguous[0])} would both pair with the same photo; rename '
                            'one, or list the pairs in a JSONL manifest (one {"src": ..., "tar": ...} per line)')
    return {key: names[0] for key, names in by_key.items()}


def pairs_from_folders(src_dir, tar_dir):
    """Pair every image of ``tar_dir`` with the file of ``src_dir`` of the same :func:`pairing_key` (sorted by the
    src name): the extension's case and an editor's suffix (``-Edit``, ``_edit``, ``-edited``) do not matter.

    Hidden files (names starting with '.') are skipped in both folders. Two names of one folder with the same key,
    or files left without a partner, raise PairListError naming them.
    """
    src_dir, tar_dir = Path(src_dir), Path(tar_dir)
    for folder in (src_dir, tar_dir):
        if not folder.is_dir():
            raise PairListError(f'{folder} is not a folder')
    src_names, tar_names = _names_by_key(src_dir), _names_by_key(tar_dir)
    unmatched = sorted([src_names[key] for key in src_names.keys() - tar_names.keys()]
                       + [tar_names[key] for key in tar_names.keys() - src_names.keys()])
    if unmatched:
        shown = ', '.join(unmatched[:UNPAIRED_SHOWN])
        if len(unmatched) > UNPAIRED_SHOWN:
            shown += f' and {len(unmatched) - UNPAIRED_SHOWN} more'
        raise PairListError(f'{counted(len(unmatched), "file")} in {src_dir} or {tar_dir} found no partner of the '
                            f'same name in the other folder: {shown}; if their names differ, write a JSONL manifest '
                            'instead, one {"src": "...", "tar": "..."} per line (paths relative to its folder)')
    if not tar_names:
        raise PairListError(f'no images in {tar_dir}')
    return [PairPaths(src=str(src_dir / src_names[key]), tar=str(tar_dir / tar_names[key]), name=src_names[key])
            for key in sorted(tar_names, key=src_names.get)]


def write_manifest(pairs, path, dataroot):
    """Write pairs as JSONL with paths relative to ``dataroot`` (inverse of :func:`load_manifest`).

    Files outside ``dataroot`` get ``../`` paths, so the manifest stays valid as long as the two keep their places;
    a file with no relative path (on another drive) is written absolute. An empty list writes an empty file (a split
    with no pairs).
    """
    root = Path(dataroot).resolve()
    lines = []
    for pair in pairs:
        entry = {key: _path_from(root, Path(getattr(pair, key)).resolve()) for key in ('src', 'tar')}
        lines.append(json.dumps(entry) + '\n')
    atomic_write(path, ''.join(lines).encode('utf-8'))


def _path_from(root, path):
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # Windows: no relative path between two drives; root / absolute path is the path itself
        return path.as_posix()


def pairs_given(manifests=(), root=None, src_dir=None, tar_dir=None):
    """The pairs a data tool is given and where each came from: JSONL ``manifests`` (paths relative to ``root``,
    default each manifest's folder) -> (pairs, the manifest of each pair), or the folders ``src_dir`` and
    ``tar_dir`` -> (pairs, None). check_pairs.py and make_lmdb.py pass their --pairs, --root, --src-dir and
    --tar-dir; PairListError unless exactly one of the two sources is given."""
    if manifests and not (src_dir or tar_dir):
        pairs, listed_in = [], []
        for manifest in manifests:
            loaded = load_manifest(manifest, root)
            pairs += loaded
            listed_in += [manifest] * len(loaded)
        return pairs, listed_in
    if src_dir and tar_dir and not manifests:
        return pairs_from_folders(src_dir, tar_dir), None
    raise PairListError('give --pairs or both --src-dir and --tar-dir')
