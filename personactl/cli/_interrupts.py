"""Ctrl-C during apply (DESIGN §5): the first SIGINT/SIGTERM stops new changes, the second
abandons the ones in flight.

`graceful()` installs the handlers for the block and restores the previous ones after.
The first signal only sets `Interrupts.stop` (workers check it before starting a change)
and says what happens next; the second raises KeyboardInterrupt in the main thread,
where apply stops waiting for in-flight requests (their creates are journaled as pending).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

EXIT_CODE = 130  # 128 + SIGINT, as shells report an interrupted command
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    def __init__(self, say: Callable[[str], None]) -> None:
        self.stop = threading.Event()
        self._say = say

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()
        self._say(
            f"{signal.Signals(signum).name}: starting no new change; waiting for those in "
            "flight to finish (interrupt again to abandon them)"
        )


@contextlib.contextmanager
def graceful(say: Callable[[str], None]) -> Iterator[Interrupts]:
    interrupts = Interrupts(say)
    if threading.current_thread() is not threading.main_thread():
        yield interrupts  # only the main thread may install handlers (library use)
        return
    previous = {sig: signal.signal(sig, interrupts._handle) for sig in SIGNALS}
    try:
        yield interrupts
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
