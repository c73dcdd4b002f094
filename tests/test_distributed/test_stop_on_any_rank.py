"""A stop signal received by one rank stops every rank after the same iteration."""
import signal

from realestate_sr import training
from tests.test_distributed.gloo_ranks import results_on_two_ranks


def flags_seen(rank):
    return [training.stop_signal_on_any_rank(None),  # no rank signalled
            training.stop_signal_on_any_rank(signal.SIGTERM if rank == 1 else None)]  # rank 1 only


def test_a_signal_on_one_rank_reaches_every_rank(tmp_path):
    assert results_on_two_ranks(tmp_path, flags_seen) == [repr([None, int(signal.SIGTERM)])] * 2
