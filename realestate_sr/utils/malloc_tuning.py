"""Keep glibc from returning large buffers to the kernel after every tensor op.

Large CPU forwards otherwise spend about half their time in page faults (a 1024x1024 NAFNet forward ran 3.8x
faster with the setting below). glibc reads ``GLIBC_TUNABLES`` only when the process starts, so an entry point
that finds it unset re-executes its own interpreter with it set, before importing torch. The Makefile sets
the same value.

``ensure_malloc_tuning()`` does nothing when ``GLIBC_TUNABLES`` is already set (the user's value wins), when
``REALESTATE_SR_NO_MALLOC_TUNING`` is set to anything but '' or '0', off glibc (macOS, musl, Windows), or in a
process that this function already re-executed (a marker variable guards against loops).
"""
import os
import platform
import sys

MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296'
OPT_OUT_VARIABLE = 'REALESTATE_SR_NO_MALLOC_TUNING'
REEXEC_MARKER = '_REALESTATE_SR_MALLOC_REEXEC'


def malloc_tuning_wanted(environ=None):
    """Whether ``ensure_malloc_tuning`` would re-execute a process with ``environ``."""
    environ = os.environ if environ is None else environ
    if environ.get(OPT_OUT_VARIABLE, '') not in ('', '0'):
        return False
    if 'GLIBC_TUNABLES' in environ or environ.get(REEXEC_MARKER):
        return False
    return sys.platform.startswith('linux') and platform.libc_ver()[0] == 'glibc'


def ensure_malloc_tuning():
    """Re-execute this interpreter with ``MALLOC_TUNABLES`` when ``malloc_tuning_wanted``; returns otherwise.

    Entry points run this file by path (``runpy.run_path(..., run_name='__main__')``) first thing in their
    ``if __name__ == '__main__':`` block: importing it as ``realestate_sr.utils.malloc_tuning`` would import
    the package, and torch with it, first; and at import time it would re-execute whatever imported the
    script (pytest).
    """
    if not malloc_tuning_wanted():
        return
    environ = dict(os.environ, GLIBC_TUNABLES=MALLOC_TUNABLES, **{REEXEC_MARKER: '1'})
    sys.stdout.flush()
    sys.stderr.flush()
    argv = list(getattr(sys, 'orig_argv', None) or [sys.executable, *sys.argv])  # keeps -u, -X and -m
    os.execve(sys.executable, [sys.executable, *argv[1:]], environ)


if __name__ == '__main__':  # how entry points run it: by path, before the package (and torch) is imported
    ensure_malloc_tuning()
