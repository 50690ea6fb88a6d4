"""Deployed state: address -> resource id plus the last applied payload (secrets hashed).

A `StateStore` (Terraform's state backend) is small: load, save, a journal that
records each success as it happens, and a lock that names its holder.  The file
store (`file.py`) is the embedded default; `postgres.py` shares one database
between CI and laptops.  Every state carries a `lineage` (a UUID made on its first
save, kept by every store) and a `serial` (one more on each save), so `state push`
can refuse a foreign or an older state.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from personactl.errors import UserError
from personactl.kinds import Api, Kind, kind_of
from personactl.output import dumps_with

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
    def from_data(cls, raw: Mapping[str, Any], kind: Kind, where: str) -> Resource:
        """Written under the kind's id field; any of its names is read (`persona_id` or
        `pal_id`: a state survives a switch of the environment's api)."""
        rid = kind.id_of(raw) or raw.get("id", raw.get(kind.id_field))
        if not isinstance(rid, str) or not rid:
            raise ValueError(f"{where}: {kind.id_field} must be a non-empty string, not {rid!r}")
        applied = raw.get("applied", {})
        if not isinstance(applied, dict):
            raise ValueError(f"{where}: applied must be an object")
        return cls(rid, applied, str(raw.get("fingerprint", "")), str(raw.get("updated_at", "")))


@dataclass
class State:
    environment: str
    resources: dict[str, Resource] = field(default_factory=dict)
    serial: int = 0
    lineage: str = ""  # "" until the first save
    # address -> the body (secret placeholders, never values) of a create that was
    # sent but whose id was never recorded: it may exist remotely
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    api: Api = "personas"  # the environment's: entries are keyed persona_id or pal_id

    def kind(self, address: str) -> Kind:
        return kind_of(address, self.api)

    def data(self) -> dict[str, Any]:
        data = {
            "format_version": FORMAT_VERSION,
            "environment": self.environment,
            "lineage": self.lineage or None,
            "serial": self.serial,
            "resources": {
                a: r.data(self.kind(a).id_field) for a, r in sorted(self.resources.items())
            },
        }
        if self.pending:
            data["pending_creates"] = dict(sorted(self.pending.items()))
        return data

    @classmethod
    def from_data(cls, raw: Any, environment: str, api: Api = "personas") -> State:
        """Checked: a state that could lead to a duplicate or to the wrong resource is refused."""
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        version = raw.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ValueError(f"format_version {version!r} is not {FORMAT_VERSION}")
        if raw.get("environment", environment) != environment:
            raise ValueError(f"it is the state of environment {raw.get('environment')!r}")
        lineage = raw.get("lineage") or ""
        if not isinstance(lineage, str):
            raise ValueError(f"lineage must be a string, not {lineage!r}")
        state = cls(environment, serial=int(raw.get("serial", 0)), lineage=lineage, api=api)
        owners: dict[str, str] = {}
        for address, entry in dict(raw.get("resources", {})).items():
            resource = Resource.from_data(entry, state.kind(address), address)
            if resource.id in owners:
                raise ValueError(f"{address} and {owners[resource.id]} share id {resource.id}")
            owners[resource.id] = address
            state.resources[address] = resource
        for address, body in dict(raw.get("pending_creates", {})).items():
            state.pending[address] = dict(body)
        return state

    def apply_entry(self, entry: Mapping[str, Any], owners: dict[str, str] | None = None) -> None:
        """Fold one journal entry (see Recorder) into this state; a malformed one is a
        ValueError (or KeyError/TypeError) and changes nothing.  A caller folding many
        passes `owners` (`by_id()`, kept up to date here): without it each put scans
        every resource, quadratic over an apply of thousands."""
        address = entry["address"]
        op: JournalOp = entry["op"]
        if not isinstance(address, str) or not address:
            raise ValueError(f"journal address {address!r} is not a non-empty string")
        if op == "put":
            resource = Resource.from_data(entry["resource"], self.kind(address), address)
            owner = (self.by_id() if owners is None else owners).get(resource.id, address)
            if owner != address:  # folded in, it would make the state unreadable
                raise ValueError(f"{address} and {owner} would share id {resource.id}")
            old = self.resources.get(address)
            if owners is not None:
                if old is not None:
                    owners.pop(old.id, None)
                owners[resource.id] = address
            self.resources[address] = resource
            self.pending.pop(address, None)
        elif op == "rm":
            old = self.resources.pop(address, None)
            if owners is not None and old is not None:
                owners.pop(old.id, None)
            self.pending.pop(address, None)
        elif op == "creating":
            if not isinstance(entry["body"], dict):
                raise ValueError(f"{address}: a pending create's body must be an object")
            self.pending[address] = entry["body"]
        elif op == "not_created":
            self.pending.pop(address, None)

    def by_id(self) -> dict[str, str]:
        return {r.id: a for a, r in self.resources.items()}

    @property
    def empty(self) -> bool:
        return not self.resources and not self.pending

    def ensure_lineage(self) -> str:
        """The lineage, made (a new UUID) when the state is first stored."""
        self.lineage = self.lineage or str(uuid.uuid4())
        return self.lineage

    def next_version(self) -> None:
        """What every store does on save: one more serial, a lineage from the first save on."""
        self.serial += 1
        self.ensure_lineage()


