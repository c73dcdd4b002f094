"""--help answers before torch loads: the tools build their parsers without importing torch, basicsr or the
package (whose import registers everything, torch included); each heavy import waits for parse_args.

Checked in a fresh interpreter per script with ``python -X importtime``, which lists every module imported.
No time is asserted.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FAST_HELP = ('tiled_infer', 'evaluate', 'serve', 'export_onnx', 'run_demo', 'check_pairs', 'make_lmdb', 'benchmark')
HEAVY = ('torch', 'basicsr', 'realestate_sr')


def modules_imported_for_help(script):
    """(exit code, stdout, the top-level names of every module imported) of ``script --help``."""
    env = dict(os.environ, REALESTATE_SR_NO_MALLOC_TUNING='1')  # one process: no re-exec to follow
    done = subprocess.run([sys.executable, '-X', 'importtime', str(REPO / 'scripts' / f'{script}.py'), '--help'],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    names = {line.rsplit('|', 1)[1].strip().split('.')[0] for line in done.stderr.splitlines()
             if line.startswith('import time:') and '|' in line}
    return done.returncode, done.stdout, names


@pytest.mark.parametrize('script', FAST_HELP)
def test_help_imports_neither_torch_nor_basicsr(script):
    code, out, names = modules_imported_for_help(script)
    assert code == 0 and out.startswith('usage: ')
    assert 'argparse' in names, 'importtime lists the imports: the check below means something'
    assert not names & set(HEAVY), f'{script} --help imported {sorted(names & set(HEAVY))}'
