"""The deploy half as library calls: backends, state stores, plan, apply, import.

`apply` is the whole operation (plan or load a saved plan, check it, take the
lock, execute, record, read back, release); the CLI only parses options and
prints.  Library callers get the same lock as `personactl apply`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from personactl import sensitive
from personactl.compile.compilation import Compilation, compile_cached
from personactl.deploy.backends.base import Backend
from personactl.deploy.execute import (
    Outcome,
    Report,
    check_fresh,
    execute,
    kinds_in,
    live_by_id,
    read_back,
)
from personactl.deploy.plan import Plan, build_plan, matches_target
from personactl.deploy.state import Resource, State, StateStore, now
from personactl.digests import digest
from personactl.errors import ConfigErrors, Loc, Problem, UserError, did_you_mean
from personactl.kinds import Api, kind_of
from personactl.project import Environment, Project

# Deleting more than this many managed resources *and* more than this share needs
# --allow-destroy.
DESTROY_MIN = 3
DESTROY_SHARE = 0.2


def open_backend(
    project: Project, env: Environment, on_retry: Callable[[str], None] | None = None
) -> Backend:
    """The environment's backend; `on_retry` hears of each retry and its wait as it starts."""
    if env.backend == "local":
        from personactl.deploy.backends.local import LocalBackend

        return LocalBackend(project.workdir / "local.db")
    from personactl.deploy.backends.tavus import TavusBackend

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
    backend = TavusBackend(env.api_url, key, api_key_env=env.api_key_env)
    if on_retry is not None:
        backend.on_retry = on_retry
    return backend


def open_state(
    project: Project, env: Environment, environ: Mapping[str, str] | None = None
) -> StateStore:
    """The environment's state store: its file, or the PostgreSQL database its
    `dsn_env` names (the connection string is read here and never shown)."""
    if env.state.backend == "postgres":
        from personactl.deploy.state.postgres import PostgresStore

        dsn_env = env.state.dsn_env
        dsn = (os.environ if environ is None else environ).get(dsn_env)
        if not dsn:
            raise UserError(
                f"environment variable {dsn_env} is not set",
                hint=f"export the PostgreSQL connection string of the state of "
                f"environment '{env.name}' as {dsn_env}",
            )
        return PostgresStore(dsn, env.name, dsn_env, env.api)
    from personactl.deploy.state.file import FileStore

    path = project.state_path(env)
    return FileStore(
        path, env.name, project.shown(path), env.api, project.command(env, "state unlock")
    )


# how close a set variable's name must be to a missing secret's to be suggested: a
# misspelling (CUSTOM_LLM_APIKEY), not another key with the same suffix (TTS_API_KEY)
_NEAR_NAME = 0.85


def _require_secrets(
    uses: Mapping[str, Iterable[str]],
    environ: Mapping[str, str],
    locate: Callable[[], Mapping[str, Loc]] | None = None,
    on_name: Callable[[str], None] | None = None,
) -> set[str]:
    """One line per secret not set or not sendable, naming the resources that need it
    (`uses`: address -> the secrets its payload calls), at the string that calls secret()
    (`locate`: name -> position, asked only on error).  Returns the names of every secret
    used; `on_name` hears each usable one as soon as it is first found."""
    users: dict[str, list[str]] = {}
    used: set[str] = set()
    for address, names in uses.items():
        for name in names:
            if sensitive.unusable(name, environ):
                users.setdefault(name, []).append(address)
            elif on_name is not None and name not in used:
                on_name(name)
            used.add(name)
    locs = locate() if users and locate is not None else {}
    problems = []
    for name, needed_by in sorted(users.items()):
        shown = ", ".join(needed_by[:3]) + (
            f" and {len(needed_by) - 3} more" if len(needed_by) > 3 else ""
        )
        why, hint = sensitive.unusable(name, environ) or ("", "")
        if name not in environ and (near := did_you_mean(name, environ, cutoff=_NEAR_NAME)):
            hint = f"{near} It is set; otherwise {hint}"
        problems.append(Problem(locs.get(name), f"secret {name} {why} (used by {shown})", hint))
    if problems:
        raise ConfigErrors(problems)
    return used


