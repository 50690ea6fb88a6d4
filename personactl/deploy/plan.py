"""The plan: a sorted list of changes, as a value; JSON-able and re-loadable."""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from personactl import refs, sensitive
from personactl.deploy.diff import (
    digested_json,
    fingerprint,
    hashed,
    new_digest,
    pointer,
    recorded,
    three_way,
)
from personactl.deploy.state import Resource, State, now
from personactl.errors import UserError
from personactl.kinds import Api, Kind, kind_of

FORMAT_VERSION = 1
Action = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete")
JSON = dict[str, Any]


@dataclass(frozen=True)
class Change:
    address: str
    action: Action
    id: str | None  # the deployed resource's id (None for a create)
    ops: list[JSON]  # RFC 6902; values may hold secret placeholders
    fingerprint: str | None  # of the deployed object planned against
    body: JSON | None = None  # create: the whole resource (placeholders)
    applied: JSON | None = None  # what state records after success (hashed)
    before: JSON = field(default_factory=dict)
    drift: list[str] = field(default_factory=list)
    unrecorded: list[str] = field(default_factory=list)  # secrets state has no digest of
    secret_digests: dict[str, str] = field(default_factory=dict)
    recreate: bool = False  # in state, but deleted remotely
    pending: bool = False  # an earlier, interrupted apply sent this create
    # a deployed resource of the same display name that state does not manage: its id
    adoptable: str | None = None
    # a create whose body is what state records for this address, gone from the
    # configuration (a renamed file): `state mv` keeps that resource
    moved_from: str | None = None
    # `body` as json.dumps wrote it while planning, for the request (never in plan files)
    body_json: str | None = field(default=None, compare=False, repr=False)
    # `applied` likewise, for the journal
    applied_json: str | None = field(default=None, compare=False, repr=False)
    # the addresses `body` references, when planning found them (else `depends_on` looks)
    references: frozenset[str] | None = field(default=None, compare=False, repr=False)

    @property
    def sort_key(self) -> tuple[int, str]:
        return (ACTIONS.index(self.action), self.address)

    def patch(self) -> list[JSON]:
        """The ops as shown to people and written to plan files: secrets masked, ids of
        resources created in the same apply `(known after apply)`."""
        return [refs.shown(sensitive.mask(op)) for op in self.ops]

    @functools.cached_property  # asked by the plan check, every wave and every worker
    def depends_on(self) -> set[str]:
        """Addresses whose ids this change still needs (created earlier in the same apply)."""
        if self.references is not None:
            return set(self.references)
        # a body (creates, partial updates) holds every value its ops send
        return refs.targets(self.ops if self.body is None else self.body)

    def data(self, api: Api = "personas") -> JSON:
        return {
            "address": self.address,
            "action": self.action,
            kind_of(self.address, api).id_field: self.id,
            "patch": self.patch(),
            "fingerprint": self.fingerprint,
            "before": sensitive.mask(self.before),
            "drift": self.drift,
            "unrecorded": self.unrecorded,
            "recreate": self.recreate,
            "pending": self.pending,
            "adoptable": self.adoptable,
            "moved_from": self.moved_from,
            "secret_digests": self.secret_digests,
            # what apply executes: secret *names* only, never values
            "execute": {"ops": self.ops, "body": self.body, "applied": self.applied},
        }


@dataclass(frozen=True)
class Plan:
    environment: str
    backend: str
    changes: Sequence[Change]
    managed: int  # resources in state when planned
    unmanaged_deletes: list[str] = field(default_factory=list)  # gone from config, no --prune
    warnings: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=now)
    api: Api = "personas"  # the environment's: persona changes carry persona_id or pal_id
    # the command as the plan's hints name it: `personactl --env prod` off the default
    command: str = "personactl"

    def summary(self) -> dict[Action, int]:
        return {a: sum(1 for c in self.changes if c.action == a) for a in ACTIONS}

    @property
    def empty(self) -> bool:
        return not self.changes

    def data(self) -> JSON:
        return {
            "format_version": FORMAT_VERSION,
            "environment": self.environment,
            "backend": self.backend,
            "api": self.api,
            "created_at": self.created_at,
            "managed": self.managed,
            "changes": [c.data(self.api) for c in self.changes],
            "summary": self.summary(),
            "not_pruned": self.unmanaged_deletes,
        }


# -- building a plan ----------------------------------------------------------------


def secret_digests(
    names: Iterable[str], environ: Mapping[str, str], memo: dict[str, str] | None = None
) -> dict[str, str]:
    """name -> salted digest for each secret a payload uses, by name (to detect changes
    before apply).  `memo` as `diff.hashed`'s: a placeholder is a sensitive string."""
    memo = {} if memo is None else memo
    return {n: new_digest(sensitive.placeholder(n), environ, memo) for n in sorted(names)}


def matches_target(address: str, targets: Iterable[str]) -> bool:
    """No targets: everything.  A target is an address, a file (all its variants), a glob
    (`storyteller/*`), or a whole kind (`tools:`)."""
    targets = list(targets)
    return not targets or any(_matches(address, t) for t in targets)


def _matches(address: str, target: str) -> bool:
    if target.endswith(":"):
        return address.startswith(target) or (target == "personas:" and ":" not in address)
    target = target.removeprefix("personas:")
    if any(c in target for c in "*?["):
        return fnmatch.fnmatchcase(address, target)
    return address == target or address.startswith(target.rstrip("/") + "/")


class Desired(Protocol):
    """What a configured resource should be (a compiled resource): its body, with secret
    placeholders."""

    @property
    def address(self) -> str: ...

    @property
    def payload(self) -> JSON: ...

    @property
    def encoded(self) -> str:
        """`payload` as json.dumps writes it."""
        ...


