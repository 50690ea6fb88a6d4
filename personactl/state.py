"""Deployed state: address -> persona_id plus the last applied payload (secrets hashed).

The state file is rewritten atomically (temp file, fsync, rename).  While an
apply runs, every success is first appended to a journal next to it (one
fsynced JSON line each), so a process killed mid-apply loses nothing it created;
the next load replays the journal.  An advisory lock file names its holder.
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
from personactl.output import to_json, write_atomic

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

    @property
    def journal(self) -> Path:
        return self.path.with_name(self.path.name + ".journal")

    def data(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "environment": self.environment,
            "serial": self.serial,
            "resources": {a: r.data() for a, r in sorted(self.resources.items())},
        }

    def save(self) -> None:
        self.serial += 1
        write_atomic(self.path, to_json(self.data()))
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
        elif entry.get("op") == "rm":
            state.resources.pop(address, None)


class Recorder:
    """Thread-safe journal of an apply's successes, folded into the state at the end."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._handle = open(state.journal, "a", encoding="utf-8")  # noqa: SIM115

    def put(self, address: str, resource: Resource) -> None:
        self._write({"op": "put", "address": address, "resource": resource.data()})
        with self._lock:
            self.state.resources[address] = resource

    def managed_ids(self) -> set[str]:
        with self._lock:
            return {r.persona_id for r in self.state.resources.values()}

    def remove(self, address: str) -> None:
        self._write({"op": "rm", "address": address})
        with self._lock:
            self.state.resources.pop(address, None)

    def _write(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()
            os.fsync(self._handle.fileno())

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
        return (
            f"held by {info.get('holder')} (pid {info.get('pid')}) running "
            f"{info.get('operation')} since {info.get('started_at')}"
        )
    except (OSError, ValueError):
        return f"lock file {lock} exists"


def unlock(state_path: Path) -> str | None:
    lock = state_path.with_name(state_path.name + ".lock")
    if not lock.exists():
        return None
    description = describe_lock(lock)
    lock.unlink(missing_ok=True)
    return description
