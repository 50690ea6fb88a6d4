"""The compile half as one call: project + environment -> personas, conversations, problems."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personactl.compile import parallel as fanout
from personactl.compile.conversations import (
    ConversationTemplate,
    bind_inputs,
    load_conversations,
    render_body,
)
from personactl.compile.personas import CompiledPersona
from personactl.compile.templating import Renderer
from personactl.errors import ConfigErrors, Problem, UserError, did_you_mean
from personactl.project import Environment, Project, load_project


@dataclass
class Compilation:
    project: Project
    env: Environment
    renderer: Renderer | None  # None when personas came from the cache (personas only)
    personas: dict[str, CompiledPersona]
    conversations: dict[str, ConversationTemplate]
    problems: list[Problem]

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

    def persona(self, address: str) -> CompiledPersona:
        found = self.personas.get(address)
        if found is None:
            raise UserError(
                f"no persona '{address}' in this repository",
                hint=did_you_mean(address, self.personas)
                or "run `personactl render` to list addresses",
            )
        return found

    def masked(self, addresses: list[str]) -> dict[str, dict[str, Any]]:
        """The compiled personas at `addresses` (all when empty), secrets as (sensitive)."""
        chosen = addresses or sorted(self.personas)
        return {a: self.persona(a).masked() for a in chosen}

    def conversation_body(self, name: str, raw: Mapping[str, str]) -> dict[str, Any]:
        """The rendered conversation body (without persona_id), errors raised."""
        template = self.conversation(name)
        values = bind_inputs(template, dict(raw))
        problems: list[Problem] = []
        assert self.renderer is not None, "conversations need a full compile"
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


def compile_project(
    project: Project | None = None,
    env_name: str | None = None,
    *,
    root: Path | None = None,
    extra_vars: Mapping[str, Any] | None = None,
) -> Compilation:
    """Compile every persona and check every conversation template; never raises for config.

    `extra_vars` (preview's --var) override every persona's variables."""
    project = project or load_project(root)
    env = project.environment(env_name)
    problems: list[Problem] = []
    renderer = Renderer(project.root, project.templates_dir, project.secret_env_names)
    personas = fanout.compile_all(project, env, renderer, problems, extra_vars)
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
    return Compilation(project, env, renderer, personas, conversations, problems)


def compile_cached(project: Project, env_name: str | None = None) -> Compilation:
    """Like compile_project, but an unchanged repository's personas come from
    .personactl/cache (see personactl.compile.cache): for plan/apply/import, which need
    only the compiled personas.  Such a result has no conversations."""
    from personactl.compile import cache

    env = project.environment(env_name)
    key, summary = cache.load(project, env)
    if summary is not None and not any(not p.warning for p in summary.problems):
        cached = cache.load_personas(project, env, key)
        if cached is not None:
            personas = {
                address: CompiledPersona(address, entry["source"], entry["payload"])
                for address, entry in cached.items()
            }
            return Compilation(project, env, None, personas, {}, list(summary.problems))
    result = compile_project(project, env.name)
    remember(result, key)
    return result


def remember(result: Compilation, key: str) -> None:
    """Store a full compile in the cache under `key` (from personactl.compile.cache.load)."""
    from personactl.compile import cache

    summary = cache.Summary(
        [*result.warnings, *result.errors], len(result.personas), len(result.conversations)
    )
    personas = None
    if not result.errors:
        personas = {
            a: {"source": p.source, "payload": p.payload} for a, p in result.personas.items()
        }
    reads = result.renderer.env_reads if result.renderer else {}
    cache.store(result.project, result.env, key, summary, reads, personas)
