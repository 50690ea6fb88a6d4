"""The one place that reads YAML: C parser, source positions, strict keys.

Mappings and sequences come back as `PMap` / `PList`: plain dict / list subclasses
that also carry the `Loc` of every key and value, so a problem found many stages
later (after merging bases and variants, after Jinja) still points at the file,
line and column the value came from.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from pathlib import Path
from typing import Any, Literal

import yaml

from personactl.errors import Loc, Problem

try:  # libyaml's parser is several times faster; fall back to the pure-Python one
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

APPEND_TAG = "!append"
# Upper bound on values after alias expansion: a "billion laughs" document is
# refused before anything is built, whatever its size on disk.
MAX_EXPANDED_NODES = 1_000_000
# Deeper documents are refused where they nest too deep: merging, rendering and
# validation recurse, and no persona needs more than a dozen levels.
MAX_DEPTH = 64
# A persona file is a few kB; parsing takes about 0.5 s per MB, so a bound on the size
# is what keeps a huge file from stalling CI (it is refused before it is read).
MAX_FILE_BYTES = 5 * 1024 * 1024
_TAG = "tag:yaml.org,2002:"
ScalarKind = Literal["null", "bool", "int", "float"]
# YAML 1.2 core schema (DESIGN §3 "YAML scalars"), not PyYAML's YAML 1.1: `yes`, `on`,
# `1_000`, `1:30` and dates are strings; booleans take any case, as the design says.
_CORE: dict[ScalarKind, re.Pattern[str]] = {
    "null": re.compile(r"null|Null|NULL|~|"),
    "bool": re.compile(r"(?i:true|false)"),
    "int": re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"),
    "float": re.compile(
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    ),
}
BOOL_HINT = "write true or false; yes, no, on and off are strings in YAML 1.2"


def core_scalar(kind: ScalarKind, text: str) -> Any:
    """The value of a null/bool/int/float scalar under the YAML 1.2 core schema.

    Raises ValueError for text that is not one (an explicit `!!int 1_000`), and for
    NaN and infinities, which JSON (the API's format) cannot carry."""
    if not _CORE[kind].fullmatch(text):
        raise ValueError(text)
    if kind == "null":
        return None
    if kind == "bool":
        return text.lower() == "true"
    if kind == "int":
        base = {"0o": 8, "0x": 16}.get(text[:2], 10)
        return int(text[2:] if base != 10 else text, base)
    value = float(text.replace("inf", "Inf").replace("INF", "Inf"))
    if not math.isfinite(value):
        raise ValueError(text)
    return value


# the four patterns in one, tried in _CORE's order (the first that matches in full wins)
_ANY_CORE = re.compile("|".join(f"(?P<{kind}>{p.pattern})" for kind, p in _CORE.items()))
# plain scalar text -> its tag: keys and short values repeat across files
_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_MAX = 65_536
_PLAIN_TAGS_TEXT = 64  # longer texts are resolved each time


def _core_kind(text: str) -> ScalarKind | None:
    found = _ANY_CORE.fullmatch(text)
    return found.lastgroup if found else None  # type: ignore[return-value]


class PMap(dict[str, Any]):
    """A mapping that remembers where each key and value was written."""

    __slots__ = ("loc", "key_locs", "val_locs", "static", "layered")

    def __init__(self, loc: Loc | None = None) -> None:
        super().__init__()
        self.loc = loc
        self.static: bool | None = None  # no template inside (see templating); set once
        self.layered: bool | None = None  # layering leaves it as is (see layers); set once
        self.key_locs: dict[str, Loc] = {}
        self.val_locs: dict[str, Loc] = {}

    def put(self, key: str, value: Any, key_loc: Loc | None, val_loc: Loc | None) -> None:
        self[key] = value
        if key_loc is not None:
            self.key_locs[key] = key_loc
        if val_loc is not None:
            self.val_locs[key] = val_loc


class PList(list[Any]):
    """A sequence that remembers where each item was written; `append_tag` marks `!append`."""

    __slots__ = ("loc", "item_locs", "append_tag", "static")

    def __init__(self, loc: Loc | None = None, append_tag: bool = False) -> None:
        super().__init__()
        self.loc = loc
        self.static: bool | None = None
        self.item_locs: list[Loc | None] = []
        self.append_tag = append_tag

    def add(self, value: Any, loc: Loc | None) -> None:
        self.append(value)
        self.item_locs.append(loc)


def _loc(path: str, node: yaml.Node) -> Loc:
    mark = node.start_mark
    block = type(node) is yaml.ScalarNode and node.style in _BLOCK_STYLES
    return Loc(path, mark.line + 1, mark.column + 1, block)


_BLOCK_STYLES = frozenset(("|", ">"))


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int], depth: int = 0) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _Refused("recursive YAML alias", node)
    if depth > MAX_DEPTH:
        raise _Refused(_DEPTH_MESSAGE, node)
    active.add(key)
    size = 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            size += _expanded_size(k, memo, active, depth + 1)
            size += _expanded_size(v, memo, active, depth + 1)
            if size > MAX_EXPANDED_NODES:
                break
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, memo, active, depth + 1)
            if size > MAX_EXPANDED_NODES:
                break
    active.discard(key)
    memo[key] = size
    return size


