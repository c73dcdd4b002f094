"""Early stopping under DDP: only rank 0 validates, so its patience count decides for every rank (a rank leaving
alone would hang the others in their next all-reduce)."""
from types import SimpleNamespace

from realestate_sr import training
from realestate_sr.models.best_validation import BestValidation
from tests.test_distributed.gloo_ranks import results_on_two_ranks


def model_whose_patience_ran_out(exhausted):
    best = BestValidation(metric='psnr', dataset='val', patience=1)
    best.update(1, 20.0)
    if exhausted:
        best.update(2, 19.0)
    return SimpleNamespace(best_validation=best)


def decisions_seen(rank):
    return [training.patience_exhausted_on_rank_0(model_whose_patience_ran_out(rank == 0)),
            training.patience_exhausted_on_rank_0(model_whose_patience_ran_out(rank == 1)),
            training.patience_exhausted_on_rank_0(SimpleNamespace())]  # a model without val.best


def test_rank_0s_patience_decides_for_every_rank(tmp_path):
    assert results_on_two_ranks(tmp_path, decisions_seen) == [repr([True, False, False])] * 2
