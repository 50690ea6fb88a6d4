"""Where each field of a compiled resource came from (`personactl explain`).

A compile keeps one position per value, the layer that won.  Explaining re-walks the
resource's layers in DESIGN §2 order (bases in extends order, the file, the variant, the
environment's overrides) with the same merge rules as personactl.compile.layers, and
records for every leaf each layer that set it: the last one set the compiled value, the
ones before it were overridden.  A templated string also names the templates it
includes and the variables it reads, each traced through the variable layers (project,
environment, bases, file, variant, --var, the `personactl` builtins) the same way.

Pointers are JSON Pointers into the compiled body as `render` prints it, in the
environment's vocabulary (`api: pals` names); layers are walked in the canonical one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2 import meta

from personactl import refs, sensitive
from personactl.compile import variants
from personactl.compile.compilation import Compilation
from personactl.compile.layers import merge
from personactl.compile.personas import SourceTree, default_name, folder_of
from personactl.compile.source import PList, PMap
from personactl.compile.templating import Renderer, is_template
from personactl.compile.vocabulary import canonical
from personactl.compile.vocabulary import pointer as api_pointer
from personactl.errors import Loc, UserError, did_you_mean
from personactl.kinds import kind_of
from personactl.output import to_plain
from personactl.project import Project

Role = Literal[
    "project",
    "environment",
    "base",
    "file",
    "data",
    "matrix",
    "variant",
    "overrides",
    "var",
    "builtin",
]
Path_ = tuple[str | int, ...]
_LONG = 60  # characters of a string value shown in text; the rest is counted


@dataclass(frozen=True)
class Setting:
    """One layer's value at a field (or of a variable), as written in that layer."""

    role: Role
    loc: Loc | None
    value: Any
    name: str = ""  # the variant's or the environment's name

    @property
    def label(self) -> str:
        return {
            "project": "project vars",
            "environment": f"vars of environment {self.name}",
            "base": "base",
            "file": "file",
            "data": f"row of {self.name}",
            "matrix": "matrix",
            "variant": f"variant {self.name}",
            "overrides": f"overrides of environment {self.name}",
            "var": "--var",
            "builtin": "builtin",
        }[self.role]


@dataclass(frozen=True)
class Variable:
    """A variable a template read: its value and the layers that set it, lowest first."""

    name: str
    value: Any
    settings: tuple[Setting, ...]


@dataclass(frozen=True)
class Template:
    templates: tuple[str, ...]  # files under templates/ included, imported or extended
    variables: tuple[Variable, ...]


@dataclass(frozen=True)
class Field:
    pointer: str
    value: Any  # as render shows it: secrets (sensitive), references resolved
    settings: tuple[Setting, ...]  # every layer that set it, lowest first: the last won
    template: Template | None = None

    @property
    def set_by(self) -> Setting | None:
        return self.settings[-1] if self.settings else None

    @property
    def overrode(self) -> tuple[Setting, ...]:
        return self.settings[:-1]


@dataclass(frozen=True)
class Explanation:
    address: str
    source: str
    fields: tuple[Field, ...]

    def at(self, pointer: str) -> Explanation:
        """Only the field (or the fields of the subtree) at `pointer`: a JSON Pointer, or
        the dotted form (`layers.llm.model`).  Unknown: a UserError with a did-you-mean."""
        wanted = parse_pointer(pointer)
        if not wanted:
            return self
        text = format_pointer(wanted)
        chosen = tuple(
            f for f in self.fields if f.pointer == text or f.pointer.startswith(text + "/")
        )
        if not chosen:
            known = {
                format_pointer(p[:i])
                for f in self.fields
                for p in [parse_pointer(f.pointer)]
                for i in range(1, len(p) + 1)
            }
            raise UserError(
                f"no field {text} in {self.address}",
                hint=did_you_mean(text, sorted(known))
                or f"`personactl render {self.address}` shows its fields",
            )
        return Explanation(self.address, self.source, chosen)


History = dict[Path_, list[Setting]]
# the settings a layer contributes at a leaf: (path, value, position) -> settings
Settings = Callable[[Path_, Any, "Loc | None"], list[Setting]]


def explain(
    compilation: Compilation,
    address: str,
    *,
    extra_vars: Mapping[str, Any] | None = None,
    ids: Mapping[str, str] | None = None,
) -> Explanation:
    """Every leaf field of the resource at `address` of `compilation`, with where it
    came from.  `extra_vars`:
    the --var the compile had; `ids`: deployed ids for ref() (else (known after apply))."""
    resource = compilation.resource(address)
    project, env = compilation.project, compilation.env
    kind = kind_of(resource.address, env.api)
    persona = kind.name == "personas"
    tree = SourceTree(project, folder_of(project, kind), [], kind.body_key, vocabulary=persona)
    path = project.root / resource.source
    node = tree.load(path) or PMap()
    name = kind.prefix() + str(node.get("name", default_name(tree.folder, path)))
    target = _target(project, node, name, resource.address)
    variant = target.variant
    variant_name = target.address.removeprefix(name).removeprefix("/")

    def body_of(layer: Any) -> PMap:
        found = layer.get(kind.body_key) if isinstance(layer, PMap) else None
        found = found if isinstance(found, PMap) else PMap()
        return canonical(found) if persona else found

    history: History = {}
    chain: list[tuple[Role, PMap]] = []
    merged = _layered(tree, path, node, (), history, chain, body_of)
    layers: list[tuple[PMap, Setting]] = []
    if variant_name:
        layers.append((body_of(variant), Setting("variant", None, None, variant_name)))
    if persona:  # the environment's overrides are persona fields (DESIGN §2)
        layers.append((canonical(env.overrides), Setting("overrides", None, None, env.name)))
    for body, who in layers:
        _record(history, merged, body, (), None, _plain(who))
        merged = merge(merged, body)

    # the variables' layers, lowest first, as compile_resources stacks them
    variables = _variables(
        [
            (project.vars, Setting("project", None, None)),
            (env.vars, Setting("environment", None, None, env.name)),
            *((n.get("vars"), Setting(role, None, None)) for role, n in chain),
            # a generated variant's row and matrix values, then its explicit vars
            *_variant_level(target, variant_name, node),
            (dict(extra_vars or {}), Setting("var", None, None)),
            (
                {"personactl": {"address": resource.address, "environment": env.name}},
                Setting("builtin", None, None),
            ),
        ]
    )
    renderer = compilation.renderer or Renderer(project.root, project.templates_dir)
    payload = refs.resolve(sensitive.mask(resource.payload), ids or {})
    fields = []
    for at, value in _leaves(payload, ()):
        origin = _origin(history, _canonical_path(at) if persona else at)
        raw = _get(merged, origin) if origin is not None else None
        template = None
        if isinstance(raw, str) and is_template(raw):
            template = _template(raw, renderer, project.shown, variables)
        settings = tuple(history.get(origin, ())) if origin is not None else ()
        fields.append(Field(format_pointer(at), value, settings, template))
    return Explanation(resource.address, resource.source, tuple(fields))


def _target(project: Project, node: PMap, name: str, address: str) -> variants.Target:
    """What the file `node` (resource `name`) compiles to at `address`."""
    for target in variants.targets(project, node, name, []):
        if target.address == address:
            return target
    return variants.Target(address, PMap(), ())


def _variant_level(target: variants.Target, name: str, node: PMap) -> list[tuple[Any, Setting]]:
    """The variables of a variant's level, each with who set it."""
    source = str(node.get("variants_from"))
    who = {
        "data": Setting("data", None, None, source),
        "matrix": Setting("matrix", None, None),
        "variant": Setting("variant", None, None, name),
    }
    return [(layer, who[s]) for layer, s in zip(target.vars, target.sources, strict=True)]


def _layered(
    tree: SourceTree,
    path: Path,
    node: PMap,
    stack: tuple[Path, ...],
    history: History,
    chain: list[tuple[Role, PMap]],
    body_of: Callable[[Any], PMap],
) -> PMap:
    """`SourceTree.layered`'s body for `path`, recording into `history` who set what, and
    appending each file merged (bases flattened in extends order, then `path`) to `chain`.

    A base's own chain merges first and lands as one value (as `layered` merges it), so
    an explicit null or `!append` acts within the chain it was written in."""
    merged = PMap()
    for base in tree.bases(path, node, stack):
        base_node = tree.load(base)
        if base_node is None:
            continue
        inner: History = {}
        base_body = _layered(tree, base, base_node, (*stack, path), inner, chain, body_of)
        _record(history, merged, base_body, (), None, _inherited(inner))
        merged = merge(merged, base_body)
    role: Role = "file" if not stack else "base"
    chain.append((role, node))
    body = body_of(node)
    _record(history, merged, body, (), None, _plain(Setting(role, None, None)))
    result: PMap = merge(merged, body)
    return result


def _inherited(inner: History) -> Settings:
    """A base's merged chain: at each leaf, what its own layers recorded there."""
    return lambda at, _value, _loc: list(inner.get(at, ()))


