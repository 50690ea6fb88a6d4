"""Resource files -> compiled resources: resolve extends/variants/overrides, render, validate.

One compile for every kind (DESIGN §6): persona files under personas/, objective sets,
guardrails and tools under their folders share the envelope, the layering and the
rendering; what differs is the kind's folder, body key, schema and address prefix."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personactl import sensitive
from personactl.compile import variants
from personactl.compile.derived import without_derived
from personactl.compile.envelope import (
    RESOURCE_FILES,
    check_envelope,
    check_keys,
    expect_bool,
    expect_map,
)
from personactl.compile.layers import merge, merge_all
from personactl.compile.source import PList, PMap, load_file, locate
from personactl.compile.templating import RefCall, Renderer
from personactl.compile.vocabulary import canonical, check_bodies, check_file, localize
from personactl.errors import Loc, Problem
from personactl.kinds import Kind, KindName, split_address
from personactl.output import to_plain
from personactl.project import Environment, Project, walk


class CompiledResource:
    """One compiled resource.  `payload`: the Tavus body (a PMap with positions when
    freshly compiled); secrets and ref()s are placeholders (see personactl.sensitive,
    personactl.refs).  A cached one reads its body when first asked for it: `validate`
    after an edit needs the addresses of the other files' resources, not their bodies."""

    __slots__ = ("_encoded", "_load", "_payload", "address", "kind", "source")

    def __init__(
        self,
        address: str,
        source: str,
        payload: dict[str, Any] | Callable[[], dict[str, Any]],
        kind: KindName = "personas",
    ) -> None:
        self.address, self.source, self.kind = address, source, kind
        self._payload: dict[str, Any] | None = None if callable(payload) else payload
        self._load = payload if callable(payload) else None
        self._encoded: str | None = None

    @property
    def payload(self) -> dict[str, Any]:
        if self._payload is None:
            assert self._load is not None
            self._payload, self._load = self._load(), None
        return self._payload

    @property
    def encoded(self) -> str:
        """`payload` as json.dumps writes it, once: a plan finds its secrets and
        references in it, and a create is sent as it, filled in."""
        if self._encoded is None:
            self._encoded = json.dumps(self.payload)
        return self._encoded

    def masked(self) -> dict[str, Any]:
        return dict(sensitive.mask(self.payload))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompiledResource):
            return NotImplemented
        mine = (self.address, self.source, self.kind, self.payload)
        return mine == (other.address, other.source, other.kind, other.payload)

    __hash__ = None  # type: ignore[assignment]  # mutable payload, as the dataclass had

    def __repr__(self) -> str:
        return f"CompiledResource({self.address!r}, {self.source!r}, kind={self.kind!r})"


CompiledPersona = CompiledResource  # one of kind personas (preview, plan and apply use them)


@dataclass
class Layered:
    """A file's contribution after its own extends: variables and body (`persona`)."""

    vars: list[PMap] = field(default_factory=list)
    persona: PMap = field(default_factory=PMap)
    allow_unknown: bool = False


