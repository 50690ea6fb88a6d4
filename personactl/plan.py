"""The plan: a sorted list of changes, as a value; JSON-able and re-loadable."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personactl import secrets
from personactl.compiler import CompiledPersona
from personactl.diff import fingerprint, hashed, pointer, three_way
from personactl.digests import digest
from personactl.errors import UserError
from personactl.state import State, now

FORMAT_VERSION = 1
ACTIONS = ("create", "update", "delete")


@dataclass
class Change:
    address: str
    action: str  # create | update | delete
    persona_id: str | None
    ops: list[dict[str, Any]]  # RFC 6902; values may hold secret placeholders
    fingerprint: str | None  # of the deployed object planned against
    body: dict[str, Any] | None = None  # create: the whole persona (placeholders)
    applied: dict[str, Any] | None = None  # what state records after success (hashed)
    before: dict[str, Any] = field(default_factory=dict)
    drift: list[str] = field(default_factory=list)
    secret_digests: dict[str, str] = field(default_factory=dict)
    recreate: bool = False  # in state, but deleted remotely
    pending: bool = False  # an earlier, interrupted apply sent this create

    @property
    def sort_key(self) -> tuple[int, str]:
        return (ACTIONS.index(self.action), self.address)

    def patch(self) -> list[dict[str, Any]]:
        """The ops as shown to people and written to plan files: secrets masked."""
        return [secrets.mask(op) for op in self.ops]

    def data(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "action": self.action,
            "persona_id": self.persona_id,
            "patch": self.patch(),
            "fingerprint": self.fingerprint,
            "before": secrets.mask(self.before),
            "drift": self.drift,
            "recreate": self.recreate,
            "pending": self.pending,
            "secret_digests": self.secret_digests,
            # what apply executes: secret *names* only, never values
            "execute": {"ops": self.ops, "body": self.body, "applied": self.applied},
        }

    @classmethod
    def from_data(cls, raw: Mapping[str, Any]) -> Change:
        execute = raw.get("execute") or {}
        return cls(
            address=raw["address"],
            action=raw["action"],
            persona_id=raw.get("persona_id"),
            ops=execute.get("ops") or [],
            fingerprint=raw.get("fingerprint"),
            body=execute.get("body"),
            applied=execute.get("applied"),
            before=raw.get("before") or {},
            drift=raw.get("drift") or [],
            secret_digests=raw.get("secret_digests") or {},
            recreate=bool(raw.get("recreate")),
            pending=bool(raw.get("pending")),
        )


@dataclass
class Plan:
    environment: str
    backend: str
    changes: list[Change]
    managed: int  # personas in state when planned
    unmanaged_deletes: list[str] = field(default_factory=list)  # gone from config, no --prune
    warnings: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=now)

    def summary(self) -> dict[str, int]:
        return {a: sum(1 for c in self.changes if c.action == a) for a in ACTIONS}

    @property
    def empty(self) -> bool:
        return not self.changes

    def data(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "environment": self.environment,
            "backend": self.backend,
            "created_at": self.created_at,
            "managed": self.managed,
            "changes": [c.data() for c in self.changes],
            "summary": self.summary(),
            "not_pruned": self.unmanaged_deletes,
        }

    @classmethod
    def from_data(cls, raw: Mapping[str, Any]) -> Plan:
        if raw.get("format_version") != FORMAT_VERSION:
            raise UserError(
                f"plan format_version {raw.get('format_version')!r} is not {FORMAT_VERSION}",
                hint="make the plan with this personactl",
            )
        return cls(
            environment=raw["environment"],
            backend=raw.get("backend", ""),
            changes=[Change.from_data(c) for c in raw.get("changes", [])],
            managed=int(raw.get("managed", 0)),
            unmanaged_deletes=list(raw.get("not_pruned", [])),
            created_at=raw.get("created_at", ""),
        )


def load_plan(path: Path) -> Plan:
    try:
        return Plan.from_data(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise UserError(f"{path}: cannot read plan ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a personactl plan file ({exc})") from None


def secret_digests(payload: Any, environ: Mapping[str, str]) -> dict[str, str]:
    """name -> salted digest for each secret a payload uses (to detect changes before apply)."""
    return {
        name: digest(secrets.resolve(secrets.placeholder(name), environ))
        for name in sorted(secrets.names(payload))
    }


def matches_target(address: str, targets: Iterable[str]) -> bool:
    targets = list(targets)
    return not targets or any(
        address == t or address.startswith(t.rstrip("/") + "/") for t in targets
    )


def build_plan(
    *,
    environment: str,
    backend: str,
    personas: Mapping[str, CompiledPersona],
    state: State,
    live: Mapping[str, Mapping[str, Any]],
    environ: Mapping[str, str],
    targets: Iterable[str] = (),
    prune: bool = False,
) -> Plan:
    """Compare compiled personas with state and the deployed objects (by persona_id)."""
    targets = list(targets)
    changes: list[Change] = []
    for address, persona in personas.items():
        if not matches_target(address, targets):
            continue
        desired = dict(persona.payload)
        resource = state.resources.get(address)
        deployed = live.get(resource.persona_id) if resource else None
        previous = resource.applied if resource else None
        applied = hashed(desired, previous, environ)
        digests = secret_digests(desired, environ)
        if resource is None or deployed is None:
            changes.append(
                Change(
                    address,
                    "create",
                    None,
                    [{"op": "add", "path": pointer("", k), "value": v} for k, v in desired.items()],
                    None,
                    body=desired,
                    applied=applied,
                    secret_digests=digests,
                    recreate=resource is not None,
                    pending=address in state.pending,
                )
            )
            continue
        diff = three_way(desired, previous, deployed, environ)
        if diff.ops:
            changes.append(
                Change(
                    address,
                    "update",
                    resource.persona_id,
                    diff.ops,
                    fingerprint(deployed),
                    applied=applied,
                    before=diff.before,
                    drift=diff.drift,
                    secret_digests=digests,
                )
            )
    gone = sorted(a for a in state.resources if a not in personas and matches_target(a, targets))
    not_pruned: list[str] = []
    for address in gone:
        resource = state.resources[address]
        deployed = live.get(resource.persona_id)
        if not prune:
            not_pruned.append(address)
        elif deployed is not None:
            changes.append(
                Change(address, "delete", resource.persona_id, [], fingerprint(deployed))
            )
        else:  # already gone remotely: only the state entry is dropped
            changes.append(Change(address, "delete", resource.persona_id, [], None))
    changes.sort(key=lambda c: c.sort_key)
    return Plan(environment, backend, changes, len(state.resources), not_pruned)