def _plain(who: Setting) -> Settings:
    """A written layer: one setting per leaf, at its position, with its value."""
    return lambda _at, value, loc: [Setting(who.role, loc, to_plain(value), who.name)]


def _record(
    history: History, before: Any, value: Any, at: Path_, loc: Loc | None, settings: Settings
) -> None:
    """Record the leaves `value` (a layer's value at `at`) sets on top of `before`,
    following personactl.compile.layers.merge."""
    if isinstance(value, dict) and isinstance(before, dict):  # mappings merge
        for key, item in value.items():
            here = (*at, key)
            if item is None:  # an explicit null removes the key
                _drop(history, here)
            else:
                _record(history, before.get(key), item, here, _val_loc(value, key), settings)
        return
    start = 0
    if isinstance(value, PList) and value.append_tag and isinstance(before, list):
        start = len(before)
        if value:
            history.pop(at, None)  # an empty inherited list is no longer a leaf
    else:  # anything else replaces the inherited value
        _drop(history, at, keep=not _branches(value))
    _fresh(history, value, at, loc, settings, start)


def _fresh(
    history: History, value: Any, at: Path_, loc: Loc | None, settings: Settings, start: int = 0
) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            if item is not None:
                _fresh(history, item, (*at, key), _val_loc(value, key), settings)
    elif isinstance(value, list) and value:
        locs = getattr(value, "item_locs", [None] * len(value))
        for i, (item, item_loc) in enumerate(zip(value, locs, strict=True)):
            _fresh(history, item, (*at, start + i), item_loc, settings)
    else:
        history.setdefault(at, []).extend(settings(at, value, loc))


def _branches(value: Any) -> bool:
    return isinstance(value, (dict, list)) and bool(value)


def _drop(history: History, at: Path_, *, keep: bool = False) -> None:
    """Forget what was set under `at` (and at `at` itself unless `keep`)."""
    n = len(at)
    for key in [k for k in history if k[:n] == at and (len(k) > n or not keep)]:
        del history[key]


def _val_loc(node: Any, key: str) -> Loc | None:
    return node.val_locs.get(key) if isinstance(node, PMap) else None


def _variables(layers: list[tuple[Any, Setting]]) -> dict[str, Variable]:
    """Each variable's final value and the layers that set it (top-level names; values
    merge as merge_all merges them)."""
    found: dict[str, list[Setting]] = {}
    values: Any = PMap()
    for layer, who in layers:
        if not isinstance(layer, dict):
            continue
        for key, value in layer.items():
            if value is None:
                found.pop(key, None)
            else:
                loc = _val_loc(layer, key)
                found.setdefault(key, []).append(Setting(who.role, loc, to_plain(value), who.name))
        values = merge(values, layer) if who.role not in ("var", "builtin") else {**values, **layer}
    plain = to_plain(values)
    return {k: Variable(k, plain.get(k), tuple(s)) for k, s in found.items()}


def _template(
    source: str, renderer: Renderer, shown: Callable[[Path], str], variables: Mapping[str, Variable]
) -> Template | None:
    """The templates `source` reaches (statically named includes, imports, extends) and
    the variables it and they read; None when it does not parse (validate says why)."""
    env = renderer.env
    try:
        asts = [env.parse(source)]
    except jinja2.TemplateError:
        return None
    files: dict[str, None] = {}
    pending = list(meta.find_referenced_templates(asts[0]))
    seen: set[str] = set()
    while pending:
        name = pending.pop(0)
        if name is None or name in seen:
            continue
        seen.add(name)
        try:
            text, filename, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
            parsed = env.parse(text, name, filename)
        except (jinja2.TemplateError, OSError):
            continue
        files[shown(Path(filename)) if filename else name] = None
        asts.append(parsed)
        pending.extend(meta.find_referenced_templates(parsed))
    read = set().union(*(meta.find_undeclared_variables(a) for a in asts))
    return Template(tuple(files), tuple(variables[n] for n in sorted(read) if n in variables))


def _leaves(value: Any, at: Path_) -> Iterator[tuple[Path_, Any]]:
    """Every leaf of a compiled body in render's order (keys sorted); empty mappings and
    lists are leaves."""
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _leaves(value[key], (*at, key))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from _leaves(item, (*at, i))
    else:
        yield at, value


def _canonical_path(at: Path_) -> Path_:
    """A path in the environment's vocabulary, in the canonical one (layers are walked in
    it)."""
    renamed = parse_pointer(api_pointer(format_pointer(at), "personas"))
    return tuple(p if isinstance(p, int) else r for p, r in zip(at, renamed, strict=True))


