"""Guards of every tool that writes: never over, or around, its inputs; replace only a folder it wrote itself.

An output may not be one of the tool's inputs, nor a folder that holds one (replacing or deleting that folder
would take the input with it). Paths are compared as written (made absolute) and with symbolic links resolved,
so neither a relative spelling nor a link hides an input.

A folder a tool may replace (``--force``) carries an info file (``build_info.json``) whose ``written_by`` field
names the tool, and holds nothing but the entries that tool writes: a file a user added later makes it refuse,
since the replacement would delete that file too.
"""
import fnmatch
import json
import os
import shutil
from pathlib import Path

MARKER_FIELD = 'written_by'
INFO_FILE = 'build_info.json'
TEMP_SUFFIX = '.partial'


class UnsafeOutputError(ValueError):
    """An output path would overwrite or delete an input, or a folder the tool did not write."""


def _spellings(path):
    path = os.fspath(path)
    return {os.path.abspath(path), os.path.realpath(path)}


def _holds(folder, path):
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_clear_of_inputs(output, inputs):
    """Raise UnsafeOutputError when ``output`` is one of ``inputs`` (paths) or a folder that holds one.

    ``inputs`` may be files or folders; missing ones are compared as spelled.
    """
    outputs = _spellings(output)
    for entry in inputs:
        if entry is None:
            continue
        for spelled in _spellings(entry):
            for out in outputs:
                if spelled == out:
                    raise UnsafeOutputError(f'output {output} is the input {entry}; nothing was written: '
                                            'choose another output path')
                if _holds(out, spelled):
                    raise UnsafeOutputError(f'output {output} holds the input {entry}; nothing was written: '
                                            'choose an output outside the inputs')


def check_distinct_outputs(outputs):
    """Raise when two outputs of one run (e.g. a report and a manifest) are the same file."""
    seen = {}
    for output in outputs:
        if output is None:
            continue
        for spelled in _spellings(output):
            if spelled in seen and seen[spelled] != output:
                raise UnsafeOutputError(f'{seen[spelled]} and {output} are the same file; give two paths')
            seen[spelled] = output


def check_file_output(output):
    """Raise when ``output`` (a file to write) is an existing folder."""
    if Path(output).is_dir():
        raise UnsafeOutputError(f'output {output} is a folder; give a file name')


def check_new_file(output, overwrite):
    """Raise when the file ``output`` already exists, unless ``overwrite`` (the tool's ``--overwrite``).

    A file already there may be anything (a user's master manifest under the name of a clean list): only the user
    can say it is one the tool may replace.
    """
    if not overwrite and (Path(output).exists() or Path(output).is_symlink()):
        raise UnsafeOutputError(f'output {output} already exists; nothing was written: pass --overwrite to replace '
                                'it or choose another path')


def info_record(tool, **fields):
    """The info file's content: the marker first, then ``fields``."""
    return {MARKER_FIELD: tool, **fields}


def write_info(folder, tool, **fields):
    (Path(folder) / INFO_FILE).write_text(json.dumps(info_record(tool, **fields), indent=1, default=str),
                                          encoding='utf-8')


def read_info(folder):
    """The parsed info file of ``folder``, or None when it has none or it is not a JSON object."""
    try:
        info = json.loads((Path(folder) / INFO_FILE).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def foreign_entries(folder, layout):
    """Names under ``folder`` that ``layout`` does not describe.

    ``layout`` maps a top-level name (or glob) to None for a file, or to a tuple of globs for the files of a
    folder one level down. Symbolic links are never the tool's own.
    """
    foreign = []
    for entry in sorted(Path(folder).iterdir()):
        pattern = next((p for p in layout if fnmatch.fnmatchcase(entry.name, p)), None)
        if pattern is None or entry.is_symlink():
            foreign.append(entry.name)
            continue
        children = layout[pattern]
        if children is None:
            if not entry.is_file():
                foreign.append(entry.name + '/')
            continue
        if not entry.is_dir():
            foreign.append(entry.name)
            continue
        for child in sorted(entry.iterdir()):
            if (child.is_symlink() or not child.is_file()
                    or not any(fnmatch.fnmatchcase(child.name, glob) for glob in children)):
                foreign.append(f'{entry.name}/{child.name}')
    return foreign


def is_empty_folder(path):
    path = Path(path)
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def is_own_output(folder, tool, accept_older=None):
    """Whether ``folder`` carries the info file of ``tool`` (or ``accept_older(folder, info)`` says so)."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    info = read_info(folder)
    return ((info is not None and info.get(MARKER_FIELD) == tool)
            or (accept_older is not None and accept_older(folder, info)))


def check_replaceable(folder, tool, layout):
    """Raise UnsafeOutputError unless ``folder`` is empty or an output of ``tool`` holding nothing else."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        raise UnsafeOutputError(f'{folder} exists and is not a folder; nothing was changed: '
                                'choose another output')
    if is_empty_folder(folder):
        return
    if not is_own_output(folder, tool):
        raise UnsafeOutputError(f'{folder} exists and is not a folder {tool} wrote (no {INFO_FILE} of '
                                f'{tool} in it); nothing was changed: choose a new output folder')
    foreign = foreign_entries(folder, layout)
    if foreign:
        shown = ', '.join(foreign[:5]) + (f' and {len(foreign) - 5} more' if len(foreign) > 5 else '')
        raise UnsafeOutputError(f'{folder} holds {len(foreign)} entr{"y" if len(foreign) == 1 else "ies"} '
                                f'{tool} did not write ({shown}); nothing was changed: move them out or choose a '
                                'new output folder')


def temp_sibling(path, tag):
    """A hidden name beside ``path`` unique to this process: ``.NAME.TAG-PID``."""
    path = Path(path)
    return path.parent / f'.{path.name}.{tag}-{os.getpid()}'


def temp_path_for(path):
    """Hidden sibling that holds ``path`` while it is written; deterministic, so a re-run replaces a stale one."""
    path = Path(path)
    return path.with_name(f'.{path.name}{TEMP_SUFFIX}')


def atomic_write(path, data, write=None):
    """Write ``data`` (bytes) to ``path`` via a temporary sibling and a rename.

    ``write`` (file object, data) -> None does the writing when ``data`` is not bytes (``torch.save``, a PIL
    image's ``save``); tests use it to interrupt a write halfway. On any exception, KeyboardInterrupt
    included, the temporary file is removed and the exception re-raised.
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


def replace_folder(temp, output):
    """Give the finished folder ``temp`` its final name ``output``. An existing ``output`` (which the caller has
    found replaceable) is moved aside first and deleted only once the new one is in place."""
    temp, output = Path(temp), Path(output)
    if output.exists():
        old = temp_sibling(output, 'old')
        output.rename(old)
        temp.rename(output)
        shutil.rmtree(old)
    else:
        temp.rename(output)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temps(path, tag):
    """Delete the ``temp_sibling(path, tag)`` folders and files left by processes that are gone (a run killed
    mid-build); returns the names removed.

    Only names of exactly that form whose process id no longer runs are touched: a live process's temporary,
    this process's own and anything else beside ``path`` stay. A process id that the system reused for another
    process keeps its stale temporary until that process ends too: better left than deleted under a live run.
    """
    path = Path(path)
    prefix = f'.{path.name}.{tag}-'
    if not path.parent.is_dir():
        return []
    removed = []
    for entry in sorted(path.parent.iterdir()):
        pid = entry.name[len(prefix):]
        if not entry.name.startswith(prefix) or not pid.isdigit() or int(pid) == os.getpid():
            continue
        if pid_alive(int(pid)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed
