"""A stop signal received by one rank stops every rank after the same iteration."""
import os
import signal

import torch.distributed as dist
import torch.multiprocessing as mp

from realestate_sr import training
from tests.conftest import free_port


def check_flags(rank, port, folder):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        seen = [training.stop_signal_on_any_rank(None),  # no rank signalled
                training.stop_signal_on_any_rank(signal.SIGTERM if rank == 1 else None)]  # rank 1 only
    finally:
        dist.destroy_process_group()
    with open(os.path.join(folder, f'rank{rank}.txt'), 'w') as file:
        file.write(repr(seen))


def test_a_signal_on_one_rank_reaches_every_rank(tmp_path):
    mp.start_processes(check_flags, args=(free_port(), str(tmp_path)), nprocs=2, start_method='fork')
    for rank in (0, 1):
        assert (tmp_path / f'rank{rank}.txt').read_text() == repr([None, int(signal.SIGTERM)])
