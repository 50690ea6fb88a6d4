"""Plan files (`plan --out`, `apply PLANFILE`): checked at the edge with pydantic, so a
hand-edited or foreign file is refused before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from personactl.deploy.plan import FORMAT_VERSION, JSON, Action, Change, Plan
from personactl.errors import UserError
from personactl.kinds import Api, kind_of


class _Edge(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class _Execute(_Edge):
    ops: list[JSON] = []
    body: JSON | None = None
    applied: JSON | None = None


class _ChangeFile(_Edge):
    model_config = ConfigDict(extra="allow", strict=True)
    address: str
    action: Action
    fingerprint: str | None
    execute: _Execute
    before: JSON = {}
    drift: list[str] = []
    unrecorded: list[str] = []
    secret_digests: dict[str, str] = {}
    recreate: bool = False
    pending: bool = False
    moved_from: str | None = None


class _PlanFile(_Edge):
    format_version: Literal[1]
    environment: str
    backend: str = ""
    api: Api = "personas"
    created_at: str = ""
    managed: int = 0
    changes: list[_ChangeFile]
    not_pruned: list[str] = []


def _change_from_file(raw: _ChangeFile, api: Api) -> Change:
    kind = kind_of(raw.address, api)
    id_field = kind.id_field
    extra = raw.model_extra or {}
    # any of the kind's id fields: persona_id or pal_id
    rid = next((extra[f] for f in kind.id_fields if extra.get(f) is not None), None)
    if rid is not None and not isinstance(rid, str):
        raise ValueError(f"{raw.address}: {id_field} must be a string")
    if raw.action != "create" and not rid:
        article = "an" if raw.action == "update" else "a"
        raise ValueError(f"{raw.address}: {article} {raw.action} needs its {id_field}")
    if raw.action == "create" and raw.execute.body is None:
        raise ValueError(f"{raw.address}: a create needs its body")
    return Change(
        address=raw.address,
        action=raw.action,
        id=rid,
        ops=raw.execute.ops,
        fingerprint=raw.fingerprint,
        body=raw.execute.body,
        applied=raw.execute.applied,
        before=raw.before,
        drift=raw.drift,
        unrecorded=raw.unrecorded,
        secret_digests=raw.secret_digests,
        recreate=raw.recreate,
        pending=raw.pending,
        moved_from=raw.moved_from,
    )


def plan_from_data(raw: Any) -> Plan:
    """A plan file's contents, checked: anything not plan-shaped is a ValueError."""
    if isinstance(raw, dict) and raw.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise ValueError(f"plan format_version {raw.get('format_version')!r} is not 1")
    try:
        parsed = _PlanFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(p) for p in first["loc"]) or "the file"
        # pydantic names the model ("instance of _PlanFile"): users wrote an object
        why = "Input should be an object" if first["type"] == "model_type" else first["msg"]
        raise ValueError(f"{where}: {why}") from None
    return Plan(
        environment=parsed.environment,
        backend=parsed.backend,
        changes=[_change_from_file(c, parsed.api) for c in parsed.changes],
        managed=parsed.managed,
        unmanaged_deletes=parsed.not_pruned,
        created_at=parsed.created_at,
        api=parsed.api,
    )


def load_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read plan ({exc.strerror})") from None
    try:
        return plan_from_data(json.loads(text))
    except (ValueError, RecursionError) as exc:
        raise UserError(
            f"{path}: not a personactl plan ({exc})",
            hint="make one with `personactl plan --out FILE`; nothing was changed",
        ) from None
