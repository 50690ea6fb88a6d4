"""Apply progress on stderr: done/total, elapsed time, retries and waits as they happen.

On a terminal (and not in CI) one status line is redrawn in place below the change
lines; otherwise every line is plain and carries the count and elapsed time, so a CI
log shows progress without control characters.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from personactl import sensitive


def live_terminal(stream: TextIO) -> bool:
    return stream.isatty() and os.environ.get("CI", "").lower() not in ("true", "1")


class Progress:
    def __init__(
        self, total: int = 0, stream: TextIO | None = None, live: bool | None = None
    ) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.live = live_terminal(self.stream) if live is None else live
        self._done = 0
        self._retries = 0
        self._started = time.monotonic()
        self._lock = threading.Lock()  # events come from apply's worker threads

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self._started:.1f}s"

    def _emit(self, line: str) -> None:
        line = sensitive.scrub(line)  # API messages may echo what was sent
        with self._lock:
            if self.live:
                status = f"applying: {self._done}/{self.total} done, {self._elapsed()} elapsed" + (
                    f", {self._retries} retries" if self._retries else ""
                )
                self.stream.write(f"\r\x1b[K{line}\n{status}" if line else f"\r\x1b[K{status}")
            else:
                self.stream.write(f"[{self._done}/{self.total} {self._elapsed()}] {line}\n")
            self.stream.flush()

    def start(self, total: int) -> None:
        """The number of changes about to be made (known once planned); restarts the clock."""
        with self._lock:
            self.total = total
            self._started = time.monotonic()

    def change(self, line: str) -> None:
        """A change finished (done or failed)."""
        with self._lock:
            self._done += 1
        self._emit(line)

    def retry(self, line: str) -> None:
        """A request is retried (after a wait the line names)."""
        with self._lock:
            self._retries += 1
        self._emit(line)

    def note(self, line: str) -> None:
        """Anything else worth saying at once (an interrupt)."""
        self._emit(line)

    def close(self) -> None:
        if self.live:
            with self._lock:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
