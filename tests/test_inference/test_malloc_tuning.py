"""Entry points set glibc's malloc tunables themselves (re-exec before torch), so `python scripts/x.py` is as
fast as `make`; the user's own value, an opt-out and the loop guard are respected."""
import os
import subprocess
import sys

import pytest

from realestate_sr.utils.malloc_tuning import MALLOC_TUNABLES, OPT_OUT_VARIABLE, REEXEC_MARKER, malloc_tuning_wanted
from tests.test_inference.conftest import REPO

HELPER = REPO / 'realestate_sr' / 'utils' / 'malloc_tuning.py'
ENTRY_POINTS = ['scripts/tiled_infer.py', 'scripts/evaluate.py', 'scripts/export_onnx.py', 'scripts/speed_infer.py',
                'scripts/speed_train.py', 'scripts/speed_dataloader.py', 'scripts/serve.py', 'realestate_sr/train.py']

# Loaded by every interpreter that starts with this folder on PYTHONPATH. In a process that the helper
# re-executed it records what that process got and stops at once, so no test waits for torch to import.
SITECUSTOMIZE = '''
import json, os, sys
if os.environ.get({marker!r}):
    with open({record!r}, 'w') as handle:
        json.dump({{'tunables': os.environ.get('GLIBC_TUNABLES'), 'argv': sys.argv}}, handle)
    os._exit(0)
'''


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ('GLIBC_TUNABLES', OPT_OUT_VARIABLE, REEXEC_MARKER)}
    env.update(extra)
    return env


def probe(env):
    """GLIBC_TUNABLES as seen after the helper ran in a fresh interpreter with ``env``."""
    code = (f'import os, runpy; runpy.run_path({str(HELPER)!r}, run_name="__main__"); '
            'print(os.environ.get("GLIBC_TUNABLES"))')
    done = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


pytestmark = pytest.mark.skipif(not malloc_tuning_wanted(clean_env()), reason='glibc malloc tunables: Linux/glibc')


def test_the_helper_re_executes_with_the_tunables_and_only_once():
    assert probe(clean_env()) == MALLOC_TUNABLES


def test_a_users_value_the_opt_out_and_the_loop_guard_are_respected():
    assert probe(clean_env(GLIBC_TUNABLES='glibc.malloc.arena_max=2')) == 'glibc.malloc.arena_max=2'
    assert probe(clean_env(**{OPT_OUT_VARIABLE: '1'})) == 'None'
    assert probe(clean_env(**{OPT_OUT_VARIABLE: '0'})) == MALLOC_TUNABLES  # '0' does not opt out
    assert probe(clean_env(**{REEXEC_MARKER: '1'})) == 'None'  # already re-executed: never again


@pytest.mark.parametrize('entry_point', ENTRY_POINTS)
def test_every_entry_point_re_executes_itself_with_the_tunables(entry_point, tmp_path):
    import json

    record = tmp_path / 'record.json'
    (tmp_path / 'sitecustomize.py').write_text(SITECUSTOMIZE.format(marker=REEXEC_MARKER, record=str(record)))
    env = clean_env(PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get('PYTHONPATH', '')]))
    done = subprocess.run([sys.executable, str(REPO / entry_point), '--help'], env=env, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert record.is_file(), f'{entry_point} ran without re-executing itself'
    seen = json.loads(record.read_text())
    assert seen['tunables'] == MALLOC_TUNABLES
    assert seen['argv'] == [str(REPO / entry_point), '--help']