def _origin(history: History, at: Path_) -> Path_ | None:
    """The recorded path `at` came from: itself, or the deepest recorded ancestor (a
    template that renders to a list or mapping)."""
    for n in range(len(at), -1, -1):
        if at[:n] in history:
            return at[:n]
    return None


def _get(tree: Any, at: Path_) -> Any:
    for part in at:
        if isinstance(tree, dict) and isinstance(part, str):
            tree = tree.get(part)
        elif isinstance(tree, list) and isinstance(part, int) and part < len(tree):
            tree = tree[part]
        else:
            return None
    return tree


def parse_pointer(text: str) -> tuple[str, ...]:
    """A JSON Pointer (RFC 6901), or the dotted form `layers.llm.model`, as its parts."""
    text = text.strip()
    if text in ("", "/", "."):
        return ()
    if not text.startswith("/"):
        return tuple(text.split("."))
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in text[1:].split("/"))


def format_pointer(at: tuple[str | int, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in at)


# ----------------------------------------------------------------------------- output


def shown_value(value: Any) -> str:
    """A value on one line: JSON, long strings cut (with their length), (sensitive) and
    (known after apply) as render shows them."""
    if value in (sensitive.MASK, refs.KNOWN_AFTER_APPLY):
        return str(value)
    if isinstance(value, str) and len(value) > _LONG:
        return json.dumps(value[:_LONG], ensure_ascii=False)[:-1] + f'…" ({len(value)} chars)'
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _LONG + 2 else text[: _LONG + 2] + "…"


def _where(setting: Setting) -> str:
    return f"{setting.loc} ({setting.label})" if setting.loc else f"({setting.label})"


def as_text(explanation: Explanation) -> str:
    """One block per field:

    POINTER = VALUE
      set by   FILE:LINE:COL (LAYER)
      overrode FILE:LINE:COL (LAYER) VALUE     one line per layer overridden, lowest first
      template templates/NAME                 each template a templated string reaches
      var      NAME = VALUE from FILE:LINE:COL (LAYER)
        overrode FILE:LINE:COL (LAYER) VALUE
    """
    lines: list[str] = []
    for f in explanation.fields:
        lines.append(f"{f.pointer} = {shown_value(f.value)}")
        lines.append(f"  set by   {_where(f.set_by)}" if f.set_by else "  set by   (unknown)")
        lines.extend(f"  overrode {_where(s)} {shown_value(s.value)}" for s in f.overrode)
        if f.template is not None:
            lines.extend(f"  template {name}" for name in f.template.templates)
            for v in f.template.variables:
                lines.append(
                    f"  var      {v.name} = {shown_value(v.value)} from {_where(v.settings[-1])}"
                )
                lines.extend(
                    f"    overrode {_where(s)} {shown_value(s.value)}" for s in v.settings[:-1]
                )
    return "".join(sensitive.scrub(line) + "\n" for line in lines)


def _setting_json(setting: Setting, *, value: bool) -> dict[str, Any]:
    loc = setting.loc
    out: dict[str, Any] = {
        "role": setting.role,
        "file": loc.path if loc else None,
        "line": loc.line if loc else None,
        "col": loc.col if loc else None,
    }
    if value:
        out["value"] = setting.value
    return out


def as_json(explanation: Explanation) -> dict[str, Any]:
    """pointer -> {value, set_by: {role, file, line, col}, overrode: [{..., value}],
    template: {templates: [...], vars: {name: {value, set_by, overrode}}} (templated
    strings only)}."""
    out: dict[str, Any] = {}
    for f in explanation.fields:
        entry: dict[str, Any] = {
            "value": f.value,
            "set_by": _setting_json(f.set_by, value=False) if f.set_by else None,
            "overrode": [_setting_json(s, value=True) for s in f.overrode],
        }
        if f.template is not None:
            entry["template"] = {
                "templates": list(f.template.templates),
                "vars": {
                    v.name: {
                        "value": v.value,
                        "set_by": _setting_json(v.settings[-1], value=False),
                        "overrode": [_setting_json(s, value=True) for s in v.settings[:-1]],
                    }
                    for v in f.template.variables
                },
            }
        out[f.pointer] = entry
    return out


__all__ = [
    "Explanation",
    "Field",
    "Setting",
    "Template",
    "Variable",
    "as_json",
    "as_text",
    "explain",
    "format_pointer",
    "parse_pointer",
    "shown_value",
]
