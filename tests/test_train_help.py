"""``realestate_sr/train.py --help`` documents each argument with examples and answers before torch loads."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_help_documents_the_arguments_without_importing_torch_or_basicsr():
    env = {**os.environ, 'REALESTATE_SR_NO_MALLOC_TUNING': '1'}  # one interpreter, so -X importtime sees it all
    done = subprocess.run([sys.executable, '-X', 'importtime', str(REPO / 'realestate_sr' / 'train.py'), '--help'],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit('|', 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith('import time')}
    assert 'argparse' in imported
    assert not {name for name in imported if name.split('.')[0] in ('torch', 'basicsr', 'realestate_sr')}
    text = done.stdout
    for argument, meaning in (('-opt', 'YAML option file'), ('--auto_resume', 'newest'), ('--debug', 'quick check'),
                              ('--launcher', 'torchrun'), ('--force_yml', 'deletes')):
        assert argument in text and meaning in text, argument
    assert 'examples:' in text and 'realestate_sr/train.py -opt options/' in text
