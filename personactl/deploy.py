"""The deploy half as library calls: backends, plan, apply, import, state, conversations."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from personactl import secrets
from personactl.apply import Outcome, check_fresh, execute, live_by_id
from personactl.backends.base import Backend
from personactl.compilation import Compilation
from personactl.errors import ConfigErrors, LockHeld, Problem, UserError
from personactl.keys import did_you_mean
from personactl.plan import Plan, build_plan, load_plan
from personactl.project import Environment, Project
from personactl.render import conversation_body
from personactl.state import Resource, State, load_state, locked, now

# Deleting more than this many managed personas *and* more than this share needs --allow-destroy.
DESTROY_MIN = 3
DESTROY_SHARE = 0.2


def open_backend(project: Project, env: Environment) -> Backend:
    if env.backend == "local":
        from personactl.backends.local import LocalBackend

        return LocalBackend(project.workdir / "local.db")
    from personactl.backends.tavus import TavusBackend

    key = os.environ.get(env.api_key_env)
    if not key:
        raise UserError(
            f"environment variable {env.api_key_env} is not set",
            hint=f"export your Tavus API key as {env.api_key_env} (environment '{env.name}')",
        )
    if not (key.isascii() and key.isprintable()):
        # an HTTP header carries ASCII only; the value itself is never shown
        raise UserError(
            f"environment variable {env.api_key_env} holds non-ASCII or control characters",
            hint="an API key is printable ASCII: check for a stray character or line break",
        )
    return TavusBackend(env.api_url, key, api_key_env=env.api_key_env)


def state_for(project: Project, env: Environment) -> State:
    return load_state(project.state_path(env), env.name)


def _require_secrets(
    comp: Compilation, addresses: Iterable[str], environ: Mapping[str, str]
) -> None:
    """One line per missing secret, naming the personas that need it."""
    users: dict[str, list[str]] = {}
    for address in addresses:
        for name in secrets.names(comp.personas[address].payload):
            if name not in environ:
                users.setdefault(name, []).append(address)
    problems = []
    for name, needed_by in sorted(users.items()):
        shown = ", ".join(needed_by[:3]) + (
            f" and {len(needed_by) - 3} more" if len(needed_by) > 3 else ""
        )
        problems.append(
            Problem(
                None,
                f"secret {name} is not set (used by {shown})",
                f"export {name}=... (plan and apply need secret values)",
            )
        )
    if problems:
        raise ConfigErrors(problems)


def make_plan(
    comp: Compilation,
    backend: Backend,
    state: State,
    *,
    targets: Iterable[str] = (),
    prune: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Plan:
    environ = os.environ if environ is None else environ
    targets = list(targets)
    for target in targets:
        if not any(
            a == target or a.startswith(target.rstrip("/") + "/")
            for a in (*comp.personas, *state.resources)
        ):
            raise UserError(
                f"--target {target}: no such address", hint=did_you_mean(target, comp.personas)
            )
    _require_secrets(comp, comp.personas, environ)
    return build_plan(
        environment=comp.env.name,
        backend=comp.env.backend,
        personas=comp.personas,
        state=state,
        live=live_by_id(backend),
        environ=environ,
        targets=targets,
        prune=prune,
    )


def check_destroy(plan: Plan, allow_destroy: bool) -> None:
    deletes = plan.summary()["delete"]
    if (
        not allow_destroy
        and deletes > DESTROY_MIN
        and deletes > DESTROY_SHARE * max(plan.managed, 1)
    ):
        raise UserError(
            f"plan deletes {deletes} of {plan.managed} managed personas; refused",
            hint="check for a mistyped --target or renamed files; "
            "pass --allow-destroy if this is intended",
        )


def apply_plan(
    plan: Plan,
    backend: Backend,
    state: State,
    *,
    saved: bool,
    parallelism: int,
    allow_destroy: bool,
    report: Callable[[str], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Outcome:
    environ = os.environ if environ is None else environ
    check_destroy(plan, allow_destroy)
    if saved:
        check_fresh(plan, state, live_by_id(backend), environ)
    return execute(plan, backend, state, environ, parallelism=parallelism, report=report)


def load_saved_plan(path: Path, env: Environment) -> Plan:
    plan = load_plan(path)
    if plan.environment != env.name:
        raise UserError(
            f"{path} was planned for environment '{plan.environment}', not '{env.name}'",
            hint=f"pass --env {plan.environment}",
        )
    return plan


def import_persona(comp: Compilation, backend: Backend, address: str, persona_id: str) -> None:
    comp.persona(address)  # must exist in configuration
    state_path = comp.project.state_path(comp.env)
    with locked(state_path, "import"):
        state = load_state(state_path, comp.env.name)
        if address in state.resources:
            raise UserError(
                f"{address} is already managed as {state.resources[address].persona_id}",
                hint="`personactl state rm` it first",
            )
        owner = state.by_persona_id().get(persona_id)
        if owner:
            raise UserError(f"{persona_id} is already managed as {owner}")
        if backend.get_persona(persona_id) is None:
            raise UserError(f"persona {persona_id} does not exist in environment '{comp.env.name}'")
        state.resources[address] = Resource(persona_id, {}, "", now())
        state.save()


def state_edit(
    project: Project, env: Environment, operation: str, edit: Callable[[State], None]
) -> None:
    path = project.state_path(env)
    with locked(path, f"state {operation}"):
        state = load_state(path, env.name)
        edit(state)
        state.save()


def state_rm(state: State, address: str) -> None:
    if state.resources.pop(address, None) is None:
        raise UserError(f"{address} is not in state", hint=did_you_mean(address, state.resources))


def state_mv(state: State, old: str, new: str) -> None:
    if old not in state.resources:
        raise UserError(f"{old} is not in state", hint=did_you_mean(old, state.resources))
    if new in state.resources:
        raise UserError(f"{new} is already in state")
    state.resources[new] = state.resources.pop(old)


def conversation_payload(
    comp: Compilation, name: str, raw_vars: dict[str, str], state: State
) -> dict[str, Any]:
    """The POST /v2/conversations body with persona_id from the environment's state."""
    template = comp.conversation(name)
    body = conversation_body(comp, name, raw_vars)
    resource = state.resources.get(template.persona)
    if resource is None:
        raise UserError(
            f"persona {template.persona} is not deployed in environment '{comp.env.name}'",
            loc=template.persona_loc,
            hint="run `personactl apply` first",
        )
    return {**body, "persona_id": resource.persona_id}


__all__ = [
    "LockHeld",
    "apply_plan",
    "conversation_payload",
    "import_persona",
    "make_plan",
    "open_backend",
    "state_edit",
    "state_for",
    "state_mv",
    "state_rm",
]
