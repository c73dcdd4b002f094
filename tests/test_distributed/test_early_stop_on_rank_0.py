"""Early stopping under DDP: only rank 0 validates, so its patience count decides for every rank (a rank leaving
alone would hang the others in their next all-reduce)."""
import os
from types import SimpleNamespace

import torch.distributed as dist
import torch.multiprocessing as mp

from realestate_sr import training
from realestate_sr.models.best_validation import BestValidation
from tests.conftest import free_port


def model_whose_patience_ran_out(exhausted):
    best = BestValidation(metric='psnr', dataset='val', patience=1)
    best.update(1, 20.0)
    if exhausted:
        best.update(2, 19.0)
    return SimpleNamespace(best_validation=best)


def check_decisions(rank, port, folder):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        seen = [training.patience_exhausted_on_rank_0(model_whose_patience_ran_out(rank == 0)),
                training.patience_exhausted_on_rank_0(model_whose_patience_ran_out(rank == 1)),
                training.patience_exhausted_on_rank_0(SimpleNamespace())]  # a model without val.best
    finally:
        dist.destroy_process_group()
    with open(os.path.join(folder, f'rank{rank}.txt'), 'w') as file:
        file.write(repr(seen))


def test_rank_0s_patience_decides_for_every_rank(tmp_path):
    mp.start_processes(check_decisions, args=(free_port(), str(tmp_path)), nprocs=2, start_method='fork')
    for rank in (0, 1):
        assert (tmp_path / f'rank{rank}.txt').read_text() == repr([True, False, False])
