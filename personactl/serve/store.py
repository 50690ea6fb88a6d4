"""A Tavus-like store of every resource kind, and conversations, over one SQLite file.

Backs both `personactl serve` (the local Tavus-compatible API) and the embedded
`local` backend, so the two behave identically: same ids, timestamps, pagination,
owner filters, PATCH semantics, drafts and secret masking.

Kinds (personactl.kinds): personas and PALs are one table seen through two
vocabularies; objective sets, guardrails and tools have their own.  Every method
takes the `Kind` it is asked through: `PALS` reads answer `pal_id`, `pal_name`,
`default_face_id` and `pal_type` for the very objects `PERSONAS` reads answer with
`persona_id`, `persona_name`, `default_replica_id` and `persona_type`; a write
takes either vocabulary (top-level keys and JSON Patch paths), never both names of
one field.  Guardrails answer their id as `guardrail_id` and `uuid`; objective sets
answer `objectives_name` beside `name`.

Credentials.  The store cannot know which values came from `secret()`, so it seals
every value the API treats as a credential, and every value that usually is one:

- personas: `layers.*.api_key`, and `layers.*.headers.NAME` where NAME looks like
  a credential (contains auth, token, key, secret, password, credential, cookie or
  signature, in any case);
- tools: the secret field of `delivery.api.auth` (`token`, `password`, `value`,
  `secret`, `client_secret`), and `delivery.api.headers.NAME` as above;
- conversations: `callback_url` and `properties.livekit_room_token`.

A sealed value is kept only as a salted scrypt digest (personactl.digests), never
in the clear, because this database may sit inside a persona repository; it reads
back as MASK.  Re-sending the same value changes nothing (it verifies against the
digest).  Tools follow the platform: a write whose auth secret equals MASK is
refused (omit the field to keep the secret: it is carried over while the auth
`type` stays).  Elsewhere, MASK written back keeps the sealed value it stands for.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import jsonpatch
import jsonpointer

from personactl import digests
from personactl.compile import vocabulary
from personactl.kinds import PALS, PERSONAS, Kind, KindName

JSON = dict[str, Any]
Owner = Literal["user", "system"]

# Secrets read back as this constant, as the real API does (its tool scrub placeholder).
# Masking (rather than omitting) keeps the key's presence visible: "set" vs "unset".
MASK = "********"
# seals written before scrypt: an unsalted SHA-256 (still verified, never written)
_LEGACY_SEAL = "sealed-sha256:"

# A key name that usually holds a credential (headers).
_CREDENTIAL_NAME = re.compile(
    r".*(auth|token|key|secret|password|credential|cookie|signature).*", re.I | re.S
)
# The secret field of each `delivery.api.auth` type (bearer, basic, api_key, hmac, oauth2).
_AUTH_SECRET = re.compile(r"token|password|value|secret|client_secret")

# A path to sealed values: literal keys, "*" (any key) or a pattern the key must match.
Segment = str | re.Pattern[str]
_SEALED_PATHS: dict[str, tuple[tuple[Segment, ...], ...]] = {
    "personas": (("layers", "*", "api_key"), ("layers", "*", "headers", _CREDENTIAL_NAME)),
    "tools": (
        ("delivery", "api", "auth", _AUTH_SECRET),
        ("delivery", "api", "headers", _CREDENTIAL_NAME),
    ),
    "conversations": (("callback_url",), ("properties", "livekit_room_token")),
}
_TOOL_AUTH: tuple[Segment, ...] = _SEALED_PATHS["tools"][0]

# The PAL vocabulary of the persona fields it renames (DESIGN §3).
_PAL_NAMES = {
    "persona_id": "pal_id",
    "persona_name": "pal_name",
    "default_replica_id": "default_face_id",
    "persona_type": "pal_type",
}
_PERSONA_NAMES = {pal: persona for persona, pal in _PAL_NAMES.items()}


@dataclass(frozen=True)
class _Table:
    """How one kind is stored: its id, its server-managed fields, what a write needs."""

    id_field: str  # the canonical id field in stored bodies
    id_prefix: str
    singular: str  # for messages
    # known top-level fields and their JSON type (personas: the schema checks them)
    types: Mapping[str, type]
    required: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()  # answered on read, never stored
    owner_field: str | None = None  # stored in the body, e.g. persona_type

    def server_fields(self) -> tuple[str, ...]:
        """Ignored in a create body; a patch may not change them."""
        owner = (self.owner_field,) if self.owner_field else ()
        return (self.id_field, *owner, "created_at", "updated_at", *self.derived)


_TABLES: dict[KindName, _Table] = {
    "personas": _Table("persona_id", "p", "persona", {}, owner_field="persona_type"),
    "objectives": _Table(
        "objectives_id",
        "o",
        "objective set",
        {"name": str, "data": list, "allow_loops": bool},
        required=("data",),
        derived=("objectives_name",),
    ),
    "guardrails": _Table(
        "guardrail_id",
        "g",
        "guardrail",
        {
            "guardrail_name": str,
            "guardrail_prompt": str,
            "modality": str,
            "callback_url": str,
            "tool_call": dict,
            "app_message": bool,
            "tags": list,
        },
        required=("guardrail_name", "guardrail_prompt"),
        derived=("uuid",),
    ),
    "tools": _Table(
        "tool_id",
        "t",
        "tool",
        {
            "name": str,
            "description": str,
            "parameters": dict,
            "delivery": dict,
            "origin": str,
            "on_call": str,
            "on_resolve": str,
            "static_filler": str,
            "tags": list,
        },
        required=("name",),
        derived=("is_system_tool",),
    ),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order: stable list order
    kind TEXT NOT NULL,
    rid TEXT NOT NULL,
    owner TEXT NOT NULL,                    -- user | system
    draft INTEGER NOT NULL DEFAULT 0,       -- personas: an unsaved PAL Maker draft
    body TEXT NOT NULL,
    UNIQUE (kind, rid)
);
CREATE INDEX IF NOT EXISTS resources_by_owner ON resources (kind, owner, seq);
CREATE TABLE IF NOT EXISTS conversations (
    conversation_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
"""
# databases written before the other kinds kept personas in a table of their own
_MIGRATE = """
INSERT OR IGNORE INTO resources (kind, rid, owner, body)
    SELECT 'personas', persona_id, persona_type, body FROM personas ORDER BY seq;
DROP TABLE personas;
"""

