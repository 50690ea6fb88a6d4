"""The rules of an objective set (POST /v2/objectives) beyond its shape: names (pattern,
unique within the set) and the references between its items.  No pydantic."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from personactl.errors import did_you_mean
from personactl.sensitive import is_placeholder

from ._issues import Path, SchemaIssue, show

MAX_OBJECTIVES = 50
MAX_NAME = 100
OBJECTIVE_NAME_RE = re.compile(r"^[a-zA-Z0-9_]+$")
MODALITIES = ("verbal", "visual", "audio")
CONFIRMATION_MODES = ("manual", "auto")


def check_objectives_semantics(payload: Mapping[str, Any]) -> list[SchemaIssue]:
    """Names (pattern, unique within the set) and references within the set."""
    items = payload.get("data")
    if not isinstance(items, list):
        return []
    issues: list[SchemaIssue] = []
    names: dict[str, int] = {}
    for i, item in enumerate(items):
        name = item.get("objective_name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or is_placeholder(name):
            continue
        path: Path = ("data", i, "objective_name")
        if not OBJECTIVE_NAME_RE.match(name):
            issues.append(
                SchemaIssue(
                    path,
                    f"invalid objective_name {show(name)}: "
                    "use only letters, digits and underscores",
                )
            )
        if name in names:
            issues.append(
                SchemaIssue(
                    path,
                    f"duplicate objective_name {name!r}",
                    f"already the name of data[{names[name]}]",
                )
            )
        else:
            names[name] = i
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            issues.extend(_check_references(item, i, names))
    return issues


def _check_references(
    item: Mapping[str, Any], i: int, names: Mapping[str, int]
) -> list[SchemaIssue]:

    issues: list[SchemaIssue] = []
    own = item.get("objective_name")
    required = item.get("next_required_objective")
    conditional = item.get("next_conditional_objectives")
    if required is not None and conditional is not None:
        issues.append(
            SchemaIssue(
                ("data", i, "next_conditional_objectives"),
                "an objective has either next_required_objective or "
                "next_conditional_objectives, not both",
                key=True,
            )
        )
    targets: list[tuple[str, Path, bool]] = []
    if isinstance(required, str):
        targets.append((required, ("data", i, "next_required_objective"), False))
    if isinstance(conditional, Mapping):
        targets.extend(
            (name, ("data", i, "next_conditional_objectives", name), True) for name in conditional
        )
    for target, path, key in targets:
        if is_placeholder(target):
            continue
        if target == own:
            issues.append(SchemaIssue(path, f"objective {own!r} names itself as next", key=key))
        elif target not in names:
            issues.append(
                SchemaIssue(
                    path,
                    f"objective {own!r} references {target!r}, which is not in this set",
                    did_you_mean(target, names) or f"objectives: {', '.join(names)}",
                    key=key,
                )
            )
    return issues
