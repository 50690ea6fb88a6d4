"""The compile half as one call: project + environment -> resources of every kind
(personas, objectives, guardrails, tools), conversations, problems."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from personactl import refs, sensitive
from personactl.compile import incremental, references
from personactl.compile.conversations import (
    ConversationTemplate,
    bind_inputs,
    load_conversations,
    render_body,
)
from personactl.compile.entries import DamagedCache
from personactl.compile.personas import CompiledPersona, CompiledResource
from personactl.compile.source import PList, PMap
from personactl.compile.templating import Renderer
from personactl.errors import ConfigErrors, Loc, Problem, UserError, did_you_mean
from personactl.kinds import KIND_NAMES, KindName, canonical, split_address
from personactl.project import Environment, Project, load_project

# how messages name one resource of a kind
KIND_WORDS: dict[KindName, str] = {
    "personas": "persona",
    "objectives": "objective set",
    "guardrails": "guardrail",
    "tools": "tool",
}


@dataclass
class Compilation:
    project: Project
    env: Environment
    renderer: Renderer | None  # None when resources came from the cache (no conversations)
    resources: dict[str, CompiledResource]  # every kind, by address
    conversations: dict[str, ConversationTemplate]
    problems: list[Problem]

    @cached_property
    def personas(self) -> dict[str, CompiledPersona]:
        return {a: r for a, r in self.resources.items() if r.kind == "personas"}

    @property
    def errors(self) -> list[Problem]:
        # dict.fromkeys: a base shared by several personas reports each problem once
        return list(dict.fromkeys(p for p in self.problems if not p.warning))

    @property
    def warnings(self) -> list[Problem]:
        return list(dict.fromkeys(p for p in self.problems if p.warning))

    def raise_for_errors(self) -> None:
        if self.errors:
            raise ConfigErrors(self.errors)

    def resource(self, address: str) -> CompiledResource:
        """The compiled resource at `address` (any kind; `personas:` is optional)."""
        found = self.resources.get(canonical(address))
        if found is None:
            raise UserError(
                f"no {KIND_WORDS[split_address(address)[0]]} '{address}' in this repository",
                hint=did_you_mean(address, self.resources) or references.LIST_HINT,
            )
        return found

    def persona(self, address: str) -> CompiledPersona:
        found = self.resource(address)
        if found.kind != "personas":
            raise UserError(f"{address} is not a persona", hint=references.LIST_HINT)
        return found

    def masked(self, addresses: list[str]) -> dict[str, dict[str, Any]]:
        """The compiled resources at `addresses` (all when empty), secrets as (sensitive);
        references stay placeholders (`personactl.refs.resolve` shows them)."""
        chosen = addresses or sorted(self.resources)
        return {a: self.resource(a).masked() for a in chosen}

    def summary(self) -> Any:
        """What `validate` reports (a personactl.compile.cache.Summary)."""
        from personactl.compile import cache

        counts: dict[str, int] = {}
        for kind in KIND_NAMES[1:]:
            n = sum(1 for r in self.resources.values() if r.kind == kind)
            if n:
                counts[kind] = n
        return cache.Summary(
            [*self.warnings, *self.errors], len(self.personas), len(self.conversations), counts
        )

    def secret_locs(self) -> dict[str, Loc]:
        """Secret name -> the first position of a string calling secret() with it (a
        cached compile has no positions: the repository is compiled again for them)."""
        source = self if self.renderer is not None else compile_project(self.project, self.env.name)
        found: dict[str, Loc] = {}
        for resource in source.resources.values():
            _secret_locs(resource.payload, None, found)
        return found

    def references(self, address: str) -> set[str]:
        """The addresses the resource at `address` references with ref()."""
        return refs.targets(self.resource(address).payload)

    def conversation_body(self, name: str, raw: Mapping[str, str]) -> dict[str, Any]:
        """The rendered conversation body (without persona_id), errors raised."""
        template = self.conversation(name)
        values = bind_inputs(template, dict(raw))
        problems: list[Problem] = []
        assert self.renderer is not None, "conversations need a full compile"
        self.renderer.var_option = True  # conversation render/create take --var
        body = render_body(template, values, self.renderer, problems)
        errors = [p for p in problems if not p.warning]
        if errors:
            raise ConfigErrors(errors)
        return dict(body)

    def conversation(self, name: str) -> ConversationTemplate:
        found = self.conversations.get(name)
        if found is None:
            raise UserError(
                f"no conversation '{name}' in "
                f"{self.project.shown(self.project.conversations_dir)}/",
                hint=did_you_mean(name, self.conversations) or "",
            )
        return found


def _secret_locs(value: Any, loc: Loc | None, found: dict[str, Loc]) -> None:
    if isinstance(value, str):
        if loc is not None:
            for name in sensitive.names(value):
                found[name] = min(found.get(name, loc), loc)
    elif isinstance(value, PMap):
        for key, item in value.items():
            _secret_locs(item, value.val_locs.get(key), found)
    elif isinstance(value, PList):
        for item, item_loc in zip(value, value.item_locs, strict=True):
            _secret_locs(item, item_loc, found)


def compile_project(
    project: Project | None = None,
    env_name: str | None = None,
    *,
    root: Path | None = None,
    extra_vars: Mapping[str, Any] | None = None,
    cached: bool = False,
) -> Compilation:
    """Compile every resource and check every conversation template and every ref();
    never raises for config.

    `extra_vars` (preview's --var) override every resource's variables.  `cached`: files
    whose inputs are unchanged come from .personactl/cache (personactl.compile.incremental;
    their payloads are then plain data, without positions); never with `extra_vars`."""
    project = project or load_project(root)
    env = project.environment(env_name)
    problems: list[Problem] = []
    renderer = Renderer(project.root, project.templates_dir, project.secret_env_names)
    renderer.var_option = extra_vars is not None
    resources = incremental.compile_all(project, env, renderer, problems, extra_vars, cached=cached)
    personas = {a: r for a, r in resources.items() if r.kind == "personas"}
    conversations = load_conversations(project, env, problems)
    for template in conversations.values():
        if template.persona and template.persona not in personas:
            problems.append(
                Problem(
                    template.persona_loc,
                    f"persona '{template.persona}' is not defined",
                    did_you_mean(template.persona, personas),
                )
            )
        try:
            values = bind_inputs(template, {}, sample=True)
        except ConfigErrors as exc:
            problems.extend(exc.problems)
            continue
        render_body(template, values, renderer, problems)
    references.check(resources, renderer.ref_calls, problems)
    return Compilation(project, env, renderer, resources, conversations, problems)


def compile_cached(project: Project, env_name: str | None = None) -> Compilation:
    """Like compile_project, but unchanged files come from .personactl/cache (see
    personactl.compile.incremental): for plan/apply/import, which need only the compiled
    resources.  When nothing changed and there are no errors, the result has no
    conversations (nor a renderer): nothing but the cache is read."""
    from personactl.compile import cache

    env = project.environment(env_name)
    key, summary = cache.load(project, env)
    if summary is not None and not any(not p.warning for p in summary.problems):
        try:
            resources = incremental.from_cache(project, env)
            if resources is not None:
                _read_bodies(resources)
                return Compilation(project, env, None, resources, {}, list(summary.problems))
        except DamagedCache:
            pass  # compile_incremental drops it
    result = compile_incremental(project, env.name, bodies=True)
    remember(result, key)
    return result


def compile_incremental(project: Project, env_name: str, *, bodies: bool) -> Compilation:
    """compile_project with the per-file cache; `bodies`: read every cached body now
    (plan and apply read them all anyway).  A cache edited by hand, found when its
    bodies are read, is dropped and the compile runs again."""
    from personactl.compile import cache

    try:
        result = compile_project(project, env_name, cached=True)
        if bodies:
            _read_bodies(result.resources)
    except DamagedCache:
        cache.forget_files(project, project.environment(env_name))
        result = compile_project(project, env_name, cached=True)
    return result


def _read_bodies(resources: Mapping[str, CompiledResource]) -> None:
    for resource in resources.values():
        _ = resource.payload


def remember(result: Compilation, key: str) -> None:
    """Store a compile's summary in the cache under `key` (from
    personactl.compile.cache.load)."""
    from personactl.compile import cache

    reads = result.renderer.env_reads if result.renderer else {}
    cache.store(result.project, result.env, key, result.summary(), reads)
