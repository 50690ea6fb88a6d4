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


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: type(v) is int,
    "number": _is_number,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
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
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.compiled: dict[str, Check] = {}

    def ref(self, ref: str) -> Check:
        name = ref.removeprefix("#/$defs/")
        if name == ref or name not in self.defs:
            raise Unsupported(f"$ref {ref!r}")
        if name not in self.compiled:
            self.compiled[name] = lambda v: self.compiled[name](v)  # recursion: bound late
            self.compiled[name] = self.node(self.defs[name])
        return self.compiled[name]

    def node(self, schema: Any) -> Check:
        if schema is True or schema == {}:
            return _anything
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        found = [self.keyword(k, v, schema) for k, v in schema.items() if k not in _ANNOTATIONS]
        checks = [c for c in found if c is not None]
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(c(v) for c in checks)

    def keyword(self, key: str, value: Any, schema: dict[str, Any]) -> Check | None:
        if key == "type":
            types = [value] if isinstance(value, str) else value
            if not all(t in _TYPES for t in types):
                raise Unsupported(f"type {value!r}")
            preds = [_TYPES[t] for t in types]
            return preds[0] if len(preds) == 1 else lambda v: any(p(v) for p in preds)
        if key == "$ref":
            return self.ref(value)
        if key == "anyOf":
            alts = [self.node(s) for s in value]
            return lambda v: any(a(v) for a in alts)
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
        if key == "properties":
            return self.object(schema)
        if key in ("required", "additionalProperties"):
            return None if "properties" in schema else self.object(schema)
        raise Unsupported(f"keyword {key!r}")

    def object(self, schema: dict[str, Any]) -> Check:
        props = {k: self.node(s) for k, s in schema.get("properties", {}).items()}
        required = tuple(schema.get("required", ()))
        extra = schema.get("additionalProperties", True)
        rest: Check | None = (
            None if extra is True else (None if extra is False else self.node(extra))
        )
        closed = extra is False

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for key in required:
                if key not in v:
                    return False
            for key, item in v.items():
                sub = props.get(key)
                if not isinstance(key, str):
                    return False
                if sub is not None:
                    if not sub(item):
                        return False
                elif closed or (rest is not None and not rest(item)):
                    return False
            return True

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
