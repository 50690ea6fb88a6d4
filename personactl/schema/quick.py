"""Whether a body is valid, answered without pydantic.

The models' own JSON Schemas (`bodies.json`, written by `python -m
personactl.schema.models`; a test keeps it equal to what the models give) compiled
into small predicates.  A predicate says True only where the models accept the value
too: each check is as strict as pydantic's strict mode or stricter (integers are exact
ints, booleans are never numbers, object keys are strings), and a keyword it does not
know is refused when the schemas are compiled, not skipped.  False means only "ask the
models": they decide, and they word what is wrong.  Importing pydantic and building the
models costs more than compiling a few changed files, so a valid repository never pays it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Literal

BodyKind = Literal["personas", "conversations", "objectives", "guardrails", "tools"]
BODIES_FILE = Path(__file__).with_name("bodies.json")

Check = Callable[[Any], bool]

# keywords that describe and do not constrain
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "deprecated"})


class Unsupported(Exception):
    """A schema keyword the quick path cannot evaluate exactly."""


def _anything(_: Any) -> bool:
    return True


def _is_number(v: Any) -> bool:
    return type(v) is int or type(v) is float


def _is_object(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) for k in v)


def _is_null(v: Any) -> bool:
    return v is None


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: type(v) is int,
    "number": _is_number,
    "boolean": lambda v: type(v) is bool,
    "null": _is_null,
    "array": lambda v: isinstance(v, list),
    "object": _is_object,
}


def _bound(name: str, limit: Any) -> Check:
    ops: dict[str, Check] = {
        "minimum": lambda v: v >= limit,
        "maximum": lambda v: v <= limit,
        "exclusiveMinimum": lambda v: v > limit,
        "exclusiveMaximum": lambda v: v < limit,
    }
    op = ops[name]
    return lambda v: not _is_number(v) or op(v)


def _length(name: str, limit: int) -> Check:
    sized: type[str] | type[list[Any]] = str if name.endswith("Length") else list
    if name.startswith("min"):
        return lambda v: not isinstance(v, sized) or len(v) >= limit
    return lambda v: not isinstance(v, sized) or len(v) <= limit


class _Compiler:
    """Schemas to predicates, with the shapes pydantic emits (an object's properties, a
    list's items, `anyOf` with null) as one closure each: a body is checked per compile
    of every persona."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.compiled: dict[str, Check] = {}
        self.compiling: set[str] = set()

    def ref(self, ref: str) -> Check:
        name = ref.removeprefix("#/$defs/")
        if name == ref or name not in self.defs:
            raise Unsupported(f"$ref {ref!r}")
        if name in self.compiled:
            return self.compiled[name]
        if name in self.compiling:  # recursion: bound late
            return lambda v: self.compiled[name](v)
        self.compiling.add(name)
        self.compiled[name] = self.node(self.defs[name])
        return self.compiled[name]

    def node(self, schema: Any) -> Check:
        if schema is True or schema == {}:
            return _anything
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        keys = {k: v for k, v in schema.items() if k not in _ANNOTATIONS}
        kind = keys.get("type")
        if kind == "object" and keys.keys() <= {"type", *_OBJECT}:
            return self.object(keys, typed=True)
        if kind == "array" and keys.keys() <= {"type", *_ARRAY}:
            return self.array(keys)
        if keys.keys() == {"anyOf"}:
            return self.any_of(keys["anyOf"])
        found = [self.keyword(k, v, keys) for k, v in keys.items()]
        return _all([c for c in found if c is not None])

    def keyword(self, key: str, value: Any, schema: dict[str, Any]) -> Check | None:
        if key == "type":
            kinds = [value] if isinstance(value, str) else value
            if not all(t in _TYPES for t in kinds):
                raise Unsupported(f"type {value!r}")
            return _any([_TYPES[t] for t in kinds])
        if key == "$ref":
            return self.ref(value)
        if key == "anyOf":
            return self.any_of(value)
        if key in ("enum", "const"):
            members = value if key == "enum" else [value]
            if not all(isinstance(m, str) for m in members):
                raise Unsupported(f"{key} {value!r}")  # 1 == True: only strings compare exactly
            allowed = frozenset(members)
            return lambda v: isinstance(v, str) and v in allowed
        if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            return _bound(key, value)
        if key in ("minLength", "maxLength", "minItems", "maxItems"):
            return _length(key, value)
        if key == "items":
            item = self.node(value)
            return lambda v: not isinstance(v, list) or all(item(x) for x in v)
        if key in _OBJECT:  # without `type: object`: only objects are held to them
            return None if any(k in schema for k in _OBJECT if k < key) else self.object(schema)
        raise Unsupported(f"keyword {key!r}")

    def any_of(self, alternatives: list[Any]) -> Check:
        checks = [self.node(s) for s in alternatives]
        others = [c for c in checks if c is not _is_null]
        if len(others) == 1 < len(checks):  # Optional[X], pydantic's most common shape
            (other,) = others
            return lambda v: v is None or other(v)
        return _any(checks)

    def array(self, schema: dict[str, Any]) -> Check:
        item = self.node(schema.get("items", True))
        low, high = schema.get("minItems", 0), schema.get("maxItems")

        def check(v: Any) -> bool:
            if not isinstance(v, list) or len(v) < low or (high is not None and len(v) > high):
                return False
            if item is not _anything:
                for x in v:
                    if not item(x):
                        return False
            return True

        return check

    def object(self, schema: dict[str, Any], *, typed: bool = False) -> Check:
        props = {k: self.node(s) for k, s in schema.get("properties", {}).items()}
        required = tuple(schema.get("required", ()))
        extra = schema.get("additionalProperties", True)
        rest: Check | None = None if isinstance(extra, bool) else self.node(extra)
        closed = extra is False

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return not typed
            for key in required:
                if key not in v:
                    return False
            for key, item in v.items():
                sub = props.get(key)
                if sub is not None:
                    if not sub(item):
                        return False
                elif closed or not isinstance(key, str) or (rest is not None and not rest(item)):
                    return False
            return True

        return check


_OBJECT = ("additionalProperties", "properties", "required")
_ARRAY = ("items", "maxItems", "minItems")


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _anything
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    return lambda v: all(c(v) for c in checks)


def _any(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]

    def check(v: Any) -> bool:
        for c in checks:  # noqa: SIM110 - no generator per value checked
            if c(v):
                return True
        return False

    return check


@cache
def _bodies() -> dict[str, Any]:
    bodies: dict[str, Any] = json.loads(BODIES_FILE.read_text(encoding="utf-8"))
    return bodies


@cache
def checker(kind: BodyKind) -> Check:
    """The predicate of one kind's body (Unsupported: bodies.json uses a keyword it lacks)."""
    schema = _bodies()[kind]
    compiler = _Compiler(schema.get("$defs", {}))
    root = compiler.node({k: v for k, v in schema.items() if k != "$defs"})
    return lambda v: _is_object(v) and root(v)


def valid(kind: BodyKind, payload: Any) -> bool:
    """True: the models accept `payload` as a `kind` body.  False: ask them."""
    return checker(kind)(payload)