class _Loader(_BaseLoader):
    """libyaml's composer with YAML 1.2 core resolution of untagged plain scalars."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0] and value != "<<":  # << stays a merge key
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                tag = _TAG + (_core_kind(value) or "str")
                if len(value) <= _PLAIN_TAGS_TEXT and len(_PLAIN_TAGS) < _PLAIN_TAGS_MAX:
                    _PLAIN_TAGS[value] = tag
            return tag
        if not self.yaml_path_resolvers:  # what the base resolver answers, without its walk
            if kind is yaml.MappingNode:
                return _TAG + "map"
            if kind is yaml.SequenceNode:
                return _TAG + "seq"
        other: str = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        return other


_DEPTH_MESSAGE = f"YAML nested deeper than {MAX_DEPTH} levels; refused"


class _Refused(Exception):
    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.node = node


class _Builder:
    """Turns composed nodes into PMap/PList/scalars, collecting every problem."""

    def __init__(self, path: str, loader: Any) -> None:
        self.path = path
        self.loader = loader
        self.problems: list[Problem] = []

    def scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag == _TAG + "str":
            return node.value
        kind = tag.removeprefix(_TAG)
        if kind in _CORE:  # implicit, or an explicit !!int etc.
            try:
                return core_scalar(kind, node.value)
            except ValueError:
                self.problems.append(self._invalid(tag, node))
                return node.value
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self.problems.append(Problem(_loc(self.path, node), str(exc.problem)))
            return node.value
        except (ValueError, TypeError, KeyError, AttributeError):  # PyYAML's own constructors
            self.problems.append(self._invalid(tag, node))
            return node.value
        if isinstance(value, (_dt.date, _dt.datetime)):
            return value.isoformat()  # JSON has no dates; keep what was written
        if isinstance(value, bytes):
            return node.value
        return value

    def _invalid(self, tag: str, node: yaml.ScalarNode) -> Problem:
        loc = _loc(self.path, node)
        short = "!!" + tag.rsplit(":", 1)[-1]
        if tag == _TAG + "float" and _core_kind(node.value) == "float":
            return Problem(
                loc,
                f"{node.value} is not a finite number; JSON cannot carry it",
                "write a finite number, or quote it for a string",
            )
        hint = BOOL_HINT if tag == _TAG + "bool" else ""
        return Problem(loc, f"invalid {short} value {node.value!r}", hint)

    def build(self, node: yaml.Node, loc: Loc | None = None, depth: int = 0) -> Any:
        """`loc`: the node's own position when the caller has it already."""
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if loc is None:
            loc = _loc(self.path, node)
        if depth >= MAX_DEPTH:
            raise _Refused(_DEPTH_MESSAGE, node)
        if isinstance(node, yaml.SequenceNode):
            return self._sequence(node, loc, depth)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc, depth)
        raise AssertionError(f"unknown YAML node {node!r}")  # pragma: no cover

    def _sequence(self, node: yaml.SequenceNode, loc: Loc, depth: int) -> PList:
        if node.tag not in ("tag:yaml.org,2002:seq", APPEND_TAG):
            self.problems.append(Problem(loc, f"unsupported YAML tag {node.tag}"))
        seq = PList(loc, append_tag=node.tag == APPEND_TAG)
        for item in node.value:
            item_loc = _loc(self.path, item)
            seq.add(self.build(item, item_loc, depth + 1), item_loc)
        return seq

    def _mapping(self, node: yaml.MappingNode, loc: Loc, depth: int) -> PMap:
        if node.tag != "tag:yaml.org,2002:map":
            self.problems.append(Problem(loc, f"unsupported YAML tag {node.tag}"))
        out = PMap(loc)
        for key_node, value_node in node.value:
            key_loc = _loc(self.path, key_node)
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(
                    Problem(
                        key_loc,
                        "YAML merge keys (<<) are not supported",
                        "use extends: or an anchor on the whole value",
                    )
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Problem(key_loc, "mapping keys must be plain strings"))
                continue
            key = key_node.value  # keys stay as written: `on:` or `yes:` are not booleans
            if key in out:
                first = out.key_locs.get(key)
                where = f" (first defined at line {first.line})" if first else ""
                self.problems.append(Problem(key_loc, f"duplicate key '{key}'{where}"))
                continue
            val_loc = _loc(self.path, value_node)
            out[key] = self.build(value_node, val_loc, depth + 1)  # PMap.put, inlined: per node
            out.key_locs[key] = key_loc
            out.val_locs[key] = val_loc
        return out


