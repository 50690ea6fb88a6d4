"""The conversion of pydantic validation errors into `SchemaIssue`s."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from personactl.compile.source import BOOL_HINT
from personactl.errors import did_you_mean

from ._issues import Path, SchemaIssue, field_label, show
from ._types import CHOICE_ERROR, TYPE_ERROR, type_name

_EXPECTED = {
    "string_type": "string",
    "bool_type": "boolean",
    "int_type": "integer",
    "float_type": "number",
    "list_type": "list",
    "dict_type": "object",
    "model_type": "object",
    "model_attributes_type": "object",
}

_BOUNDS = {
    "greater_than_equal": ("ge", ">="),
    "greater_than": ("gt", ">"),
    "less_than_equal": ("le", "<="),
    "less_than": ("lt", "<"),
}


# --------------------------------------------------------------------------- keys at a path


def _unwrap(tp: Any) -> list[Any]:
    """The concrete alternatives of an annotation (Optional/Union/Annotated removed)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(tp):
            if arg is not type(None):
                out.extend(_unwrap(arg))
        return out
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _descend(tp: Any, part: str | int) -> Any:
    for alt in _unwrap(tp):
        if _is_model(alt):
            if isinstance(part, str) and part in alt.model_fields:
                return alt.model_fields[part].annotation
            continue
        origin = typing.get_origin(alt)
        args = typing.get_args(alt)
        if origin is list and isinstance(part, int) and args:
            return args[0]
        if origin is dict and isinstance(part, str) and len(args) == 2:
            return args[1]
    return None


def model_at(root: type[BaseModel], path: Sequence[str | int]) -> type[BaseModel] | None:
    """The model validating the object at `path` under `root`, if any."""
    tp: Any = root
    for part in path:
        tp = _descend(tp, part)
        if tp is None:
            return None
    for alt in _unwrap(tp):
        if _is_model(alt):
            model: type[BaseModel] = alt
            return model
    return None


def keys_at(root: type[BaseModel], path: Sequence[str | int]) -> list[str]:
    model = model_at(root, path)
    return list(model.model_fields) if model else []


# --------------------------------------------------------------------------- conversion


def _unknown_key_hint(root: type[BaseModel], parent: Path, key: str, elsewhere: Any) -> str:
    """Where the key belongs if it is valid elsewhere, else the closest valid key here."""
    hint = elsewhere(parent, key) if elsewhere is not None else ""
    return str(hint or did_you_mean(key, keys_at(root, parent)))


def convert_error(
    err: ErrorDetails, root: type[BaseModel], allow_unknown: bool, elsewhere: Any = None
) -> SchemaIssue:
    """One pydantic error as a `SchemaIssue`."""
    path: Path = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    label = field_label(path)
    ctx = err.get("ctx") or {}

    if kind == "extra_forbidden":
        key = str(path[-1]) if path else ""
        hint = _unknown_key_hint(root, path[:-1], key, elsewhere)
        return SchemaIssue(path, f"unknown key {key!r}", hint, warning=allow_unknown, key=True)
    if kind == "missing":
        return SchemaIssue(path[:-1], f"missing required key {label!r}")
    if kind == CHOICE_ERROR:
        expected = ctx.get("expected", "")
        if ctx.get("number"):
            expected_text = f"a number or one of: {expected}"
        else:
            expected_text = f"one of: {expected}"
        hint = did_you_mean(value, str(expected).split(", ")) if isinstance(value, str) else ""
        return SchemaIssue(
            path, f"invalid value {show(value)} for {label}; expected {expected_text}", hint
        )
    if kind == TYPE_ERROR:
        hint = BOOL_HINT if ctx.get("boolean") and isinstance(value, str) else ""
        return SchemaIssue(path, f"invalid type for {label}: {err['msg']}", hint)
    if kind in _EXPECTED:
        # `yes`/`on` are booleans in YAML 1.1 (and other tools), strings here
        hint = BOOL_HINT if kind == "bool_type" and isinstance(value, str) else ""
        return SchemaIssue(
            path,
            f"invalid type for {label}: expected {_EXPECTED[kind]}, got {type_name(value)}",
            hint,
        )
    if kind == "too_long":
        return SchemaIssue(
            path,
            f"{label} takes at most {ctx.get('max_length')} entries, "
            f"got {ctx.get('actual_length')}",
        )
    if kind in _BOUNDS:
        ctx_key, op = _BOUNDS[kind]
        return SchemaIssue(path, f"{label} must be {op} {ctx.get(ctx_key)}, got {show(value)}")
    return SchemaIssue(path, f"invalid value for {label}: {err['msg']}")


def convert(
    exc: ValidationError, root: type[BaseModel], allow_unknown: bool, elsewhere: Any = None
) -> list[SchemaIssue]:
    return [convert_error(e, root, allow_unknown, elsewhere) for e in exc.errors()]
