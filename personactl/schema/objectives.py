"""An objective set (POST /v2/objectives), as the official Tavus CLI models it
(`tavus_mcp/sdk/schemas/objective.py`): a named list of objective items that refer to
each other by `objective_name`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from personactl.errors import did_you_mean

from ._issues import Path, SchemaIssue, show
from ._types import JsonObject, StrList, choice_schema, choice_validator, is_secret
from .persona import _Strict

MAX_OBJECTIVES = 50
MAX_NAME = 100
OBJECTIVE_NAME_RE = re.compile(r"^[a-zA-Z0-9_]+$")
MODALITIES = ("verbal", "visual", "audio")
Modality = Annotated[str, choice_validator(MODALITIES), choice_schema(MODALITIES)]
CONFIRMATION_MODES = ("manual", "auto")
ConfirmationMode = Annotated[
    str, choice_validator(CONFIRMATION_MODES), choice_schema(CONFIRMATION_MODES)
]


class ObjectiveItem(_Strict):
    """One objective of a set."""

    objective_name: str = Field(max_length=MAX_NAME)
    objective_prompt: str = Field(max_length=10_000)
    confirmation_mode: ConfirmationMode | None = None
    output_variables: StrList | None = Field(default=None, max_length=50)
    modality: Modality | None = None
    next_conditional_objectives: dict[str, str] | None = Field(
        default=None, description="objective_name -> the condition that leads to it."
    )
    next_required_objective: str | None = None
    callback_url: str | None = Field(default=None, max_length=2048)
    tool_call: JsonObject | None = None


class ObjectiveSet(_Strict):
    """The objectives: body: one objective set."""

    name: str | None = Field(default=None, max_length=MAX_NAME)
    data: list[ObjectiveItem] = Field(min_length=1, max_length=MAX_OBJECTIVES)
    allow_loops: bool | None = None


def check_objectives_semantics(payload: Mapping[str, Any]) -> list[SchemaIssue]:
    """Names (pattern, unique within the set) and references within the set."""
    items = payload.get("data")
    if not isinstance(items, list):
        return []
    issues: list[SchemaIssue] = []
    names: dict[str, int] = {}
    for i, item in enumerate(items):
        name = item.get("objective_name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or is_secret(name):
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
        if is_secret(target):
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
