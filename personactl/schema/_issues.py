"""`SchemaIssue`: one problem found in a payload (no pydantic: the quick path and the
semantic checks make them without it; `_convert` makes them from pydantic errors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class SchemaIssue:
    """One problem found in a payload."""

    path: Path
    """JSON path into the payload, e.g. ("layers", "llm", "tools", 0, "function", "name")."""
    message: str
    """One line, e.g. "unknown key 'modle'"."""
    hint: str = ""
    """E.g. "did you mean 'model'?"."""
    warning: bool = False
    key: bool = False
    """True when the problem is the key itself (unknown key) rather than its value."""


def field_label(path: Path) -> str:
    """The last key of a path with any list indices after it: "tools[0]", "hotwords"."""
    label = ""
    for part in reversed(path):
        if isinstance(part, int):
            label = f"[{part}]{label}"
        else:
            return f"{part}{label}"
    return label or "payload"


def show(value: Any) -> str:
    """A short repr of a value for messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
