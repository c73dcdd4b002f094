"""Where pairs come from: a JSONL manifest or two folders with the same file names.

Both return a list of :class:`PairPaths`; make_lmdb.py, check_pairs.py and
``PairedListingDataset`` share these functions, so every tool sees the same pairs.
"""
import json
from dataclasses import dataclass
from pathlib import Path

from realestate_sr.data.image_io import is_image_file


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


def pairs_from_folders(src_dir, tar_dir):
    """Pair every image of ``tar_dir`` with the file of the same name in ``src_dir`` (sorted by name)."""
    src_dir, tar_dir = Path(src_dir), Path(tar_dir)
    for folder in (src_dir, tar_dir):
        if not folder.is_dir():
            raise PairListError(f'{folder} is not a folder')
    src_names = {p.name for p in src_dir.iterdir() if p.is_file() and is_image_file(p)}
    tar_names = {p.name for p in tar_dir.iterdir() if p.is_file() and is_image_file(p)}
    unmatched = sorted(src_names ^ tar_names)
    if unmatched:
        shown = ', '.join(unmatched[:5]) + (f' and {len(unmatched) - 5} more' if len(unmatched) > 5 else '')
        raise PairListError(f'{len(unmatched)} file(s) exist in only one of {src_dir} and {tar_dir}: {shown}')
    if not tar_names:
        raise PairListError(f'no images in {tar_dir}')
    return [PairPaths(src=str(src_dir / n), tar=str(tar_dir / n), name=n) for n in sorted(tar_names)]


def write_manifest(pairs, path, dataroot):
    """Write pairs as JSONL with paths relative to ``dataroot`` (inverse of :func:`load_manifest`)."""
    root = Path(dataroot).resolve()
    lines = []
    for pair in pairs:
        entry = {key: str(Path(getattr(pair, key)).resolve().relative_to(root)) for key in ('src', 'tar')}
        lines.append(json.dumps(entry))
    Path(path).write_text('\n'.join(lines) + '\n', encoding='utf-8')
