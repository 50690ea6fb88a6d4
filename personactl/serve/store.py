"""A Tavus-like persona and conversation store over one SQLite file.

Backs both `personactl serve` (the local Tavus-compatible API) and the embedded
`local` backend, so the two behave identically: same ids, timestamps, pagination,
JSON Patch semantics and secret masking.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import jsonpatch
import jsonpointer

JSON = dict[str, Any]

# Secrets are read back masked with this constant, mirroring the real API, which
# does not hand secrets back verbatim.  Masking (rather than omitting) keeps the
# key's presence visible, so a reader can tell "set" from "unset"; a caller must
# never write a value equal to MASK back.
MASK = "********"
# ...and stored only as a hash: this server never calls the LLM or TTS with them,
# and its database may sit inside a persona repository, where no secret may land.
_SEALED = "sealed-sha256:"

# Server-managed fields: ignored in a create body, and a patch may not change them.
READ_ONLY = ("persona_id", "persona_type", "created_at", "updated_at")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS personas (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order: stable list order
    persona_id TEXT NOT NULL UNIQUE,
    persona_type TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS conversations (
    conversation_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
"""

_SYSTEM_PERSONAS: tuple[JSON, ...] = (
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
)


class NotFound(LookupError):
    """The persona does not exist."""


def now_iso() -> str:
    """Current UTC time as ISO 8601 with millisecond precision and a `Z` suffix."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def masked(persona: JSON) -> JSON:
    """A copy of `persona` with every `layers.<layer>.api_key` replaced by MASK."""
    return _mask_in_place(copy.deepcopy(persona))


def _mask_in_place(persona: JSON) -> JSON:
    """`masked` for a persona nothing else refers to (just decoded): no copy."""
    layers = persona.get("layers")
    if isinstance(layers, dict):
        for layer in layers.values():
            if isinstance(layer, dict) and layer.get("api_key") is not None:
                layer["api_key"] = MASK
    return persona


def _seal_in_place(persona: JSON) -> JSON:
    layers = persona.get("layers")
    if isinstance(layers, dict):
        for layer in layers.values():
            key = layer.get("api_key") if isinstance(layer, dict) else None
            if isinstance(key, str) and not key.startswith(_SEALED):
                layer["api_key"] = _SEALED + hashlib.sha256(key.encode()).hexdigest()
    return persona


def check_types(body: JSON, kind: Literal["persona", "conversation"]) -> None:
    """Refuse (ValueError: 400) a body whose known fields have the wrong type, as the
    API does; unknown keys and semantic checks are personactl's, not the API's."""
    from personactl.schema import check_conversation, check_persona  # pydantic: on write only

    check = check_persona if kind == "persona" else check_conversation
    for issue in check(body, allow_unknown=True):
        if not issue.warning and issue.message.startswith("invalid type"):
            raise ValueError(issue.message)


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

    def _seed_system(self) -> None:
        stamp = now_iso()
        with self._tx() as db:
            for persona in _SYSTEM_PERSONAS:
                body = {
                    **persona,
                    "persona_type": "system",
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                db.execute(
                    "INSERT OR IGNORE INTO personas (persona_id, persona_type, body)"
                    " VALUES (?, 'system', ?)",
                    (persona["persona_id"], json.dumps(body)),
                )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- personas ---------------------------------------------------------------

    def list_personas(
        self, limit: int = 10, page: int = 1, persona_type: str | None = None
    ) -> tuple[list[JSON], int]:
        """One page (1-based, like Tavus) in creation order, and the total matching count."""
        if limit < 1 or page < 1:
            raise ValueError("limit and page must be positive integers")
        where, args = ("WHERE persona_type = ?", [persona_type]) if persona_type else ("", [])
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM personas {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT body FROM personas {where} ORDER BY seq LIMIT ? OFFSET ?",
                [*args, limit, (page - 1) * limit],
            ).fetchall()
        return [_mask_in_place(json.loads(body)) for (body,) in rows], int(total)

    def _get_raw(self, db: sqlite3.Connection, persona_id: str) -> JSON | None:
        row = db.execute("SELECT body FROM personas WHERE persona_id = ?", (persona_id,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def get_persona(self, persona_id: str) -> JSON | None:
        with self._lock:
            raw = self._get_raw(self._db, persona_id)
        return None if raw is None else _mask_in_place(raw)

    def create_persona(self, payload: JSON) -> JSON:
        if not isinstance(payload, dict):
            raise ValueError("the persona must be a JSON object")
        check_types(payload, "persona")
        stamp = now_iso()
        persona_id = "p" + secrets.token_hex(6)
        body = {k: v for k, v in payload.items() if k not in READ_ONLY}
        body = {
            "persona_id": persona_id,
            **body,
            "persona_type": "user",
            "created_at": stamp,
            "updated_at": stamp,
        }
        text = json.dumps(_seal_in_place(body), allow_nan=False)
        with self._tx() as db:
            db.execute(
                "INSERT INTO personas (persona_id, persona_type, body) VALUES (?, 'user', ?)",
                (persona_id, text),
            )
        return _mask_in_place(json.loads(text))  # a copy: decoding beats deepcopy

    def patch_persona(self, persona_id: str, ops: list[JSON]) -> bool:
        """Apply an RFC 6902 patch. False when it changes nothing (the API answers 304).

        Raises NotFound, or ValueError for a malformed or failing patch (400).
        """
        if not isinstance(ops, list):
            raise ValueError("a JSON Patch must be a JSON array of operations")
        with self._tx() as db:
            current = self._get_raw(db, persona_id)
            if current is None:
                raise NotFound(persona_id)
            try:
                result = jsonpatch.JsonPatch(ops).apply(current)
            except (
                jsonpatch.JsonPatchException,
                jsonpointer.JsonPointerException,
                TypeError,
                KeyError,
            ) as exc:
                raise ValueError(f"invalid JSON Patch: {exc}") from exc
            if not isinstance(result, dict):
                raise ValueError("the patched persona must remain a JSON object")
            check_types(result, "persona")
            _seal_in_place(result)
            for field in READ_ONLY:
                if result.get(field) != current.get(field):
                    raise ValueError(f"{field} is read-only")
            if result == current:
                return False
            result["updated_at"] = now_iso()
            db.execute(
                "UPDATE personas SET body = ? WHERE persona_id = ?",
                (json.dumps(result, allow_nan=False), persona_id),
            )
        return True

    def delete_persona(self, persona_id: str) -> bool:
        """True when the persona existed."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM personas WHERE persona_id = ?", (persona_id,))
        return cur.rowcount > 0

    # -- conversations ----------------------------------------------------------

    def create_conversation(self, body: JSON, url_base: str | None = None) -> JSON:
        """Record a conversation; the response echoes the request plus server fields.

        Raises ValueError (400) when persona_id is missing or unknown, or when no
        replica is given and the persona has no default one (as Tavus does).
        """
        if not isinstance(body, dict):
            raise ValueError("the conversation must be a JSON object")
        check_types(body, "conversation")
        persona_id = body.get("persona_id")
        if not isinstance(persona_id, str):
            raise ValueError("persona_id is required")
        with self._lock:
            persona = self._get_raw(self._db, persona_id)
        if persona is None:
            raise ValueError(f"persona {persona_id} does not exist")
        replica_id = body.get("replica_id") or persona.get("default_replica_id")
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
        with self._tx() as db:
            db.execute(
                "INSERT INTO conversations (conversation_id, body) VALUES (?, ?)",
                (conversation_id, json.dumps(record, allow_nan=False)),
            )
        return record

    def get_conversation(self, conversation_id: str) -> JSON | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM conversations WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))