_SYSTEM: dict[KindName, tuple[JSON, ...]] = {
    "personas": (
        {
            "persona_id": "p5e1ec7ed0001",
            "persona_name": "Tavus Researcher",
            "system_prompt": "You are a helpful researcher.",
            "pipeline_mode": "full",
            "default_replica_id": "r79e1c033f",
        },
        {
            "persona_id": "p5e1ec7ed0002",
            "persona_name": "Tavus Support Agent",
            "system_prompt": "You help customers with their questions.",
            "pipeline_mode": "full",
            "default_replica_id": "r79e1c033f",
        },
    ),
    "objectives": (
        {
            "objectives_id": "o5e1ec7ed0001",
            "name": "Collect contact details",
            "data": [
                {
                    "objective_name": "collect_email",
                    "objective_prompt": "Ask for the user's email address.",
                    "confirmation_mode": "auto",
                    "output_variables": ["email"],
                    "modality": "verbal",
                    "callback_url": "",
                }
            ],
            "allow_loops": False,
        },
    ),
    "guardrails": (
        {
            "guardrail_id": "g5e1ec7ed0001",
            "guardrail_name": "no_medical_advice",
            "guardrail_prompt": "Never give medical advice.",
            "modality": "verbal",
            "callback_url": "",
            "app_message": True,
            "tags": ["safety"],
        },
    ),
    "tools": (
        {
            "tool_id": "t5e1ec7ed0001",
            "name": "end_call",
            "description": "End the conversation.",
            "parameters": {},
            "delivery": {"app_message": True},
            "origin": "llm",
            "on_resolve": "fire_and_forget",
            "tags": [],
        },
    ),
}


class NotFound(LookupError):
    """The resource does not exist."""


class Conflict(Exception):
    """A PATCH of a persona with an unsaved PAL Maker draft, without force (409)."""

    def __init__(self, rid: str) -> None:
        self.rid = rid
        super().__init__(
            f"persona {rid} has unsaved changes in PAL Maker (maker_changes);"
            " PATCH with ?force=true to discard them"
        )


@dataclass(frozen=True)
class Patched:
    changed: bool  # False: nothing changed (the API answers 304)
    discarded_draft: bool = False  # force=True dropped an unsaved draft