def _planned(
    kind: Kind,
    item: Desired,
    resource: Resource | None,
    live: Mapping[str, Mapping[str, Any]],
    pending: bool,
    environ: Mapping[str, str],
    ids: Mapping[str, str],
    digested: dict[str, str],
) -> Change | None:
    # one encode of the payload answers where its secrets and references are
    encoded = item.encoded
    secret_names = sensitive.names_in_json(encoded)
    desired = dict(item.payload)
    if refs.targets_in_json(encoded):
        # references to resources already deployed become their ids; the others stay
        # placeholders that apply fills in once those are created
        desired = refs.resolve(desired, ids, missing=None)
        encoded = json.dumps(desired)
    deployed = live.get(resource.id) if resource else None
    previous = resource.applied if resource else None
    applied_json: str | None = None
    if previous is None:  # a create: its applied payload made on, and kept as, JSON text
        applied_json = digested_json(encoded, environ, digested) if secret_names else encoded
    if applied_json is not None:
        applied = json.loads(applied_json) if secret_names else desired
    else:
        applied = hashed(desired, previous, environ, secrets=bool(secret_names), memo=digested)
    digests = secret_digests(secret_names, environ, digested)
    if resource is None or deployed is None:
        ops = [{"op": "add", "path": pointer("", k), "value": v} for k, v in desired.items()]
        return Change(
            item.address,
            "create",
            None,
            ops,
            None,
            body=desired,
            applied=applied,
            secret_digests=digests,
            recreate=resource is not None,
            pending=pending,
            body_json=encoded,
            applied_json=applied_json,
            references=frozenset(refs.targets_in_json(encoded)),
        )
    diff = three_way(desired, previous, deployed, environ)
    if not diff.ops:
        return None
    return Change(
        item.address,
        "update",
        resource.id,
        diff.ops,
        fingerprint(deployed),
        # a kind updated by partial objects needs the new values of what changed
        body=desired if kind.patch_style == "partial" else None,
        applied=applied,
        before=diff.before,
        drift=diff.drift,
        unrecorded=diff.unrecorded,
        secret_digests=digests,
    )


def _adoptable(
    kind: Kind, change: Change, live: Mapping[str, Mapping[str, Any]], managed: set[str]
) -> Change:
    """A create named like a deployed resource that state does not manage: say which."""
    body = change.body or {}
    names = {body.get(f) for f in (kind.name_field, "persona_name", "pal_name")} - {None}
    for rid, resource in live.items():
        if rid in managed or kind.id_of(resource) != rid:
            continue
        if {resource.get(f) for f in (kind.name_field, "persona_name", "pal_name")} & names:
            return replace(change, adoptable=rid)
    return change


def _moved(change: Change, gone: list[str], state: State, environ: Mapping[str, str]) -> Change:
    """A create with exactly the content state records for an address that left the
    configuration (deleted with --prune, or kept): most likely a renamed file."""
    if change.action != "create" or change.recreate or change.body is None:
        return change
    kind = state.kind(change.address)
    for old in gone:
        previous = state.resources[old].applied
        if previous and state.kind(old) == kind and recorded(change.body, previous, environ):
            return replace(change, moved_from=old)
    return change


def _check_prune(gone: list[str], desired: Mapping[str, Desired]) -> None:
    """Deleting a resource that a configured one still references would break it."""
    for address in gone:
        users = sorted(a for a, item in desired.items() if address in refs.targets(item.payload))
        if users:
            raise UserError(
                f"cannot prune {address}: {', '.join(users)} still references it",
                hint=f"remove the ref('{address}') first, or keep {address} in the configuration",
            )


def build_plan(
    *,
    environment: str,
    backend: str,
    desired: Mapping[str, Desired],
    state: State,
    live: Mapping[str, Mapping[str, Any]],
    environ: Mapping[str, str],
    targets: Iterable[str] = (),
    prune: bool = False,
) -> Plan:
    """Compare configured resources with state and the deployed objects (by id); the
    plan's api is the state's."""
    targets = list(targets)
    ids = {a: r.id for a, r in state.resources.items() if r.id in live}
    managed = {r.id for r in state.resources.values()}
    digested: dict[str, str] = {}  # see `hashed`
    changes: list[Change] = []
    for address, item in desired.items():
        if matches_target(address, targets):
            kind = state.kind(address)
            resource = state.resources.get(address)
            pending = address in state.pending
            change = _planned(kind, item, resource, live, pending, environ, ids, digested)
            if change is not None and change.action == "create":
                change = _adoptable(kind, change, live, managed)
            if change is not None:
                changes.append(change)
    _check_dependencies(changes)
    gone = sorted(a for a in state.resources if a not in desired and matches_target(a, targets))
    changes = [_moved(c, gone, state, environ) for c in changes]
    if prune:
        _check_prune(gone, desired)
        for address in gone:
            resource = state.resources[address]
            deployed = live.get(resource.id)
            # already gone remotely (no fingerprint): only the state entry is dropped
            found = fingerprint(deployed) if deployed is not None else None
            changes.append(Change(address, "delete", resource.id, [], found))
    changes.sort(key=lambda c: c.sort_key)
    return Plan(
        environment,
        backend,
        changes,
        len(state.resources),
        [] if prune else gone,
        api=state.api,
    )


def _check_dependencies(changes: list[Change]) -> None:
    """A reference to a resource with no id yet needs that resource created in this plan."""
    planned = {c.address for c in changes if c.action != "delete"}
    for change in changes:
        missing = sorted(change.depends_on - planned)
        if missing:
            raise UserError(
                f"{change.address} references {', '.join(missing)}, which is not deployed",
                hint="apply it too (widen --target)",
            )
