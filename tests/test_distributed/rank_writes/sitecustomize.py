"""Test-only: record which files each torchrun worker opens for writing.

Put this folder on PYTHONPATH and set RANK_WRITES_DIR: every process that has a RANK
(the workers, not the torchrun agent) appends the paths it opens for writing to
``$RANK_WRITES_DIR/rank<RANK>.txt``, without touching the code under test. An audit hook
sees every ``open`` made from Python (logs, YAML copy, tensorboard events); ``torch.save``
opens its file in C++, so the same hook wraps ``torch.save`` as soon as torch has it.
"""
import os
import sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND


def _opens_for_writing(mode, flags):
    if isinstance(mode, str):
        return any(letter in mode for letter in 'wax+')
    return isinstance(flags, int) and bool(flags & WRITE_FLAGS)


def _install(log_path):
    log = open(log_path, 'a', buffering=1, encoding='utf-8')  # opened before the hook: no recursion

    torch_save_wrapped = False

    def record(path):
        log.write(os.fsdecode(path) + '\n')

    def wrap_torch_save(torch):
        save = torch.save

        def recorded_save(obj, f, *args, **kwargs):
            if isinstance(f, (str, bytes, os.PathLike)):
                record(f)
            return save(obj, f, *args, **kwargs)

        torch.save = torch.serialization.save = recorded_save

    def hook(event, args):
        nonlocal torch_save_wrapped
        if event == 'open' and _opens_for_writing(*args[1:3]) and not isinstance(args[0], int):
            record(args[0])
        if not torch_save_wrapped and callable(getattr(sys.modules.get('torch'), 'save', None)):
            torch_save_wrapped = True
            wrap_torch_save(sys.modules['torch'])

    sys.addaudithook(hook)


if os.environ.get('RANK_WRITES_DIR') and os.environ.get('RANK') is not None:
    _install(os.path.join(os.environ['RANK_WRITES_DIR'], f'rank{os.environ["RANK"]}.txt'))