@dataclass(frozen=True)
class Holder:
    """Who holds a state lock, as every store records it and names it to the refused."""

    user: str
    host: str
    pid: int
    operation: str
    started_at: str

    @classmethod
    def me(cls, operation: str) -> Holder:
        return cls(getpass.getuser(), socket.gethostname(), os.getpid(), operation, now())

    def describe(self) -> str:
        return (
            f"held by {self.user}@{self.host} (pid {self.pid}) running "
            f"{self.operation} since {self.started_at}"
        )


def unreadable(where: str, exc: Exception) -> UserError:
    return UserError(
        f"{where}: state is unreadable ({exc})",
        hint="restore it from version control or a backup; nothing was sent",
    )


# A store's journal: takes an entry, and the JSON text of those of its values that were
# encoded already (a create's body and applied payload, as planning encoded them), which
# a store that writes JSON may use instead of encoding them again.
Sink = Callable[[dict[str, Any], Mapping[str, str]], None]


class Recorder:
    """Thread-safe record of an apply's successes: each one reaches the store's journal
    (`sink`, durable when it returns) before the next step; `close` saves the state."""

    def __init__(self, state: State, sink: Sink, finish: Callable[[], None]) -> None:
        self.state = state
        self._sink = sink
        self._finish = finish
        self._lock = threading.Lock()
        self._claimed: set[str] = set()  # ids adopted by this apply
        self._owners = state.by_id()  # id -> address, kept up to date by apply_entry

    def pending(self, address: str) -> dict[str, Any] | None:
        """The body of a create an earlier, interrupted apply sent for `address`."""
        with self._lock:
            return self.state.pending.get(address)

    def creating(self, address: str, body: dict[str, Any], body_json: str | None = None) -> None:
        """Journal a create about to be sent (body with placeholders, no secret values;
        `body_json`: it as json.dumps wrote it, if at hand)."""
        entry = {"op": "creating", "address": address, "body": body}
        self._record(entry, {"body": body_json} if body_json is not None else {})

    def not_created(self, address: str) -> None:
        """A create journaled by `creating` was refused: nothing to look for later."""
        self._record({"op": "not_created", "address": address})

    def put(self, address: str, resource: Resource, applied_json: str | None = None) -> None:
        """Journal a resource as applied (`applied_json`: its applied payload as json.dumps
        wrote it, if at hand)."""
        data = resource.data(self.state.kind(address).id_field)
        entry = {"op": "put", "address": address, "resource": data}
        encoded = {}
        if applied_json is not None:
            encoded["resource"] = dumps_with(data, {"applied": applied_json})
        self._record(entry, encoded)

    def remove(self, address: str) -> None:
        self._record({"op": "rm", "address": address})

    def ids(self) -> dict[str, str]:
        """address -> id of every resource recorded so far (for references)."""
        with self._lock:
            return {a: r.id for a, r in self.state.resources.items()}

    def claim(self, rid: str) -> bool:
        """Reserve an unmanaged resource for adoption; False if managed or already claimed."""
        with self._lock:
            if rid in self._owners or rid in self._claimed:
                return False
            self._claimed.add(rid)
            return True

    def _record(self, entry: dict[str, Any], encoded: Mapping[str, str] | None = None) -> None:
        self._sink(entry, encoded or {})
        with self._lock:
            self.state.apply_entry(entry, self._owners)

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
