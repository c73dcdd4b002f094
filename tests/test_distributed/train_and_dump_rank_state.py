"""Test-only entry point: ``realestate_sr/train.py``, then this rank's final state to ``$RANK_STATE_DIR/rank<r>.pth``.

The distributed test runs it under torchrun in place of train.py and compares the ranks' files: network
(and EMA) weights and optimizer states identical on every rank mean the ranks trained in lockstep. The
training itself is train.py's ``main`` (same arguments, exit codes and messages).
"""
import os
import sys

from realestate_sr import training
from realestate_sr.archs.checkpoint import save_atomically

RANK_STATE_DIR_ENV = 'RANK_STATE_DIR'


def save_rank_state(model, folder, rank):
    """Write this rank's network (and EMA) weights and optimizer states to ``folder/rank<rank>.pth``."""
    state = {'params': model.get_bare_model(model.net_g).state_dict(),
             'optimizers': [optimizer.state_dict() for optimizer in model.optimizers]}
    if hasattr(model, 'net_g_ema'):
        state['params_ema'] = model.net_g_ema.state_dict()
    os.makedirs(folder, exist_ok=True)
    save_atomically(state, os.path.join(folder, f'rank{rank}.pth'))


def run_training_and_dump(run_training=training.run_training):
    def run(*args, **kwargs):
        model = run_training(*args, **kwargs)
        # the process group is gone by now; torchrun's RANK says which rank this process was
        save_rank_state(model, os.environ[RANK_STATE_DIR_ENV], int(os.environ.get('RANK', 0)))
        return model
    return run


if __name__ == '__main__':
    training.run_training = run_training_and_dump()
    sys.exit(training.main())
