"""Run BasicSR's training pipeline with the few fixes our users need.

``basicsr.train.train_pipeline`` is used as it is. Two of its helpers assume a
CUDA machine and the current directory, so we replace them for this process:

- ``load_resume_state``: basicsr maps the state to ``torch.cuda.current_device()``
  (fails on CPU) and finds auto-resume states relative to the current directory.
  Ours loads to the CPU with ``weights_only=True`` (optimizers move their state to
  their parameters' device) and reads ``opt['path']['training_states']``.

Relative paths in option files (datasets, pretrained weights) are relative to
the repository root: the pipeline runs with the root as working directory.
"""
import os
import sys
from pathlib import Path

import torch

import realestate_sr  # noqa: F401  (compat alias + registrations before basicsr.train is imported)
import basicsr.train as basicsr_train
from basicsr.utils import check_resume, scandir

REPO_ROOT = Path(__file__).resolve().parents[1]


def latest_state_path(states_dir):
    """Path of the highest-iteration ``<iter>.state`` in ``states_dir``, or None."""
    if not os.path.isdir(states_dir):
        return None
    iters = [int(name.split('.state')[0]) for name in scandir(states_dir, suffix='state', recursive=False)]
    return os.path.join(states_dir, f'{max(iters)}.state') if iters else None


def load_resume_state(opt):
    """Training state to resume from (``--auto_resume`` or ``path.resume_state``), loaded on the CPU; or None."""
    if opt['auto_resume']:
        path = latest_state_path(opt['path']['training_states'])
        if path is not None:
            opt['path']['resume_state'] = path
    else:
        path = opt['path'].get('resume_state')
    if path is None:
        return None
    state = torch.load(path, map_location='cpu', weights_only=True)
    check_resume(opt, state['iter'])
    return state


def absolute_option_path(argv):
    """``argv`` with the ``-opt`` value made absolute, so it survives the change of directory."""
    argv = list(argv)
    if '-opt' in argv and argv.index('-opt') + 1 < len(argv):
        index = argv.index('-opt') + 1
        argv[index] = str(Path(argv[index]).resolve())
    return argv


def run_training(root=REPO_ROOT):
    sys.argv = absolute_option_path(sys.argv)
    os.chdir(root)
    basicsr_train.load_resume_state = load_resume_state
    basicsr_train.train_pipeline(str(root))
