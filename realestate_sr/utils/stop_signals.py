"""Stop a long loop between two of its steps on SIGINT or SIGTERM; a second signal aborts at once.

The handler only records the signal: the loop asks ``StopSignals.received`` after each step, so it can finish
what it writes (a checkpoint) before it exits. A second signal raises :class:`AbortRequested` wherever the
process is. Processes forked while the handler is installed (DataLoader workers) inherit it and ignore the
signal: Ctrl-C reaches the whole process group, and the loop's process decides when they end.
"""
import os
import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class AbortRequested(BaseException):
    """A second stop signal: leave now, without saving (a BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` on the way swallows it)."""

    def __init__(self, signum):
        super().__init__(f'second {signal.Signals(signum).name}')
        self.signum = signum


def exit_code(signum):
    """The shell's exit code for a process ended by ``signum``: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + int(signum)


class StopSignals:
    """Context manager: SIGINT and SIGTERM handlers that set ``received`` (the first signal's number) and raise
    AbortRequested on the second; the previous handlers come back on exit."""

    def __init__(self, signals=STOP_SIGNALS):
        self.signals = signals
        self.received = None
        self._owner_pid = None
        self._previous = {}

    def _handle(self, signum, frame):
        if os.getpid() != self._owner_pid:  # a forked worker
            return
        if self.received is not None:
            raise AbortRequested(signum)
        self.received = signum

    def __enter__(self):
        self._owner_pid = os.getpid()
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
        return False