@contextmanager
def _digest_ahead(state: State, environ: Mapping[str, str]) -> Iterator[Callable[[str], None]]:
    """A function that starts deriving a secret's digest (one scrypt, tens of ms, which
    releases the GIL) on a thread of its own, as soon as the secret is found: the plan
    then finds it memoised, its derivation hidden behind the scan for secrets and the
    listing of the API.  Only against an empty state: with digests in state, the plan
    first verifies against theirs and keeps their salt (a digest made ahead would be a
    second derivation).  Leaving the block waits for the derivations begun."""
    if state.resources:
        yield lambda _name: None
        return
    with ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="personactl-digest") as pool:

        def start(name: str) -> None:
            pool.submit(digest, environ[name])

        yield start


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
    known = (*comp.resources, *state.resources)
    for target in targets:
        if not any(matches_target(a, [target]) for a in known):
            raise UserError(
                f"--target {target}: no such address", hint=did_you_mean(target, comp.resources)
            )
    uses = {a: sensitive.names_in_json(r.encoded) for a, r in comp.resources.items()}
    with _digest_ahead(state, environ) as ahead:
        _require_secrets(uses, environ, comp.secret_locs, on_name=ahead)
        live = live_by_id(backend, kinds_in(known, comp.env.api), state)
        plan = build_plan(
            environment=comp.env.name,
            backend=comp.env.backend,
            desired=comp.resources,
            state=state,
            live=live,
            environ=environ,
            targets=targets,
            prune=prune,
        )
    # the compile's warnings travel with the plan (the Markdown plan shows them in PR comments)
    command = comp.project.command(comp.env, "").rstrip()
    return replace(plan, warnings=[p.format() for p in comp.warnings], command=command)


def check_destroy(plan: Plan, allow_destroy: bool) -> None:
    deletes = plan.summary()["delete"]
    if (
        not allow_destroy
        and deletes > DESTROY_MIN
        and deletes > DESTROY_SHARE * max(plan.managed, 1)
    ):
        raise UserError(
            f"plan deletes {deletes} of {plan.managed} managed resources; refused",
            hint="check for a mistyped --target or renamed files; "
            "pass --allow-destroy if this is intended",
        )


def load_saved_plan(path: Path, project: Project, env: Environment) -> Plan:
    from personactl.deploy.planfile import load_plan

    plan = load_plan(path)
    if plan.environment != env.name:
        raise UserError(
            f"{path} was planned for environment '{plan.environment}', not '{env.name}'",
            hint=f"pass --env {plan.environment}",
        )
    if plan.api != env.api:
        raise UserError(
            f"{path} was planned for api: {plan.api}; environment '{env.name}' now has "
            f"api: {env.api}",
            hint=f"make a new plan with `{project.command(env, 'plan --out FILE')}`; "
            "nothing was changed",
        )
    return plan


@dataclass(frozen=True)
class Applied:
    plan: Plan
    outcome: Outcome


