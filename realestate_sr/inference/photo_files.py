"""Which files of a delivery folder to enhance, where their outputs go, and writing them safely.

Rules:
- The input is a file or a folder walked recursively; the relative tree is kept
  under the output folder. Hidden files and folders (``.DS_Store``, ``.git``)
  and files without an image extension are skipped with a reason.
- The output folder may not be the input folder or lie inside it, so nothing
  is ever written into (or over) the input tree.
- Every output is written to a hidden temporary name in its final folder and
  renamed when complete, so an interrupted run leaves no partial file under a
  final name, and ``--skip-existing`` can finish the rest.
"""
import os
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.jpe', '.png', '.tif', '.tiff', '.webp', '.bmp')
TEMP_SUFFIX = '.partial'
ALPHA_FALLBACK_SUFFIX = '.png'


class OutputInsideInputError(ValueError):
    """The output folder is the input folder or inside it."""


@dataclass
class PhotoJob:
    """One input file and where its enhanced version goes.

    ``output`` is the planned path; a photo with alpha requested as JPEG is
    written next to it with the ``.png`` suffix instead (``alpha_output``).
    ``skip_reason`` is set for files that are not processed.
    """
    source: Path
    relative: Path
    output: Path | None = None
    skip_reason: str | None = None

    @property
    def alpha_output(self):
        return self.output.with_suffix(ALPHA_FALLBACK_SUFFIX)


def is_hidden(name):
    return name.startswith('.')


def check_output_outside_input(input_path, output_dir):
    """Raise OutputInsideInputError when ``output_dir`` is within the input tree."""
    input_root = Path(input_path).resolve()
    if input_root.is_file():
        input_root = input_root.parent
    output_dir = Path(output_dir).resolve()
    if output_dir == input_root or input_root in output_dir.parents:
        raise OutputInsideInputError(
            f'output folder {output_dir} is inside the input tree {input_root}; choose a folder outside it')


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
    elif source.suffix.lower() not in IMAGE_SUFFIXES:
        job.skip_reason = f'not an image extension ({source.suffix or "none"})'
    return job


def plan_outputs(jobs, output_dir, extension_for, suffix=''):
    """Set ``job.output`` for every job without a skip reason.

    Args:
        extension_for (callable): source suffix -> output extension ('.jpg', ...).
        suffix (str): Appended to the stem (``IMG_1.jpg`` -> ``IMG_1_edit.jpg``).

    Two inputs that would map to the same output (``a.png`` and ``a.jpg`` both
    to ``a.jpg``) get the source extension in their stem (``a_png.jpg``).
    """
    output_dir = Path(output_dir)
    wanted = {}
    for job in jobs:
        if job.skip_reason is None:
            name = job.relative.stem + suffix + extension_for(job.source.suffix)
            wanted.setdefault((job.relative.parent / name).as_posix().lower(), []).append(job)
    for clashing in wanted.values():
        for job in clashing:
            stem = job.relative.stem + (f'_{job.source.suffix[1:].lower()}' if len(clashing) > 1 else '')
            job.output = output_dir / job.relative.parent / (stem + suffix + extension_for(job.source.suffix))
    return jobs


def existing_output(job):
    """The finished output of ``job`` already on disk (planned name or its alpha PNG), else None."""
    for path in (job.output, job.alpha_output):
        if path.is_file():
            return path
    return None


def temp_path_for(path):
    """Hidden sibling that holds ``path`` while it is written; deterministic, so a re-run replaces a stale one."""
    path = Path(path)
    return path.with_name(f'.{path.name}{TEMP_SUFFIX}')


def atomic_write(path, data, write=None):
    """Write ``data`` (bytes) to ``path`` via a temporary sibling and a rename.

    ``write`` (file object, bytes) -> None does the writing; tests use it to
    interrupt a write halfway. On any exception, KeyboardInterrupt included,
    the temporary file is removed and the exception re-raised.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path_for(path)
    try:
        with open(temp, 'wb') as handle:
            (write or _write_all)(handle, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def _write_all(handle, data):
    handle.write(data)