def _may_expand(text: str) -> bool:
    """Whether the expanded-size walk can refuse `text`.

    Only aliases (`*name`) make a document expand beyond its nodes, and without them
    every node costs at least half a character of text (an empty value still needs
    its `:`, `-`, `?` or `,`), so a short alias-free document is always under the
    bound: skipping the walk then changes nothing, and saves ~10% of a load.
    """
    return "*" in text or len(text) >= MAX_EXPANDED_NODES // 4


def _indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _indent_hint(exc: yaml.MarkedYAMLError, text: str) -> str:
    """Most YAML errors in hand-written files are indentation: say which lines disagree."""
    mark, context, problem = exc.problem_mark, exc.context_mark, str(exc.problem)
    if mark is None:
        return ""
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    if line[_indentation(line) :].startswith("\t"):
        return "YAML indents with spaces, not tabs"
    misplaced = "expected <block end>" in problem or "expected key" in problem
    if misplaced and context is not None and mark.line != context.line:
        return (
            f"check the indentation: line {mark.line + 1} is indented {_indentation(line)} "
            f"spaces, which matches no key above it (the mapping at line {context.line + 1} "
            f"is indented {context.column})"
        )
    if "mapping values are not allowed" not in problem:
        return ""
    if ":" in line[: mark.column]:  # `key: a: b`: the value holds ": "
        return "quote a value that contains ': '"
    above = [t for t in lines[: mark.line] if t.strip() and not t.lstrip().startswith("#")]
    if above and _indentation(line) > _indentation(above[-1]):
        return (
            f"check the indentation: line {mark.line + 1} is indented more than the key "
            "above it, which already has a value on its line"
        )
    return ""


def load_text(text: str, path: str) -> tuple[Any, list[Problem]]:
    """Parse one YAML document; `path` is how the file is named in messages."""
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            loc = Loc(path, mark.line + 1, mark.column + 1) if mark else Loc(path, 1, 1)
            message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
            return None, [Problem(loc, f"invalid YAML: {message}", _indent_hint(exc, text))]
        except yaml.reader.ReaderError as exc:  # no mark: a position in the text
            before = text[: exc.position]
            where = Loc(path, before.count("\n") + 1, len(before) - before.rfind("\n"))
            char = exc.character if isinstance(exc.character, int) else ord(exc.character)
            return None, [Problem(where, f"invalid YAML: character #x{char:04x}: {exc.reason}")]
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return None, [Problem(Loc(path, 1, 1), f"invalid YAML: {first}")]
        if node is None:
            return None, []
        try:
            size = _expanded_size(node, {}, set()) if _may_expand(text) else 0
        except _Refused as exc:
            return None, [Problem(_loc(path, exc.node), str(exc))]
        if size > MAX_EXPANDED_NODES:
            if "*" not in text:  # big, not a bomb: say so
                message = f"more than {MAX_EXPANDED_NODES:,} YAML values; refused"
                return None, [Problem(_loc(path, node), message, "split the file")]
            return None, [
                Problem(
                    _loc(path, node),
                    f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values; refused",
                    "this looks like an alias bomb",
                )
            ]
        builder = _Builder(path, loader)
        try:
            return builder.build(node), builder.problems
        except _Refused as exc:
            return None, [Problem(_loc(path, exc.node), str(exc))]
    finally:
        loader.dispose()


def load_file(file: Path, shown_as: str) -> tuple[Any, list[Problem]]:
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [
                Problem(
                    Loc(shown_as, 1, 1),
                    f"file is {size / 2**20:.1f} MB; personactl reads YAML files of up to "
                    f"{MAX_FILE_BYTES // 2**20} MB",
                    "split it into bases and personas",
                )
            ]
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, [Problem(Loc(shown_as, 1, 1), "file is not valid UTF-8")]
    except OSError as exc:
        return None, [Problem(Loc(shown_as, 1, 1), f"cannot read file: {exc.strerror}")]
    return load_text(text, shown_as)


def locate(tree: Any, path: tuple[str | int, ...], *, key: bool = False) -> Loc | None:
    """The most precise known position for `path` inside `tree` (deepest ancestor found)."""
    best: Loc | None = getattr(tree, "loc", None)
    node = tree
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, PMap) and isinstance(part, str) and part in node:
            locs = node.key_locs if (key and last) else node.val_locs
            best = locs.get(part, best)
            node = node[part]
        elif isinstance(node, PList) and isinstance(part, int) and 0 <= part < len(node):
            best = node.item_locs[part] or best
            node = node[part]
        else:
            break
    return best
