"""StopSignals: the first SIGINT/SIGTERM is recorded for the loop to act on, the second aborts, forked workers
ignore both, and the previous handlers come back."""
import os
import signal

import pytest

from realestate_sr.utils.stop_signals import AbortRequested, StopSignals, exit_code


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_the_first_signal_is_recorded_and_the_second_aborts(signum):
    before = signal.getsignal(signum)
    with StopSignals() as stop:
        os.kill(os.getpid(), signum)
        assert stop.received == signum  # recorded, nothing raised: the loop decides when to stop
        with pytest.raises(AbortRequested) as aborted:
            os.kill(os.getpid(), signum)
    assert aborted.value.signum == signum
    assert signal.getsignal(signum) is before


def test_exit_codes_are_the_shells():
    assert (exit_code(signal.SIGINT), exit_code(signal.SIGTERM)) == (130, 143)


def test_a_forked_worker_ignores_the_signal_its_parent_handles():
    with StopSignals() as stop:
        child = os.fork()
        if child == 0:  # a DataLoader worker: Ctrl-C reaches it too, and it must go on serving batches
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            os._exit(0 if stop.received is None else 1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert stop.received is None
