"""Run a function on two Gloo ranks of this machine and read back what each rank returned (as its repr)."""
import os

import torch.distributed as dist
import torch.multiprocessing as mp

from tests.conftest import free_port


def _on_rank(rank, port, folder, decide):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        seen = decide(rank)
    finally:
        dist.destroy_process_group()
    with open(os.path.join(folder, f'rank{rank}.txt'), 'w') as file:
        file.write(repr(seen))


def results_on_two_ranks(folder, decide):
    """[repr of rank 0's ``decide(0)``, repr of rank 1's ``decide(1)``], each run inside a two-rank process group."""
    mp.start_processes(_on_rank, args=(free_port(), str(folder), decide), nprocs=2, start_method='fork')
    return [(folder / f'rank{rank}.txt').read_text() for rank in (0, 1)]
