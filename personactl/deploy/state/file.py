"""The file state store, the embedded default: one JSON file per environment.

The file is rewritten atomically (temp file, fsync, rename).  While an apply
runs, every success is first appended to a journal next to it (one JSON line
each), so a process killed mid-apply loses nothing it created; the next
load folds the journal in and saves.  Each create is journaled as pending before it is
sent: if the process dies before recording the id, the next apply looks for the
resource instead of creating a duplicate.  A lock file names its holder.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from personactl.deploy.state import Holder, Recorder, State, unreadable
from personactl.errors import LockHeld
from personactl.kinds import Api
from personactl.output import dumps_with, to_json_rows, write_atomic


class FileStore:
    def __init__(
        self,
        path: Path,
        environment: str,
        shown: str | None = None,
        api: Api = "personas",
        unlock_command: str = "personactl state unlock",
    ) -> None:
        self.path = path
        self.unlock_command = unlock_command  # as the lock's hint names it (with --env)
        self.environment = environment
        self.api = api
        self.where = shown or str(path)
        self._held = False  # this process holds the lock (see `lock`)

    @property
    def journal_path(self) -> Path:
        return self.path.with_name(self.path.name + ".journal")

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def load(self) -> State:
        """The state, with a journal left behind folded in and saved.

        A journal outlives its run only when the run died before its final save (it
        saves, and removes the journal, on every way out): fold it into the file now, so
        the file alone is complete.  Only under the lock, since a running apply appends
        to its journal; when another process holds it (or the folder is read-only, a
        plan in CI) the journal is folded in memory only, as before."""
        if self.journal_path.exists() and not self._held:
            with contextlib.suppress(LockHeld, OSError), self.lock("fold the journal"):
                return self.load()
        state = self._read()
        if self.journal_path.exists():
            self._replay(state)
            if self._held:
                self.save(state)
        return state

    def _read(self) -> State:
        if not self.path.exists():
            return State(self.environment, api=self.api)
        try:
            return State.from_data(
                json.loads(self.path.read_text(encoding="utf-8")), self.environment, self.api
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise unreadable(self.where, exc) from None

    def _replay(self, state: State) -> None:
        owners = state.by_id()
        for line in self.journal_path.read_text(encoding="utf-8").splitlines():
            try:
                state.apply_entry(json.loads(line), owners)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a torn last line from a killed process

    def save(self, state: State) -> None:
        state.next_version()
        write_atomic(self.path, to_json_rows(state.data()))
        self.journal_path.unlink(missing_ok=True)

    def recorder(self, state: State) -> Recorder:
        journal = _Journal(self.journal_path)

        def finish() -> None:
            journal.close()
            self.save(state)

        return Recorder(state, journal.write, finish)

    @contextlib.contextmanager
    def lock(self, operation: str) -> Iterator[None]:
        lock = self.lock_path
        lock.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            raise self._held_error() from None
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(_lock_data(Holder.me(operation))))
        self._held = True
        try:
            yield
        finally:
            self._held = False
            lock.unlink(missing_ok=True)

    def _held_error(self) -> LockHeld:
        """Fail fast (DESIGN §5), also for a lock whose holder died: only the user knows
        that no other apply of this state runs elsewhere (a shared folder), so the
        lock is not taken over; the message says the holder is gone and how to clear it."""
        holder = read_holder(self.lock_path)
        if holder is not None and _dead_here(holder):
            return LockHeld(
                f"state is locked by a process that is no longer running: {holder.describe()}",
                hint=f"clear the stale lock with `{self.unlock_command}`",
            )
        return LockHeld(
            f"state is locked: {describe_lock(self.lock_path)}",
            hint=f"wait for it to finish; if it is stale, `{self.unlock_command}`",
        )

    def unlock(self) -> str | None:
        lock = self.lock_path
        if not lock.exists():
            return None
        description = describe_lock(lock)
        lock.unlink(missing_ok=True)
        return description


class _Journal:
    """Append-only JSON lines.  A create's intent (`creating`) is on disk (fsynced)
    before `write` returns, since the create is sent next; any other entry is flushed
    to the OS (it survives the process being killed) and reaches the disk with the next
    fsync, another intent's or `close`'s.  After a crash of the whole machine an outcome
    may be missing: the intent before it is still there, and the next apply looks for
    that create instead of sending it again (updates and deletes are planned again)."""

    _INTENTS = frozenset({"creating"})

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)  # library use: no lock taken
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()  # one fsync at a time (group commit, see write)
        self._written = 0  # lines written and flushed
        self._synced = 0  # lines known to be on disk

    def write(self, entry: dict[str, Any], encoded: Mapping[str, str]) -> None:
        """Append one line; for an intent, return once it is on disk.

        Group commit: the line is written under the lock, but the fsync is not; one
        fsync makes every line written before it durable, so threads that wrote while
        another was syncing share the next fsync instead of queueing one each behind
        the lock (an fsync costs milliseconds on a busy disk: one per entry, serialised,
        was the bottleneck of `apply --parallelism 16`, see benchmarks/deploy.py).
        """
        line = dumps_with(entry, encoded) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()
            self._written += 1
            mine = self._written
        if entry.get("op") in self._INTENTS:
            self._sync(mine)

    def _sync(self, upto_line: int) -> None:
        with self._sync_lock:
            if self._synced >= upto_line:
                return  # an fsync that started after that line was written covered it
            with self._lock:
                upto = self._written  # every line flushed so far is in this fsync
            os.fsync(self._handle.fileno())
            self._synced = upto

    def close(self) -> None:
        self._sync(self._written)
        self._handle.close()


def read_holder(lock: Path) -> Holder | None:
    """The holder a lock file names (None: unreadable, or not a lock file of ours)."""
    try:
        return _holder(json.loads(lock.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def describe_lock(lock: Path) -> str:
    holder = read_holder(lock)
    if holder is None:
        return f"lock file {lock} exists"
    text = holder.describe()
    if _dead_here(holder):
        text += "; that process is no longer running"
    return text


def _lock_data(holder: Holder) -> dict[str, Any]:
    """The lock file's JSON (its format since the first release)."""
    return {
        "holder": f"{holder.user}@{holder.host}",
        "pid": holder.pid,
        "operation": holder.operation,
        "started_at": holder.started_at,
    }


def _holder(info: dict[str, Any]) -> Holder:
    user, _, host = str(info["holder"]).rpartition("@")
    return Holder(user, host, info["pid"], info["operation"], info["started_at"])


def _dead_here(holder: Holder) -> bool:
    """True when the holder ran on this host under this user and its pid is gone."""
    if (holder.user, holder.host) != (getpass.getuser(), socket.gethostname()):
        return False
    if not isinstance(holder.pid, int) or holder.pid <= 0:
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. EPERM: it exists
        return False
    return False