def apply(
    project: Project,
    env_name: str | None = None,
    *,
    planfile: Path | None = None,
    targets: Iterable[str] = (),
    prune: bool = False,
    allow_destroy: bool = False,
    parallelism: int = 8,
    confirm: Callable[[Plan], bool] | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    on_warnings: Callable[[list[Problem]], None] | None = None,
    on_start: Callable[[Plan], None] | None = None,
    report: Report | None = None,
    on_retry: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
    discard_drafts: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Applied:
    """Plan (or load `planfile`), check, lock, execute, record, read back, release.

    `confirm` is asked once the plan is shown (None: approved); answering False
    cancels with nothing changed.  `on_start` hears the plan about to be executed,
    `report` each change as it finishes, `on_retry` each retry.  Setting `stop` starts
    no new change (see `execute`).  Configuration and API errors raise UserError."""
    targets = list(targets)
    if planfile is not None and (targets or prune):
        raise UserError("--target and --prune belong to the plan; a saved plan is applied as is")
    environ = os.environ if environ is None else environ
    env = project.environment(env_name)
    comp: Compilation | None = None
    saved: Plan | None = None
    if planfile is not None:
        saved = load_saved_plan(planfile, project, env)
    else:
        comp = compile_cached(project, env.name)
        if on_warnings is not None:
            on_warnings(comp.warnings)
        comp.raise_for_errors()
    store = open_state(project, env, environ)
    backend = open_backend(project, env, on_retry)
    try:
        with store.lock("apply"):
            state = store.load()
            if saved is not None:
                plan = saved
                if on_start is not None:
                    on_start(plan)
                _require_secrets(
                    {c.address: sensitive.names([c.body, c.ops]) for c in plan.changes}, environ
                )
                check_destroy(plan, allow_destroy)
                kinds = kinds_in((c.address for c in plan.changes), env.api)
                live = live_by_id(backend, kinds, state)
                check_fresh(plan, state, live, environ, project.command(env, "plan"))
            else:
                assert comp is not None
                plan = make_plan(
                    comp, backend, state, targets=targets, prune=prune, environ=environ
                )
                if on_plan is not None:
                    on_plan(plan)
                if plan.empty:
                    return Applied(plan, Outcome())
                check_destroy(plan, allow_destroy)
                if confirm is not None and not confirm(plan):
                    raise UserError("apply cancelled; nothing was changed")
                if on_start is not None:
                    on_start(plan)
            recorder = store.recorder(state)
            try:
                outcome = execute(
                    plan,
                    backend,
                    recorder,
                    environ,
                    parallelism=parallelism,
                    report=report,
                    stop=stop,
                    discard_drafts=discard_drafts,
                )
                if not outcome.interrupted:  # stop soon: the read-back waits for the next run
                    read_back(outcome, backend, state)
            finally:
                # One state save, after the read-back recorded fingerprints; until it is on
                # disk the journal holds every success, and an interrupted read-back still saves.
                recorder.close()
    finally:
        backend.close()
    return Applied(plan, outcome)


def import_resource(comp: Compilation, backend: Backend, address: str, rid: str) -> None:
    comp.persona(address)  # must exist in configuration
    kind = kind_of(address, comp.env.api)
    store = open_state(comp.project, comp.env)
    with store.lock("import"):
        state = store.load()
        if address in state.resources:
            raise UserError(
                f"{address} is already managed as {state.resources[address].id}",
                hint=f"`{comp.project.command(comp.env, f'state rm {address}')}` it first",
            )
        owner = state.by_id().get(rid)
        if owner:
            raise UserError(f"{rid} is already managed as {owner}")
        found = backend.get(kind, rid)
        if found is None:
            raise UserError(f"persona {rid} does not exist in environment '{comp.env.name}'")
        if kind.type_field and found.get(kind.type_field) == "system":
            raise UserError(f"{rid} is a system persona of the platform; it cannot be managed")
        state.resources[address] = Resource(rid, {}, "", now())
        store.save(state)


def state_edit(
    project: Project, env: Environment, operation: str, edit: Callable[[State], None]
) -> None:
    store = open_state(project, env)
    with store.lock(f"state {operation}"):
        state = store.load()
        edit(state)
        store.save(state)


def read_state_file(path: Path, environment: str, api: Api = "personas") -> State:
    """A state file as `state pull` prints it, checked as every store checks a state."""
    import json

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return State.from_data(raw, environment, api)
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not a state file ({exc.reason})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(
            f"{path}: not a state of environment '{environment}' ({exc})",
            hint="push what `personactl state pull` printed for this environment",
        ) from None


def push_refusal(current: State, pushed: State) -> str:
    """Why `pushed` may not replace `current` without --force ("" when it may), as
    Terraform refuses: a state of another lineage, or an older serial of the same."""
    if current.empty and not current.lineage:
        return ""  # nothing there to lose
    if pushed.lineage != current.lineage:
        return (
            f"it holds a state of another lineage ({current.lineage or 'none'}; "
            f"the file's is {pushed.lineage or 'none'})"
        )
    if pushed.serial < current.serial:
        return f"it holds serial {current.serial}, newer than the file's {pushed.serial}"
    return ""


def state_push(project: Project, env: Environment, pushed: State, *, force: bool) -> str:
    """Replace the environment's state with `pushed`, under the lock; where it went."""
    store = open_state(project, env)
    with store.lock("state push"):
        current = store.load()
        refusal = push_refusal(current, pushed)
        if refusal and not force:
            raise UserError(
                f"{store.where}: push refused: {refusal}",
                hint="check --env and the file; --force replaces the state it holds",
            )
        # the lineage travels with the state; the serial stays above both
        pushed.serial = max(pushed.serial, current.serial)
        store.save(pushed)
    return store.where


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
    """The POST /v2/conversations body with persona_id from the environment's state
    (`persona_id` with `api: pals` too: /v2/conversations is not aliased)."""
    template = comp.conversation(name)
    body = comp.conversation_body(name, raw_vars)
    resource = state.resources.get(template.persona)
    if resource is None:
        raise UserError(
            f"persona {template.persona} is not deployed in environment '{comp.env.name}'",
            loc=template.persona_loc,
            hint=f"run `{comp.project.command(comp.env, 'apply')}` first",
        )
    return {**body, "persona_id": resource.id}


__all__ = [
    "Applied",
    "apply",
    "conversation_payload",
    "import_resource",
    "make_plan",
    "open_backend",
    "open_state",
    "push_refusal",
    "read_state_file",
    "state_edit",
    "state_mv",
    "state_push",
    "state_rm",
]
