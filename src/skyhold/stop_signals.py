"""SIGINT/SIGTERM while `skyhold up` starts: recorded, acted on between start-up steps.

A signal must neither leave a traceback nor be lost: before uvicorn installs its own
handlers (which stop a serving server gracefully) these record it, and start-up stops at
its next step, or as soon as uvicorn starts if it came in between. A second signal stops
at once (a step that hangs stays interruptible).
"""

from __future__ import annotations

import signal
from types import FrameType

EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal, as a shell reports it


class Stopped(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS.get(signal.Signals(self.signum), 128 + self.signum)


class StartupSignals:
    def __init__(self) -> None:
        self.received: int | None = None
        self.serving = False  # from then on uvicorn's handlers stop the server

    def install(self) -> None:
        for sig in EXIT_STATUS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        # uvicorn re-raises the signal that stopped a serving server here once it is
        # done: nothing left to do, and the graceful stop exits 0.
        if self.serving:
            return
        if self.received is not None:
            raise Stopped(signum)
        self.received = signum

    def check(self) -> None:
        """Between start-up steps: stop if a signal came."""
        if self.received is not None and not self.serving:
            raise Stopped(self.received)
