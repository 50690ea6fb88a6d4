"""Deployed state: address -> resource id plus the last applied payload (secrets hashed).

A `StateStore` (Terraform's state backend) is small: load, save, a journal that
records each success as it happens, and a lock that names its holder.  The file
store (`file.py`) is the embedded default.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from personactl.errors import UserError
from personactl.kinds import kind_of

FORMAT_VERSION = 1
JournalOp = Literal["put", "rm", "creating", "not_created"]


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Resource:
    id: str
    applied: dict[str, Any]  # last applied payload, sensitive strings as salted digests
    fingerprint: str = ""  # of the deployed object as last read back
    updated_at: str = ""

    def data(self, id_field: str) -> dict[str, Any]:
        return {
            id_field: self.id,
            "applied": self.applied,
            "fingerprint": self.fingerprint,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_data(cls, raw: Mapping[str, Any], id_field: str, where: str) -> Resource:
        rid = raw.get(id_field, raw.get("id"))
        if not isinstance(rid, str) or not rid:
            raise ValueError(f"{where}: {id_field} must be a non-empty string, not {rid!r}")
        applied = raw.get("applied", {})
        if not isinstance(applied, dict):
            raise ValueError(f"{where}: applied must be an object")
        return cls(rid, applied, str(raw.get("fingerprint", "")), str(raw.get("updated_at", "")))


@dataclass
class State:
    environment: str
    resources: dict[str, Resource] = field(default_factory=dict)
    serial: int = 0
    # address -> the body (secret placeholders, never values) of a create that was
    # sent but whose id was never recorded: it may exist remotely
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        data = {
            "format_version": FORMAT_VERSION,
            "environment": self.environment,
            "serial": self.serial,
            "resources": {
                a: r.data(kind_of(a).id_field) for a, r in sorted(self.resources.items())
            },
        }
        if self.pending:
            data["pending_creates"] = dict(sorted(self.pending.items()))
        return data

    @classmethod
    def from_data(cls, raw: Any, environment: str) -> State:
        """Checked: a state that could lead to a duplicate or to the wrong resource is refused."""
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        version = raw.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ValueError(f"format_version {version!r} is not {FORMAT_VERSION}")
        if raw.get("environment", environment) != environment:
            raise ValueError(f"it is the state of environment {raw.get('environment')!r}")
        state = cls(environment, serial=int(raw.get("serial", 0)))
        owners: dict[str, str] = {}
        for address, entry in dict(raw.get("resources", {})).items():
            resource = Resource.from_data(entry, kind_of(address).id_field, address)
            if resource.id in owners:
                raise ValueError(f"{address} and {owners[resource.id]} share id {resource.id}")
            owners[resource.id] = address
            state.resources[address] = resource
        for address, body in dict(raw.get("pending_creates", {})).items():
            state.pending[address] = dict(body)
        return state

    def apply_entry(self, entry: Mapping[str, Any]) -> None:
        """Fold one journal entry (see Recorder) into this state."""
        address = entry["address"]
        op: JournalOp = entry["op"]
        if op == "put":
            self.resources[address] = Resource.from_data(
                entry["resource"], kind_of(address).id_field, address
            )
            self.pending.pop(address, None)
        elif op == "rm":
            self.resources.pop(address, None)
            self.pending.pop(address, None)
        elif op == "creating":
            self.pending[address] = entry["body"]
        elif op == "not_created":
            self.pending.pop(address, None)

    def by_id(self) -> dict[str, str]:
        return {r.id: a for a, r in self.resources.items()}


def unreadable(where: str, exc: Exception) -> UserError:
    return UserError(
        f"{where}: state is unreadable ({exc})",
        hint="restore it from version control or a backup; nothing was sent",
    )


class Recorder:
    """Thread-safe record of an apply's successes: each one reaches the store's journal
    (`sink`, durable when it returns) before the next step; `close` saves the state."""

    def __init__(
        self, state: State, sink: Callable[[dict[str, Any]], None], finish: Callable[[], None]
    ) -> None:
        self.state = state
        self._sink = sink
        self._finish = finish
        self._lock = threading.Lock()
        self._claimed: set[str] = set()  # ids adopted by this apply

    def pending(self, address: str) -> dict[str, Any] | None:
        """The body of a create an earlier, interrupted apply sent for `address`."""
        with self._lock:
            return self.state.pending.get(address)

    def creating(self, address: str, body: dict[str, Any]) -> None:
        """Journal a create about to be sent (body with placeholders, no secret values)."""
        self._record({"op": "creating", "address": address, "body": body})

    def not_created(self, address: str) -> None:
        """A create journaled by `creating` was refused: nothing to look for later."""
        self._record({"op": "not_created", "address": address})

    def put(self, address: str, resource: Resource) -> None:
        entry = {
            "op": "put",
            "address": address,
            "resource": resource.data(kind_of(address).id_field),
        }
        self._record(entry)

    def remove(self, address: str) -> None:
        self._record({"op": "rm", "address": address})

    def ids(self) -> dict[str, str]:
        """address -> id of every resource recorded so far (for references)."""
        with self._lock:
            return {a: r.id for a, r in self.state.resources.items()}

    def claim(self, rid: str) -> bool:
        """Reserve an unmanaged resource for adoption; False if managed or already claimed."""
        with self._lock:
            managed = {r.id for r in self.state.resources.values()}
            if rid in managed or rid in self._claimed:
                return False
            self._claimed.add(rid)
            return True

    def _record(self, entry: dict[str, Any]) -> None:
        self._sink(entry)
        with self._lock:
            self.state.apply_entry(entry)

    def close(self) -> None:
        self._finish()


class StateStore(Protocol):
    """Where one environment's state lives."""

    where: str  # for messages: a path or a description, never a credential

    def load(self) -> State: ...

    def save(self, state: State) -> None: ...

    def recorder(self, state: State) -> Recorder: ...

    def lock(self, operation: str) -> AbstractContextManager[None]:
        """Held for the block; fails fast (LockHeld) naming the holder if taken."""
        ...

    def unlock(self) -> str | None:
        """Break the lock; the holder's description, or None if it was not locked."""
        ...
