"""The two vocabularies of the persona object, in one place (DESIGN §3 "The current platform").

Tavus now calls personas PALs and replicas faces.  A few fields have a name in each
vocabulary; a file may use either, never both names of one field:

| personas (`/v2/personas`)  | PALs (`/v2/pals`)        | also accepted            |
|----------------------------|--------------------------|--------------------------|
| `persona_name`             | `pal_name`               |                          |
| `default_replica_id`       | `default_face_id`        |                          |
| `replica_interruptibility` | `face_interruptibility`  | `pal_interruptibility`   |

(the last under `layers.conversational_flow`),

and the server's own fields, which only responses carry: `persona_id`/`pal_id`,
`persona_type`/`pal_type`.

How the compiler uses it:
1. every layer's body (a base, a persona file, a variant, an environment's `overrides`)
   is brought to the personas vocabulary before layering (`canonical`), so a base may say
   `persona_name` and a file `pal_name`: the later layer wins, as for any field;
2. after rendering, the body is put in the environment's vocabulary (`localize`, for
   `api: pals` the PAL names), before validation; positions are kept throughout.
`personactl serve` and the local backend translate with the same table (`rename`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from personactl.compile.source import PMap
from personactl.errors import Loc, Problem
from personactl.kinds import Api

Parent = tuple[str, ...]


@dataclass(frozen=True)
class Field:
    parent: Parent  # the object holding it, e.g. ("layers", "conversational_flow")
    personas: str  # the name on /v2/personas (and personactl's canonical name)
    pals: str  # the name on /v2/pals
    others: tuple[str, ...] = ()  # more names the platform accepts

    def name(self, api: Api) -> str:
        return self.pals if api == "pals" else self.personas

    @property
    def names(self) -> tuple[str, ...]:
        return (self.personas, self.pals, *self.others)


FIELDS: tuple[Field, ...] = (
    Field((), "persona_name", "pal_name"),
    Field((), "default_replica_id", "default_face_id"),
    Field(
        ("layers", "conversational_flow"),
        "replica_interruptibility",
        "face_interruptibility",
        ("pal_interruptibility",),
    ),
)
# server-managed fields: in responses (and a JSON Patch's paths), never in files
SERVER_FIELDS: tuple[Field, ...] = (
    Field((), "persona_id", "pal_id"),
    Field((), "persona_type", "pal_type"),
)
# the objects on the way to a renamed field: nothing else is walked (or copied)
_PARENTS: frozenset[Parent] = frozenset(
    f.parent[:i] for f in FIELDS for i in range(len(f.parent) + 1)
)


def _fields_at(parent: Parent, fields: tuple[Field, ...]) -> list[Field]:
    return [f for f in fields if f.parent == parent]


def _renamed(key: str, parent: Parent, api: Api, fields: tuple[Field, ...]) -> str:
    for f in _fields_at(parent, fields):
        if key in f.names:
            return f.name(api)
    return key


def rename(tree: Any, api: Api, at: Parent = (), fields: tuple[Field, ...] = FIELDS) -> Any:
    """`tree` (the object at `at` in a persona) with every name of each field as `api`
    calls it; a copy where anything changes (else `tree` itself: shared subtrees stay
    shared), positions kept.  Of two names of one field in one object, the one already
    named for `api` wins (else the first)."""
    if not isinstance(tree, dict) or (at not in _PARENTS and not _fields_at(at, fields)):
        return tree
    out: dict[str, Any] = PMap(tree.loc) if isinstance(tree, PMap) else {}
    key_locs = getattr(tree, "key_locs", {})
    val_locs = getattr(tree, "val_locs", {})
    changed = False
    for key, value in tree.items():
        new = _renamed(key, at, api, fields)
        if new in out and new != key:
            changed = True
            continue  # the field is already there under the target name (or an earlier one)
        child = rename(value, api, (*at, key), fields)
        changed = changed or new != key or child is not value
        if isinstance(out, PMap):
            out.put(new, child, key_locs.get(key), val_locs.get(key))
        else:
            out[new] = child
    return out if changed else tree


def canonical(body: PMap) -> PMap:
    """A layer's body in the personas vocabulary (see the module docstring)."""
    result: PMap = rename(body, "personas")
    return result


def localize(body: Any, api: Api) -> Any:
    """A rendered body in the environment's vocabulary (`api:`)."""
    return body if api == "personas" else rename(body, api)


def as_api(resource: Any, api: Api) -> Any:
    """A whole persona object, server fields (`persona_id`...) included, as `api`'s
    endpoint has it: how `/v2/pals` answers from the one store, and what it stores."""
    return rename(resource, api, fields=(*FIELDS, *SERVER_FIELDS))


def pointer(path: str, api: Api) -> str:
    """A JSON Pointer into a persona with each field's name as `api` calls it."""
    if not path.startswith("/"):
        return path
    parts = path[1:].split("/")
    out: list[str] = []
    for part in parts:
        out.append(_renamed(part, tuple(out), api, (*FIELDS, *SERVER_FIELDS)))
    return "/" + "/".join(out)


def patch(ops: Any, api: Api) -> Any:
    """A JSON Patch with paths and values in `api`'s vocabulary (non-patches untouched)."""
    if not isinstance(ops, list):
        return ops
    out: list[Any] = []
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            out.append(op)
            continue
        path = pointer(op["path"], api)
        moved = {**op, "path": path}
        if isinstance(op.get("from"), str):
            moved["from"] = pointer(op["from"], api)
        if "value" in op:
            at = tuple(p for p in path[1:].split("/") if p) if path else ()
            moved["value"] = rename(op["value"], api, at)
        out.append(moved)
    return out


# ----------------------------------------------------------------------------- one file


def _uses(node: Any, parent: Parent) -> Iterator[tuple[Field, str, Loc | None]]:
    """(field, name, key location) for every name of a renamed field in one body."""
    if not isinstance(node, PMap):
        return
    for f in _fields_at(parent, FIELDS):
        for name in f.names:
            if name in node:
                yield f, name, node.key_locs.get(name)
    for key in node:
        if (*parent, key) in _PARENTS:
            yield from _uses(node[key], (*parent, key))


def check_bodies(bodies: list[Any], problems: list[Problem]) -> None:
    """One file's bodies (its body and its variants' bodies) use one name per field; the
    second name of a field, in file order, is the error."""
    seen: dict[Field, tuple[str, Loc | None]] = {}
    found = [use for body in bodies for use in _uses(body, ())]
    found.sort(key=lambda u: (u[2].line, u[2].col) if u[2] else (0, 0))
    for f, name, loc in found:
        first = seen.setdefault(f, (name, loc))
        if first[0] != name:
            where = f" (line {first[1].line})" if first[1] and first[1].line else ""
            problems.append(
                Problem(
                    loc,
                    f"'{name}' and '{first[0]}'{where} are two names of one field",
                    f"use one of them in a file: {f.personas} (personas) or {f.pals} (PALs); "
                    "personactl sends the name of the environment's api:",
                )
            )


def check_file(node: PMap, body_key: str, problems: list[Problem]) -> None:
    """`check_bodies` for a persona or base file: its body and every variant's."""
    bodies: list[Any] = [node.get(body_key)]
    variants = node.get("variants")
    if isinstance(variants, PMap):
        bodies += [v.get(body_key) for v in variants.values() if isinstance(v, PMap)]
    check_bodies(bodies, problems)


__all__ = [
    "FIELDS",
    "SERVER_FIELDS",
    "Field",
    "as_api",
    "canonical",
    "check_bodies",
    "check_file",
    "localize",
    "patch",
    "pointer",
    "rename",
]
