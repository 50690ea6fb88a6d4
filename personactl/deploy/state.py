"""Deployed state: address -> persona_id plus the last applied payload (secrets hashed).

The state file is rewritten atomically (temp file, fsync, rename).  While an
apply runs, every success is first appended to a journal next to it (one
fsynced JSON line each), so a process killed mid-apply loses nothing it created;
the next load replays the journal.  Each create is journaled as pending before it
is sent: if the process dies before recording the persona_id, the next apply
looks for the persona instead of creating a duplicate.  An advisory lock file
names its holder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personactl.errors import LockHeld, UserError
from personactl.output import to_json_rows, write_atomic

FORMAT_VERSION = 1


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Resource:
    persona_id: str
    applied: dict[str, Any]  # last applied payload, sensitive strings as salted digests
    fingerprint: str = ""  # of the deployed object as last read back
    updated_at: str = ""

    def data(self) -> dict[str, Any]:
        return {
            "persona_id": self.persona_id,
            "applied": self.applied,
            "fingerprint": self.fingerprint,
            "updated_at": self.updated_at,
        }


@dataclass
class State:
    path: Path
    environment: str
    resources: dict[str, Resource] = field(default_factory=dict)
    serial: int = 0
    # address -> the body (secret placeholders, never values) of a create that was
    # sent but whose persona_id was never recorded: it may exist remotely
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def journal(self) -> Path:
        return self.path.with_name(self.path.name + ".journal")

    def data(self) -> dict[str, Any]:
        data = {
            "format_version": FORMAT_VERSION,
            "environment": self.environment,
            "serial": self.serial,
            "resources": {a: r.data() for a, r in sorted(self.resources.items())},
        }
        if self.pending:
            data["pending_creates"] = dict(sorted(self.pending.items()))
        return data

    def save(self) -> None:
        self.serial += 1
        write_atomic(self.path, to_json_rows(self.data()))
        self.journal.unlink(missing_ok=True)

    def by_persona_id(self) -> dict[str, str]:
        return {r.persona_id: a for a, r in self.resources.items()}


def load_state(path: Path, environment: str) -> State:
    state = State(path, environment)
    if path.exists():
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            state.serial = int(raw.get("serial", 0))
            for address, entry in raw.get("resources", {}).items():
                state.resources[address] = Resource(
                    entry["persona_id"],
                    entry.get("applied", {}),
                    entry.get("fingerprint", ""),
                    entry.get("updated_at", ""),
                )
            for address, body in raw.get("pending_creates", {}).items():
                state.pending[address] = dict(body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UserError(
                f"{path}: state file is unreadable ({exc})",
                hint="restore it from version control or a backup",
            ) from None
    if state.journal.exists():
        _replay(state)
    return state


def _replay(state: State) -> None:
    for line in state.journal.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn last line from a killed process
        address = entry.get("address")
        if entry.get("op") == "put":
            state.resources[address] = Resource(**entry["resource"])
            state.pending.pop(address, None)
        elif entry.get("op") == "rm":
            state.resources.pop(address, None)
            state.pending.pop(address, None)
        elif entry.get("op") == "creating":
            state.pending[address] = entry["body"]
        elif entry.get("op") == "not_created":
            state.pending.pop(address, None)


class Recorder:
    """Thread-safe journal of an apply's successes, folded into the state at the end."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._claimed: set[str] = set()  # persona_ids adopted by this apply
        self._sync_lock = threading.Lock()  # one fsync at a time (group commit, see _write)
        self._written = 0  # journal lines written and flushed
        self._synced = 0  # journal lines known to be on disk
        state.journal.parent.mkdir(parents=True, exist_ok=True)  # library use: no lock taken
        self._handle = open(state.journal, "a", encoding="utf-8")  # noqa: SIM115

    def pending(self, address: str) -> dict[str, Any] | None:
        """The body of a create an earlier, interrupted apply sent for `address`."""
        with self._lock:
            return self.state.pending.get(address)

    def creating(self, address: str, body: dict[str, Any]) -> None:
        """Journal a create about to be sent (body with placeholders, no secret values)."""
        self._write({"op": "creating", "address": address, "body": body})
        with self._lock:
            self.state.pending[address] = body

    def not_created(self, address: str) -> None:
        """A create journaled by `creating` was refused: nothing to look for later."""
        self._write({"op": "not_created", "address": address})
        with self._lock:
            self.state.pending.pop(address, None)

    def put(self, address: str, resource: Resource) -> None:
        self._write({"op": "put", "address": address, "resource": resource.data()})
        with self._lock:
            self.state.resources[address] = resource
            self.state.pending.pop(address, None)

    def claim(self, persona_id: str) -> bool:
        """Reserve an unmanaged persona for adoption; False if managed or already claimed."""
        with self._lock:
            managed = {r.persona_id for r in self.state.resources.values()}
            if persona_id in managed or persona_id in self._claimed:
                return False
            self._claimed.add(persona_id)
            return True

    def remove(self, address: str) -> None:
        self._write({"op": "rm", "address": address})
        with self._lock:
            self.state.resources.pop(address, None)
            self.state.pending.pop(address, None)

    def _write(self, entry: dict[str, Any]) -> None:
        """Append one line and return once it is on disk (fsynced).

        Group commit: the line is written under the lock, but the fsync is not; one
        fsync makes every line written before it durable, so threads that wrote while
        another was syncing share the next fsync instead of queueing one each behind
        the lock (an fsync costs milliseconds: serialised, two per create were the
        bottleneck of `apply --parallelism 16`, see benchmarks/deploy.py).
        """
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()
            self._written += 1
            mine = self._written
        with self._sync_lock:
            if self._synced >= mine:
                return  # an fsync that started after our write covered it
            with self._lock:
                upto = self._written  # every line flushed so far is in this fsync
            os.fsync(self._handle.fileno())
            self._synced = upto

    def close(self) -> None:
        self._handle.close()
        self.state.save()


@contextlib.contextmanager
def locked(state_path: Path, operation: str) -> Iterator[None]:
    """Hold the state's lock for the block; fail fast naming the holder if it is taken."""
    lock = state_path.with_name(state_path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = {
        "holder": f"{getpass.getuser()}@{socket.gethostname()}",
        "pid": os.getpid(),
        "operation": operation,
        "started_at": now(),
    }
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise LockHeld(
            f"state is locked: {describe_lock(lock)}",
            hint="wait for it to finish; if it is stale, `personactl state unlock`",
        ) from None
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(holder))
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def describe_lock(lock: Path) -> str:
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
        text = (
            f"held by {info.get('holder')} (pid {info.get('pid')}) running "
            f"{info.get('operation')} since {info.get('started_at')}"
        )
    except (OSError, ValueError, AttributeError):
        return f"lock file {lock} exists"
    if _dead_here(info):
        text += "; that process is no longer running"
    return text


def _dead_here(info: Any) -> bool:
    """True when the holder ran on this host under this user and its pid is gone."""
    pid = info.get("pid")
    if info.get("holder") != f"{getpass.getuser()}@{socket.gethostname()}":
        return False
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. EPERM: it exists
        return False
    return False


def unlock(state_path: Path) -> str | None:
    lock = state_path.with_name(state_path.name + ".lock")
    if not lock.exists():
        return None
    description = describe_lock(lock)
    lock.unlink(missing_ok=True)
    return description