class SourceTree:
    """Loads repository files once per run and resolves `extends` chains with caching."""

    def __init__(
        self,
        project: Project,
        folder: Path,
        problems: list[Problem],
        body_key: str = "persona",
        *,
        vocabulary: bool = False,
    ) -> None:
        self.project = project
        self.folder = folder
        self.body_key = body_key
        # persona bodies: one name per renamed field in a file, layered in the canonical
        # vocabulary (personactl.compile.vocabulary)
        self.vocabulary = vocabulary
        self.problems = problems
        # the files read since the caller last reset it (a compile's inputs): a file
        # served from the memo below still counts, and replays its problems
        self.reads: set[Path] = set()
        self._files: dict[Path, tuple[PMap | None, list[Problem]]] = {}
        self._layered: dict[tuple[Path, bool], tuple[Layered, list[Problem], set[Path]]] = {}
        self._resolved_names: dict[str, Path] = {}

    def load(self, path: Path) -> PMap | None:
        """The file's mapping (None when unusable); its problems each time it is asked for,
        so that every file's compile reports all it depends on."""
        self.reads.add(path)
        if path not in self._files:
            start = len(self.problems)
            node = self._load(path)
            self._files[path] = (node, self.problems[start:])
        else:
            node, problems = self._files[path]
            self.problems.extend(problems)
        return node

    def _load(self, path: Path) -> PMap | None:
        if not self._readable(path):
            folder = self.project.shown(self.folder)
            self.problems.append(
                Problem(
                    Loc(self.project.shown(path), 1, 1),
                    f"not a file inside {folder}/ (a symlink out of it?); refused",
                    f"personactl reads only files inside {folder}/",
                )
            )
            return None
        data, problems = load_file(path, self.project.shown(path))
        self.problems.extend(problems)
        if problems and data is None:
            return None
        shown = Loc(self.project.shown(path), 1, 1)
        if data is None:  # nothing but comments or blank lines: one error, no cascade
            self.problems.append(Problem(shown, "file is empty"))
            return None
        if not isinstance(data, PMap):
            # nothing to compile: one error, not a cascade of "missing ..." ones
            self.problems.append(Problem(shown, "the file must be a mapping"))
            return None
        node = expect_map(data, shown, "the file", self.problems)
        if self.vocabulary:
            check_file(node or PMap(), self.body_key, self.problems)
        return node

    def _readable(self, path: Path) -> bool:
        # inside the folder once links are resolved, and not a FIFO or device (reads block)
        try:
            mode = path.stat().st_mode
        except (OSError, ValueError):  # missing: reading it says so
            mode = None
        special = mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
        return not special and self.project.confined(path, self.folder)

    def layered(
        self, path: Path, node: PMap, stack: tuple[Path, ...] = (), *, base: bool = False
    ) -> Layered:
        """Bases (in extends order) and then `node` itself, merged (once per file and role;
        later calls replay its problems and reads)."""
        memo = self._layered.get((path, base))
        if memo is not None:
            self.problems.extend(memo[1])
            self.reads.update(memo[2])
            return memo[0]
        start, outer = len(self.problems), self.reads
        self.reads = set()
        try:
            if base:
                self._check_base_keys(node)
            result = self._layer(path, node, stack)
        finally:
            reads, self.reads = self.reads, outer | self.reads
        self._layered[(path, base)] = (result, self.problems[start:], reads)
        return result

    def _layer(self, path: Path, node: PMap, stack: tuple[Path, ...]) -> Layered:
        result = Layered()
        for base in self._bases(path, node, stack):
            base_node = self.load(base)
            if base_node is None:
                continue
            inherited = self.layered(base, base_node, (*stack, path), base=True)
            result.vars.extend(inherited.vars)
            result.persona = merge(result.persona, inherited.persona)
            result.allow_unknown = result.allow_unknown or inherited.allow_unknown
        own_vars = expect_map(node.get("vars"), node.val_locs.get("vars"), "vars", self.problems)
        result.vars.append(own_vars)
        body = node.get(self.body_key)
        body_node = expect_map(body, node.val_locs.get(self.body_key), self.body_key, self.problems)
        result.persona = merge(result.persona, self._canonical(body_node))
        own_allow = expect_bool(node, "allow_unknown_keys", self.problems)
        result.allow_unknown = result.allow_unknown or own_allow
        return result

    def _canonical(self, body: PMap) -> PMap:
        return canonical(body) if self.vocabulary else body

    def _check_base_keys(self, node: PMap) -> None:
        allowed = ("extends", "vars", self.body_key, "allow_unknown_keys")
        others = PMap(node.loc)
        for key, value in node.items():
            if key in ("name", "persona", "variants", "inputs") and key not in allowed:
                # valid in a persona/conversation file, not in a base: no "did you mean"
                self.problems.append(
                    Problem(
                        node.key_locs.get(key, node.loc),
                        f"'{key}' is not allowed in a base file",
                        f"a base contributes {', '.join(allowed)}",
                    )
                )
            else:
                others.put(key, value, node.key_locs.get(key), None)
        check_keys(others, allowed, "a base file", self.problems)

    def bases(self, path: Path, node: PMap, stack: tuple[Path, ...] = ()) -> list[Path]:
        """The base files `node` (at `path`) extends, in order: what `layered` merges
        first (personactl.compile.explain walks the same chain)."""
        return self._bases(path, node, stack)

    def _resolved(self, name: str) -> Path:
        """`name` under the folder, symlinks resolved (once per run: many files share bases)."""
        found = self._resolved_names.get(name)
        if found is None:
            found = self._resolved_names[name] = (self.folder / name).resolve()
        return found

    def _bases(self, path: Path, node: PMap, stack: tuple[Path, ...]) -> list[Path]:
        raw = node.get("extends")
        if raw is None:
            return []
        items: list[tuple[Any, Loc | None]]
        if isinstance(raw, PList):
            items = list(zip(raw, raw.item_locs, strict=True))
        else:
            items = [(raw, node.val_locs.get("extends"))]
        root = self._resolved("")
        out = []
        for name, loc in items:
            if not isinstance(name, str):
                self.problems.append(Problem(loc, "extends takes file paths"))
                continue
            base = self._resolved(name)
            self.reads.add(base)  # looked for: creating a missing base changes the result
            rel = self.project.shown(self.folder)
            if not base.is_relative_to(root):
                self.problems.append(
                    Problem(
                        loc,
                        f"base '{name}' is outside {rel}/",
                        f"bases live under {rel}/, e.g. _bases/",
                    )
                )
            elif base == path or base in stack:
                chain = " -> ".join(self.project.shown(p) for p in (*stack, path, base))
                self.problems.append(Problem(loc, f"extends cycle: {chain}"))
            elif not base.is_file():
                self.problems.append(Problem(loc, f"base '{name}' not found in {rel}/"))
            else:
                out.append(base)
        return out


def source_files(folder: Path) -> list[Path]:
    """Files that define something (not bases): *.yaml, skipping names starting with '_'."""
    if not folder.is_dir():
        return []
    # what rglob("*.yaml") lists, by scandir: every command lists them
    return sorted(
        path
        for path, _entry in walk(folder, skip=lambda name: name.startswith("_"))
        if path.name.endswith(".yaml")
    )


_UNSAFE_CHAR = re.compile(r"[\x00-\x1f\\\x7f]")


def address_problem(address: str) -> str:
    """Why `address` cannot name a persona ("" if it can): it becomes a file name
    (`render --out DIR`), a state key and part of messages."""
    if _UNSAFE_CHAR.search(address):
        return "contains a control character or a backslash"
    if any(part in ("", ".", "..") for part in address.split("/")):
        return "has an empty, '.' or '..' path segment"
    return ""


def default_name(folder: Path, path: Path) -> str:
    return path.relative_to(folder).with_suffix("").as_posix()


def folder_of(project: Project, kind: Kind) -> Path:
    return project.root / kind.folder


@dataclass(frozen=True)
class Cut:
    """Where one target of a file starts in its FileResult: at problem `problem` and ref()
    call `ref`; `address` (None: it was dropped before rendering) reaches the repository's
    duplicate check after problem `rendered` (the rest up to the next cut is its render's),
    a duplicate reported at `loc`."""

    problem: int
    ref: int
    address: str | None = None
    loc: Loc | None = None
    rendered: int = 0


@dataclass
class FileResult:
    """One source file's compile, on its own: what the cache keeps per file
    (personactl.compile.incremental merges them in file order)."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    resources: dict[str, CompiledResource] = field(default_factory=dict)
    cuts: list[Cut] = field(default_factory=list)
    ref_calls: list[RefCall] = field(default_factory=list)
    inputs: set[Path] = field(default_factory=set)  # every file read, looked for or loaded
    env_reads: dict[str, str | None] = field(default_factory=dict)
    env_asked: dict[str, str | None] = field(default_factory=dict)  # name -> refused why
    secret_calls: set[str] = field(default_factory=set)

    def cut(self, address: str | None = None, loc: Loc | None = None) -> None:
        if address is None:
            self.cuts.append(Cut(len(self.problems), len(self.ref_calls)))
        else:  # the target being cut passed its own checks: mark where rendering starts
            last = self.cuts[-1]
            self.cuts[-1] = Cut(last.problem, last.ref, address, loc, len(self.problems))


def kind_prologue(env: Environment, kind: Kind, problems: list[Problem]) -> None:
    """Problems of a kind that belong to no file: the environment's overrides are persona
    fields (DESIGN §2)."""
    if kind.name == "personas":
        check_bodies([env.overrides], problems)


def compile_files(
    project: Project,
    env: Environment,
    kind: Kind,
    renderer: Renderer,
    files: list[Path],
    extra_vars: Mapping[str, Any] | None = None,
    secret_calls: set[str] | None = None,
) -> list[FileResult]:
    """Each file of `kind` compiled on its own (its duplicates with other files are the
    merge's to find); `extra_vars` (--var) beat every layer's vars; `secret_calls`: the
    secret() names of the files compiled before these."""
    persona = kind.name == "personas"
    # persona bodies layer in one vocabulary (compile/vocabulary.py), shown in the env's
    tree = SourceTree(
        project, folder_of(project, kind), [], body_key=kind.body_key, vocabulary=persona
    )
    overrides = canonical(env.overrides) if persona else PMap()
    ctx = _Context(project, env, kind, renderer, extra_vars, overrides)
    results: list[FileResult] = []
    secrets = set(secret_calls or ())
    for path in files:
        out = FileResult(path)
        results.append(out)
        tree.problems, tree.reads = out.problems, set()
        renderer.start_file(secrets)
        _compile_file(ctx, tree, path, out)
        out.ref_calls = list(renderer.ref_calls)
        out.inputs = tree.reads | renderer.template_paths()
        out.env_reads, out.env_asked = renderer.env_reads, renderer.env_asked
        out.secret_calls = renderer.secret_calls - secrets
        secrets |= out.secret_calls
    return results


@dataclass(frozen=True)
class _Context:
    project: Project
    env: Environment
    kind: Kind
    renderer: Renderer
    extra_vars: Mapping[str, Any] | None
    overrides: PMap  # the environment's, in the kind's vocabulary
    # a subtree without templates (a base's, shared by many personas) -> its literal
    # credentials, found once; the subtree is held so that its id stays its own
    literal_secrets: dict[tuple[int, frozenset[str]], tuple[Any, list[Problem]]] = field(
        default_factory=dict
    )


def _compile_file(ctx: _Context, tree: SourceTree, path: Path, out: FileResult) -> None:
    project, kind, problems = ctx.project, ctx.kind, out.problems
    folder = folder_of(project, kind)
    envelope = RESOURCE_FILES[kind.body_key]
    node = tree.load(path)
    if node is None:
        return
    check_envelope(node, envelope, problems)
    name = node.get("name", default_name(folder, path))
    if not isinstance(name, str) or not name:
        problems.append(Problem(node.val_locs.get("name"), "name must be a non-empty string"))
        return
    if bad := address_problem(name) or _prefix_problem(name):
        problems.append(Problem(node.val_locs.get("name", node.loc), f"name {name!r} {bad}"))
        return
    layered = tree.layered(path, node)
    name = kind.prefix() + name
    data = variants.data_path(project, node)
    if data is not None:
        tree.reads.add(data)  # an input like a base: an edited row recompiles the file
    variant_envelope = envelope.key("variants").entries
    assert variant_envelope is not None
    # the variables every target of the file starts from, layered once
    file_vars = merge_all([project.vars, ctx.env.vars, *layered.vars])
    for target in variants.targets(project, node, name, problems):
        address, variant = target.address, target.variant
        out.cut()
        check_envelope(variant, variant_envelope, problems)
        if bad := address_problem(address):
            problems.append(Problem(variant.loc, f"address {address!r} {bad}"))
            continue
        if address in out.resources:
            duplicate_address(address, node.loc, out.resources, problems)
            continue
        out.cut(address, node.loc)
        _compile_target(ctx, path, node, layered, file_vars, target, out)


def _compile_target(
    ctx: _Context,
    path: Path,
    node: PMap,
    layered: Layered,
    file_vars: PMap,
    target: variants.Target,
    out: FileResult,
) -> None:
    from personactl.schema import check_body  # loaded when a body is first checked

    project, env, kind, problems = ctx.project, ctx.env, ctx.kind, out.problems
    persona = kind.name == "personas"
    address, variant = target.address, target.variant
    variables = to_plain(merge_all([file_vars, *target.vars]) if target.vars else file_vars)
    variables.update(ctx.extra_vars or {})
    variables["personactl"] = {"address": address, "environment": env.name}
    own = variant.get(kind.body_key) or PMap()
    own = canonical(own) if persona else own
    body = merge(merge(layered.persona, own), ctx.overrides)
    rendered = ctx.renderer.render_tree(body, variables, problems, body.loc)
    rendered = localize(rendered, env.api) if persona else rendered
    _check_literal_secrets(rendered, problems, kind.name, ctx.literal_secrets)
    issues = check_body(kind.name, rendered, allow_unknown=layered.allow_unknown)
    for issue in without_derived(issues, rendered):
        loc = (
            variants.blame(target, body, issue.path)
            or locate(rendered, issue.path, key=issue.key)
            or node.loc
        )
        problems.append(Problem(loc, issue.message, issue.hint, issue.warning, (address,)))
    out.resources[address] = CompiledResource(address, project.shown(path), rendered, kind.name)


def _prefix_problem(name: str) -> str:
    """A name that would read as another kind's address (`tools:x` in personas/)."""
    kind, _path = split_address(name)
    if kind != "personas" or name.startswith("personas:"):
        return "starts with a kind's prefix; name it without ':'"
    return ""


def duplicate_address(
    address: str,
    loc: Loc | None,
    compiled: Mapping[str, CompiledResource],
    problems: list[Problem],
) -> None:
    what = "persona address" if split_address(address)[0] == "personas" else "address"
    problems.append(
        Problem(
            loc,
            f"duplicate {what} '{address}'",
            f"also defined in {compiled[address].source}",
        )
    )


_SecretsMemo = dict[tuple[int, frozenset[str]], tuple[Any, list[Problem]]]


def _check_literal_secrets(
    tree: Any, problems: list[Problem], kind: KindName, memo: _SecretsMemo
) -> None:
    """Credentials (per kind: schema.SECRET_FIELDS) that are not a secret() are errors."""
    from personactl.schema import SECRET_FIELDS  # once per resource, not once per node

    for where, keys in SECRET_FIELDS[kind]:
        node = tree
        for part in where:
            node = node.get(part) if isinstance(node, PMap) and isinstance(part, str) else None
        _literal_secrets(node, problems, keys, memo)


def _secret_or_template(value: str) -> bool:
    # a template left as written failed to render, and that failure is reported already
    return sensitive.contains(value) or "{{" in value or "{%" in value


def _literal_secrets(
    tree: Any, problems: list[Problem], keys: frozenset[str], memo: _SecretsMemo
) -> None:
    if isinstance(tree, (PMap, PList)) and tree.static:  # rendering returned it as it was
        found = memo.get((id(tree), keys))
        if found is None:
            found = (tree, [])
            _literal_walk(tree, found[1], keys, memo)
            memo[(id(tree), keys)] = found
        problems.extend(found[1])
    else:
        _literal_walk(tree, problems, keys, memo)


def _literal_walk(
    tree: Any, problems: list[Problem], keys: frozenset[str], memo: _SecretsMemo
) -> None:
    if isinstance(tree, PMap):
        for k, v in tree.items():
            if k in keys and isinstance(v, str) and v and not _secret_or_template(v):
                problems.append(
                    Problem(
                        tree.val_locs.get(k),
                        f"literal {k}: credentials must not be written in files",
                        f"use {k}: \"{{{{ secret('MY_{k.upper()}') }}}}\" "
                        f"and export MY_{k.upper()}",
                    )
                )
            elif isinstance(v, (PMap, PList)):
                _literal_secrets(v, problems, keys, memo)
    elif isinstance(tree, PList):
        for item in tree:
            if isinstance(item, (PMap, PList)):
                _literal_secrets(item, problems, keys, memo)
