"""Which files of a delivery folder to enhance, where their outputs go, and writing them safely.

Rules:
- The input is a file or a folder walked recursively; the relative tree is kept
  under the output folder. Hidden files and folders (``.DS_Store``, ``.git``)
  and files without an image extension are skipped with a reason.
- The output folder may not be the input folder or lie inside it, so nothing
  is ever written into (or over) the input tree.
- The output folder may not hold the input either (``-o DATA`` for
  ``-i DATA/images`` would put outputs beside the inputs, over any file of the
  same name).
- A folder the script creates gets a hidden marker (OUTPUT_MARKER); in a folder
  without it, files already under the planned names are someone else's and are
  not replaced unless asked.
- Every output is written to a hidden temporary name in its final folder and
  renamed when complete, so an interrupted run leaves no partial file under a
  final name, and ``--skip-existing`` can finish the rest.
"""
import itertools
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from realestate_sr.utils.output_safety import MARKER_FIELD, atomic_write, info_record
from realestate_sr.utils.photo_decode import is_image_file
from realestate_sr.utils.photo_formats import ALPHA_FALLBACK, FORMATS, format_of_suffix, output_suffix

OUTPUT_MARKER = '.tiled_infer.json'  # hidden, so a delivery sent on from the output folder does not carry it
OUTPUT_TOOL = 'tiled_infer'


class OutputInsideInputError(ValueError):
    """The output folder is the input folder or inside it."""


@dataclass
class PhotoJob:
    """One input file and where its enhanced version goes.

    ``output`` is the planned path. ``alpha_output`` is where a photo with alpha goes when ``output``'s
    format cannot hold alpha (``.png`` instead of ``.jpg``); None when the output format can. ``skip_reason``
    is set for files that are not processed.
    """
    source: Path
    relative: Path
    output: Path | None = None
    skip_reason: str | None = None
    alpha_output: Path | None = None


def is_hidden(name):
    return name.startswith('.')


def check_output_outside_input(input_path, output_dir):
    """Raise OutputInsideInputError when ``output_dir`` is within the input tree.

    For a single photo the input tree is that file: any output folder but the photo's own folder (where the
    output could take the photo's name) is fine, ``-o out/`` beside it included.
    """
    input_path = Path(input_path).resolve()
    output_dir = Path(output_dir).resolve()
    if input_path.is_file():
        if output_dir == input_path.parent:
            raise OutputInsideInputError(
                f'output folder {output_dir} is the folder of the input photo {input_path.name}; choose another')
        return
    input_root = input_path
    if output_dir == input_root or input_root in output_dir.parents:
        raise OutputInsideInputError(
            f'output folder {output_dir} is inside the input tree {input_root}; choose a folder outside it')


def is_output_folder(folder):
    """Whether ``folder`` is one the inference script created (its marker is there)."""
    try:
        info = json.loads((Path(folder) / OUTPUT_MARKER).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get(MARKER_FIELD) == OUTPUT_TOOL


def claim_output_folder(folder):
    """Create ``folder`` with the marker, or mark it when it is empty; a folder holding anything stays unmarked,
    since its files were not written by this script."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not any(folder.iterdir()):
        atomic_write(folder / OUTPUT_MARKER, (json.dumps(info_record(OUTPUT_TOOL)) + '\n').encode('utf-8'))


def discover(input_path):
    """PhotoJobs for every file under ``input_path`` (sorted), with skip reasons for non-candidates.

    Hidden folders are not entered at all (they hold tool metadata, not deliveries).
    """
    input_path = Path(input_path)
    if input_path.is_file():
        return [_candidate(input_path, Path(input_path.name))]
    if not input_path.is_dir():
        raise FileNotFoundError(f'input not found: {input_path}')
    jobs = []
    for folder, subfolders, files in os.walk(input_path):
        subfolders[:] = sorted(d for d in subfolders if not is_hidden(d))
        for name in sorted(files):
            source = Path(folder) / name
            jobs.append(_candidate(source, source.relative_to(input_path)))
    return jobs


def _candidate(source, relative):
    job = PhotoJob(source=source, relative=relative)
    if is_hidden(source.name):
        job.skip_reason = 'hidden file'
    elif not is_image_file(source):
        job.skip_reason = f'not an image extension ({source.suffix or "none"})'
    return job


def plan_outputs(jobs, output_dir, requested='jpeg', suffix=''):
    """Set ``job.output`` (and ``job.alpha_output``) for every job without a skip reason; unique in the run.

    Args:
        requested (str): The output format asked for ('jpeg', 'png', 'same'): its extension
            (``photo_formats.output_suffix``).
        suffix (str): Appended to the stem (``IMG_1.jpg`` -> ``IMG_1_edit.jpg``).

    Two inputs that would map to the same output (``a.png`` and ``a.jpg`` both to ``a.jpg``) get their
    source extension, exactly as written, in the stem (``a_png.jpg``, ``a_jpg.jpg``); a name still taken
    gets a counter (``a_png_2.jpg``). Then every output whose format cannot hold alpha gets a ``.png``
    fallback name (``a.png``, or ``a_2.png`` when taken), whatever its source's extension: only the decode
    tells whether a file has alpha (a PNG with alpha may be named ``.jpg``), and planned names never move
    for a fallback. Names are compared case-insensitively, so the plan holds on case-insensitive file
    systems too, and it is deterministic (jobs in ``discover``'s sorted order).
    """
    output_dir = Path(output_dir)
    planned = [(job, _output_relative(job, '', suffix, requested)) for job in jobs if job.skip_reason is None]
    wanted = Counter(output_key(natural) for _, natural in planned)
    taken, clashing = set(), []
    for job, natural in planned:  # names nobody else wants first, so a disambiguated name cannot take them
        if wanted[output_key(natural)] > 1 or not _claim(natural, taken):
            clashing.append(job)
        else:
            job.output = output_dir / natural
    for job in clashing:
        tag = '_' + job.source.suffix[1:]
        names = (_output_relative(job, tag + _counter(count), suffix, requested) for count in itertools.count(1))
        job.output = output_dir / _first_free(names, taken)
    for job, _ in planned:
        relative = job.output.relative_to(output_dir)
        fallbacks = (relative.with_name(relative.stem + _counter(count) + FORMATS[ALPHA_FALLBACK].extension)
                     for count in itertools.count(1))
        holds_alpha = FORMATS[format_of_suffix(relative.suffix)].alpha
        job.alpha_output = None if holds_alpha else output_dir / _first_free(fallbacks, taken)
    return jobs


def _counter(count):
    return f'_{count}' if count > 1 else ''


def _output_relative(job, tag, suffix, requested):
    return job.relative.parent / (job.relative.stem + tag + suffix + output_suffix(requested, job.source.suffix))


def output_key(path):
    """``path`` compared as a case-insensitive file system would."""
    return Path(path).as_posix().casefold()


def _claim(relative, taken):
    """Take the output name ``relative`` if it is free; whether it was."""
    key = output_key(relative)
    if key in taken:
        return False
    taken.add(key)
    return True


def _first_free(names, taken):
    """The first of ``names`` (an endless iterator) that is free, now taken."""
    return next(name for name in names if _claim(name, taken))


def existing_output(job):
    """The finished output of ``job`` already on disk (planned name or its alpha PNG), else None."""
    for path in (job.output, job.alpha_output):
        if path is not None and path.is_file():
            return path
    return None
