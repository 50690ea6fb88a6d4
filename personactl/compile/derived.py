"""Schema issues that only follow from another one already reported.

A misspelled key (`modle:` under `layers.llm`) makes the object it sits in look
incomplete too ("an llm layer with base_url needs a model"): that second error is the
same mistake again, so it is left out while the typo stands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the schema package loads when a body is checked
    from personactl.schema import SchemaIssue


def _is_typo(issue: SchemaIssue) -> bool:
    return issue.key and not issue.warning and issue.hint.startswith("did you mean")


def without_derived(issues: Sequence[SchemaIssue], payload: Any) -> list[SchemaIssue]:
    """`issues` without the errors about an object holding a misspelled key: the object
    itself (a missing field, a rule it breaks) or a key of it that is absent."""
    typo_objects = {issue.path[:-1] for issue in issues if _is_typo(issue)}
    if not typo_objects:
        return list(issues)
    return [issue for issue in issues if not _derived(issue, typo_objects, payload)]


def _derived(issue: SchemaIssue, typo_objects: set[tuple[str | int, ...]], payload: Any) -> bool:
    if issue.key or issue.warning:
        return False
    if issue.path in typo_objects:
        return True
    return issue.path[:-1] in typo_objects and not _present(payload, issue.path)


def _present(payload: Any, path: tuple[str | int, ...]) -> bool:
    node = payload
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return True