def now_iso() -> str:
    """Current UTC time as ISO 8601 with millisecond precision and a `Z` suffix."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


# -- sealing and masking ---------------------------------------------------------------


def _slots(body: Any, path: tuple[Segment, ...]) -> Iterator[tuple[JSON, str, list[str]]]:
    """(parent, key, key path) of every value `path` matches in `body`."""
    stack: list[tuple[Any, tuple[Segment, ...], list[str]]] = [(body, path, [])]
    while stack:
        node, rest, keys = stack.pop()
        if not rest or not isinstance(node, dict):
            continue
        head = rest[0]
        if head == "*":
            matched = list(node)
        elif isinstance(head, str):  # a literal key: one lookup, not a scan of the keys
            matched = [head] if head in node else []
        else:
            matched = [k for k in node if head.fullmatch(k)]
        for key in matched:
            if len(rest) == 1:
                yield node, key, [*keys, key]
            else:
                stack.append((node[key], rest[1:], [*keys, key]))


def _at(body: Any, keys: list[str]) -> Any:
    for key in keys:
        body = body.get(key) if isinstance(body, dict) else None
    return body


def _is_seal(value: Any) -> bool:
    return digests.is_digest(value) or (isinstance(value, str) and value.startswith(_LEGACY_SEAL))


def _verifies(value: str, seal: Any) -> bool:
    if isinstance(seal, str) and seal.startswith(_LEGACY_SEAL):
        legacy = _LEGACY_SEAL + hashlib.sha256(value.encode()).hexdigest()
        return hmac.compare_digest(legacy, seal)
    return digests.verify(value, seal)


def _replaced(body: JSON, keys: list[str], value: Any) -> JSON:
    """`body` with the value at `keys` replaced: only the objects on the way are copied,
    the rest is shared (cheaper than a deep copy of a body to seal two of its values)."""
    top = dict(body)
    node = top
    for key in keys[:-1]:
        node[key] = dict(node[key])
        node = node[key]
    node[keys[-1]] = value
    return top


def _seal(name: str, new: JSON, old: JSON | None) -> JSON:
    """`new` with its sensitive values sealed, keeping `old`'s seal of an unchanged one.
    `new` itself is left as it was (it may share objects with the caller's payload)."""
    slots = [
        (value, keys, _at(old, keys))
        for path in _SEALED_PATHS.get(name, ())
        for parent, key, keys in _slots(new, path)
        if isinstance(value := parent[key], str) and not _is_seal(value)
    ]
    digests.digest_all(
        value
        for value, _keys, before in slots
        if value != MASK and not (_is_seal(before) and _verifies(value, before))
    )
    sealed = new
    for value, keys, before in slots:
        if value == MASK:
            if not _is_seal(before):
                raise ValueError(f"{'.'.join(keys)}: {MASK} stands for no stored secret")
            seal = before
        elif _is_seal(before) and _verifies(value, before):
            seal = before
        else:
            seal = digests.digest(value)
        sealed = _replaced(sealed, keys, seal)
    return sealed


def _mask_in_place(name: str, body: JSON) -> JSON:
    for path in _SEALED_PATHS.get(name, ()):
        for parent, key, _keys in _slots(body, path):
            if parent[key] is not None:
                parent[key] = MASK
    return body


def _refuse_echoed_auth(body: JSON) -> None:
    """The platform refuses a tool auth secret equal to its scrub placeholder."""
    for parent, key, _keys in _slots(body, _TOOL_AUTH):
        if parent[key] == MASK:
            raise ValueError(
                f"delivery.api.auth.{key} looks like the scrub placeholder echoed from a GET"
                " response; omit it to keep the existing secret"
            )


def _carry_auth(new: JSON, old: JSON) -> None:
    """A tool auth secret omitted on write keeps the stored one (same auth type)."""
    before = _at(old, ["delivery", "api", "auth"])
    after = _at(new, ["delivery", "api", "auth"])
    if not isinstance(before, dict) or not isinstance(after, dict):
        return
    if before.get("type") != after.get("type"):
        return
    for key, value in before.items():
        if key not in after and _AUTH_SECRET.fullmatch(key) and _is_seal(value):
            after[key] = value


# -- vocabularies and checks -------------------------------------------------------------


def _canonical(kind: Kind, body: JSON) -> JSON:
    """A write body in the stored vocabulary (personas: either one, never both names)."""
    if kind.name != "personas":
        return body
    out: JSON = {}
    for key, value in body.items():
        name = _PERSONA_NAMES.get(key, key)
        if name in out:
            raise ValueError(f"both {name} and {_PAL_NAMES[name]} given: use one")
        out[name] = value
    # nested names too (conversational_flow's interruptibility): the one table
    canonical: JSON = vocabulary.as_api(out, "personas")
    return canonical


def _canonical_ops(kind: Kind, ops: list[Any]) -> list[Any]:
    """JSON Patch paths (and values) in the stored vocabulary: `/pal_name` is
    `/persona_name` (personactl.compile.vocabulary)."""
    if kind.name != "personas":
        return ops
    renamed: list[Any] = vocabulary.patch(ops, "personas")
    return renamed


def _view(kind: Kind, body: JSON) -> JSON:
    """A stored body (just decoded, owned by the caller) as `kind` answers it."""
    name = kind.name
    _mask_in_place(name, body)
    if kind == PALS:
        pal: JSON = vocabulary.as_api(body, "pals")
        return pal
    if name == "guardrails":
        return {**body, "uuid": body.get("guardrail_id")}
    if name == "objectives":
        return {**body, "objectives_name": body.get("name")}
    return body


def check_types(body: JSON, kind: Literal["persona", "conversation"]) -> None:
    """Refuse (ValueError: 400) a body whose known fields have the wrong type, as the
    API does; unknown keys and semantic checks are personactl's, not the API's."""
    from personactl.schema import check_conversation, check_persona, quick

    if quick.valid("personas" if kind == "persona" else "conversations", body):
        return  # no type error: the rest of the full check (semantics) is not the API's
    check = check_persona if kind == "persona" else check_conversation
    for issue in check(body, allow_unknown=True):
        if not issue.warning and issue.message.startswith("invalid type"):
            raise ValueError(issue.message)


_JSON_TYPE = {str: "a string", bool: "a boolean", list: "an array", dict: "an object"}


def _check(name: KindName, body: JSON) -> None:
    """The API's own checks of a body about to be stored (ValueError: 400)."""
    if name == "personas":
        check_types(body, "persona")
        return
    table = _TABLES[name]
    for field in table.required:
        if body.get(field) in (None, "", []):
            raise ValueError(f"{field} is required")
    for field, expected in table.types.items():
        value = body.get(field)
        wrong = type(value) is not bool if expected is bool else not isinstance(value, expected)
        if value is not None and wrong:
            raise ValueError(f"invalid type for {field}: expected {_JSON_TYPE[expected]}")
    if name == "tools":
        _refuse_echoed_auth(body)


def check_body(kind: Kind, payload: JSON) -> JSON:
    """The create body as stored before its id and seals, after the API's checks
    (ValueError: 400); also the dry run of POST /v2/objectives/validate."""
    table = _TABLES[kind.name]
    body = _canonical(kind, payload)
    body = {k: v for k, v in body.items() if k not in table.server_fields()}
    _check(kind.name, body)
    return body


def _apply(ops: Any, current: JSON) -> Any:
    if not isinstance(ops, list):
        raise ValueError("a JSON Patch must be a JSON array of operations")
    try:
        return jsonpatch.JsonPatch(ops).apply(current)
    except (
        jsonpatch.JsonPatchException,
        jsonpointer.JsonPointerException,
        TypeError,
        KeyError,
    ) as exc:
        raise ValueError(f"invalid JSON Patch: {exc}") from exc


def _merge(update: JSON, current: JSON) -> JSON:
    """A partial object (tools): each given field replaces the stored one; null removes."""
    result = copy.deepcopy(current)
    for key, value in update.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


# -- the store ---------------------------------------------------------------------------


class Store:
    """Thread-safe: one connection guarded by a lock (SQLite serialises writers anyway).

    WAL and a busy timeout let a server and a `local` backend share a file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        seed_system: bool = False,
        conversation_url_base: str = "https://tavus.daily.co",
    ) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.conversation_url_base = conversation_url_base.rstrip("/")
        self._lock = threading.Lock()
        # autocommit mode: transactions are explicit (BEGIN IMMEDIATE in _tx)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)
        self._migrate()
        if seed_system:
            self._seed_system()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front (no upgrade deadlock)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as db:
            old = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'personas'"
            ).fetchone()
            if old:
                for statement in filter(str.strip, _MIGRATE.split(";")):
                    db.execute(statement)

    def _seed_system(self) -> None:
        stamp = now_iso()
        with self._tx() as db:
            for name, resources in _SYSTEM.items():
                table = _TABLES[name]
                for resource in resources:
                    body = {**resource, "created_at": stamp, "updated_at": stamp}
                    if table.owner_field:
                        body[table.owner_field] = "system"
                    if name == "tools":
                        body["is_system_tool"] = True
                    db.execute(
                        "INSERT OR IGNORE INTO resources (kind, rid, owner, body)"
                        " VALUES (?, ?, 'system', ?)",
                        (name, resource[table.id_field], json.dumps(body)),
                    )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- every kind ---------------------------------------------------------------------

    def list_resources(
        self,
        kind: Kind,
        limit: int = 10,
        page: int = 1,
        owner: Owner | None = None,
        *,
        descending: bool = False,
    ) -> tuple[list[JSON], int]:
        """One page (1-based like Tavus; page 0 is the first page too) in creation order,
        and the total matching count.  `owner=None` lists user and system resources."""
        if limit < 1 or page < 0:
            raise ValueError("limit must be a positive integer and page not negative")
        where, args = "WHERE kind = ?", list[str]([kind.name])
        if owner:
            where += " AND owner = ?"
            args.append(owner)
        order = "DESC" if descending else "ASC"
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM resources {where}", args).fetchone()
            rows = self._db.execute(
                f"SELECT body FROM resources {where} ORDER BY seq {order} LIMIT ? OFFSET ?",
                [*args, limit, (max(page, 1) - 1) * limit],
            ).fetchall()
        return [_view(kind, json.loads(body)) for (body,) in rows], int(total[0])

    def _get_raw(self, db: sqlite3.Connection, kind: Kind, rid: str) -> JSON | None:
        row = db.execute(
            "SELECT body FROM resources WHERE kind = ? AND rid = ?", (kind.name, rid)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def get(self, kind: Kind, rid: str) -> JSON | None:
        with self._lock:
            raw = self._get_raw(self._db, kind, rid)
        return None if raw is None else _view(kind, raw)

    def create(self, kind: Kind, payload: JSON) -> JSON:
        table = _TABLES[kind.name]
        if not isinstance(payload, dict):
            raise ValueError(f"the {table.singular} must be a JSON object")
        body = check_body(kind, payload)
        stamp = now_iso()
        rid = table.id_prefix + secrets.token_hex(6)
        owner = {table.owner_field: "user"} if table.owner_field else {}
        system = {"is_system_tool": False} if kind.name == "tools" else {}
        body = {
            table.id_field: rid,
            **body,
            **owner,
            **system,
            "created_at": stamp,
            "updated_at": stamp,
        }
        text = json.dumps(_seal(kind.name, body, None), allow_nan=False)
        with self._tx() as db:
            db.execute(
                "INSERT INTO resources (kind, rid, owner, body) VALUES (?, ?, 'user', ?)",
                (kind.name, rid, text),
            )
        return _view(kind, json.loads(text))  # a copy: decoding beats deepcopy

    def patch(self, kind: Kind, rid: str, update: Any, *, force: bool = False) -> Patched:
        """Apply an RFC 6902 patch (tools: also a partial object of fields to replace).

        A persona with an unsaved draft raises Conflict unless `force`, which discards
        the draft.  Raises NotFound, or ValueError for a malformed or failing patch (400).
        """
        table = _TABLES[kind.name]
        with self._tx() as db:
            current = self._get_raw(db, kind, rid)
            if current is None:
                raise NotFound(rid)
            draft = bool(
                db.execute(
                    "SELECT draft FROM resources WHERE kind = ? AND rid = ?", (kind.name, rid)
                ).fetchone()[0]
            )
            if draft and not force:
                raise Conflict(rid)
            result = self._updated(kind, current, copy.deepcopy(update))  # filled in place
            for field in table.server_fields():
                if result.get(field) != current.get(field):
                    raise ValueError(f"{field} is read-only")
            changed = result != current
            if changed:
                result["updated_at"] = now_iso()
            if changed or draft:
                db.execute(
                    "UPDATE resources SET body = ?, draft = 0 WHERE kind = ? AND rid = ?",
                    (json.dumps(result, allow_nan=False), kind.name, rid),
                )
        return Patched(changed, discarded_draft=draft)

    @staticmethod
    def _updated(kind: Kind, current: JSON, update: Any) -> JSON:
        if kind.name == "tools" and isinstance(update, dict):
            result = _merge(update, current)
        else:
            result = _apply(_canonical_ops(kind, update), current)
        if not isinstance(result, dict):
            raise ValueError("the patched resource must remain a JSON object")
        if kind.name == "tools":
            _carry_auth(result, current)
        _check(kind.name, result)
        return _seal(kind.name, result, current)

    def delete(self, kind: Kind, rid: str) -> bool:
        """True when the resource existed."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM resources WHERE kind = ? AND rid = ?", (kind.name, rid))
        return cur.rowcount > 0

    def set_draft(self, rid: str, draft: bool = True) -> bool:
        """Give a persona an unsaved PAL Maker draft (or drop it); False if it is unknown."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE resources SET draft = ? WHERE kind = 'personas' AND rid = ?",
                (int(draft), rid),
            )
        return cur.rowcount > 0

    def drafts(self) -> list[str]:
        """The personas with an unsaved draft, in creation order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT rid FROM resources WHERE kind = 'personas' AND draft = 1 ORDER BY seq"
            ).fetchall()
        return [rid for (rid,) in rows]

    # -- personas (the /v2/personas vocabulary) ----------------------------------------

    def list_personas(
        self, limit: int = 10, page: int = 1, persona_type: Owner | None = None
    ) -> tuple[list[JSON], int]:
        return self.list_resources(PERSONAS, limit, page, persona_type)

    def get_persona(self, persona_id: str) -> JSON | None:
        return self.get(PERSONAS, persona_id)

    def create_persona(self, payload: JSON) -> JSON:
        return self.create(PERSONAS, payload)

    def patch_persona(self, persona_id: str, ops: list[JSON]) -> bool:
        """False when the patch changes nothing (the API answers 304)."""
        return self.patch(PERSONAS, persona_id, ops).changed

    def delete_persona(self, persona_id: str) -> bool:
        return self.delete(PERSONAS, persona_id)

    # -- conversations ----------------------------------------------------------

    def create_conversation(self, body: JSON, url_base: str | None = None) -> JSON:
        """Record a conversation; the response echoes the request (sealed values
        masked) plus server fields.

        Raises ValueError (400) when persona_id (or pal_id) is missing or unknown, or
        when no replica is given and the persona has no default one (as Tavus does).
        """
        if not isinstance(body, dict):
            raise ValueError("the conversation must be a JSON object")
        check_types(body, "conversation")
        persona_id = body.get("persona_id") or body.get("pal_id")
        if not isinstance(persona_id, str):
            raise ValueError("persona_id is required")
        with self._lock:
            persona = self._get_raw(self._db, PERSONAS, persona_id)
        if persona is None:
            raise ValueError(f"persona {persona_id} does not exist")
        replica_id = (
            body.get("replica_id") or body.get("face_id") or persona.get("default_replica_id")
        )
        if not replica_id:
            raise ValueError("replica_id is required: the persona has no default_replica_id")
        conversation_id = "c" + secrets.token_hex(6)
        stamp = now_iso()
        base = (url_base or self.conversation_url_base).rstrip("/")
        record = {
            **body,
            "conversation_id": conversation_id,
            "conversation_name": body.get("conversation_name") or f"Conversation {stamp}",
            "conversation_url": f"{base}/{conversation_id}",
            "status": "active",
            "callback_url": body.get("callback_url"),
            "persona_id": persona_id,
            "replica_id": replica_id,
            "created_at": stamp,
            "updated_at": stamp,
        }
        text = json.dumps(_seal("conversations", record, None), allow_nan=False)
        with self._tx() as db:
            db.execute(
                "INSERT INTO conversations (conversation_id, body) VALUES (?, ?)",
                (conversation_id, text),
            )
        return _mask_in_place("conversations", json.loads(text))

    def get_conversation(self, conversation_id: str) -> JSON | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM conversations WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
        return None if row is None else _mask_in_place("conversations", dict(json.loads(row[0])))
