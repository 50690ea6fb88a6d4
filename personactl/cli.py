"""The `personactl` command: a thin click layer over the library.

Each command parses options, makes one library call and returns an exit code.
`main` is the single error boundary: user errors are one line each on stderr
and exit 1; bugs exit 3 with a traceback worth reporting.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from personactl import __version__
from personactl.errors import Problem, UserError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Options:
    project_dir: Path | None = None
    env: str | None = None
    color: bool = True


def _set_project(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(Options).project_dir = value


def _set_env(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Options).env = value


def global_options(fn: F) -> F:
    """-C and --env are accepted before or after the command name."""
    fn = click.option(
        "-C",
        "--project",
        "project",
        type=click.Path(file_okay=False, path_type=Path),
        callback=_set_project,
        expose_value=False,
        is_eager=True,
        help="Project directory (default: walk up from the cwd).",
    )(fn)
    fn = click.option(
        "--env",
        "env",
        metavar="NAME",
        callback=_set_env,
        expose_value=False,
        is_eager=True,
        help="Environment (default: default_environment).",
    )(fn)
    return fn


def opts() -> Options:
    return click.get_current_context().ensure_object(Options)


def echo_problems(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(problem.format(), err=True)


def compiled(strict: bool = True) -> Any:
    from personactl.compilation import compile_project

    o = opts()
    result = compile_project(env_name=o.env, root=o.project_dir)
    echo_problems(result.warnings)
    if strict:
        result.raise_for_errors()
    return result


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--var {pair!r} is not KEY=VALUE")
        out[key.strip()] = value
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="personactl")
@global_options
@click.option("--no-color", is_flag=True, help="Plain output (also: NO_COLOR=1).")
@click.pass_context
def cli(ctx: click.Context, no_color: bool) -> None:
    """Persona configuration as code for Tavus CVI.

    Keep personas in git as layered YAML and Jinja; validate and compile them into
    Tavus API JSON, plan the changes against a deployed account, and apply them.
    """
    o = ctx.ensure_object(Options)
    o.color = not (no_color or os.environ.get("NO_COLOR") or not sys.stdout.isatty())


@cli.command()
@global_options
def validate() -> None:
    """Compile everything and report every problem as path:line:col: message."""
    from personactl import cache
    from personactl.errors import ConfigErrors
    from personactl.project import load_project

    project = load_project(opts().project_dir)
    env = project.environment(opts().env)
    key, summary = cache.load(project, env)
    if summary is None:
        from personactl.compilation import compile_project

        result = compile_project(project, env.name)
        summary = cache.Summary(
            [*result.warnings, *result.errors], len(result.personas), len(result.conversations)
        )
        cache.store(project, env, key, summary, result.renderer.env_reads)
    echo_problems([p for p in summary.problems if p.warning])
    errors = [p for p in summary.problems if not p.warning]
    if errors:
        raise ConfigErrors(errors)
    click.echo(
        f"{summary.personas} personas and {summary.conversations} conversation "
        "templates are valid.",
        err=True,
    )


@cli.command()
@global_options
@click.argument("addresses", nargs=-1)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per persona: DIR/<address>.json.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", show_default=True
)
def render(addresses: tuple[str, ...], out: Path | None, fmt: str) -> None:
    """Print compiled persona JSON (secrets shown as (sensitive))."""
    from personactl.render import render_personas

    render_personas(compiled(), list(addresses), out, fmt)


@cli.command()
@global_options
@click.argument("address")
@click.option(
    "--conversation",
    "conversation",
    metavar="NAME",
    help="Add this conversation template's conversational_context.",
)
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="KEY=VALUE",
    help="A conversation input (repeatable).",
)
@click.option(
    "--utterance", default="Hello!", show_default=True, help="The user's first utterance."
)
def preview(
    address: str, conversation: str | None, variables: tuple[str, ...], utterance: str
) -> None:
    """The chat-completions request a custom LLM receives on the first user turn."""
    from personactl.render import preview_request

    click.echo(
        preview_request(compiled(), address, conversation, parse_vars(variables), utterance),
        nl=False,
    )


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite the example files of an existing project.")
def init(directory: Path | None, force: bool) -> None:
    """Scaffold a working persona repository in DIR (default: the cwd)."""
    from personactl.scaffold import scaffold

    target = directory or Path.cwd()
    written = scaffold(target, force=force)
    click.echo(
        f"Created {len(written)} files in {target}. Next: cd {target} && "
        "personactl validate && personactl plan",
        err=True,
    )


@cli.command()
@global_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory (default: .personactl/schema under the project, or ./ outside one).",
)
def schema(out: Path | None) -> None:
    """Write JSON Schemas for persona files, conversation files and personactl.yaml."""
    from personactl.schema_files import write_schemas

    for path in write_schemas(out, opts().project_dir):
        click.echo(str(path))


def _deploy_context() -> tuple[Any, Any]:
    """Compiled configuration and an open backend for the selected environment."""
    from personactl.deploy import open_backend

    result = compiled()
    return result, open_backend(result.project, result.env)


def _emit_plan(plan: Any, fmt: str) -> None:
    from personactl import planformat

    if fmt == "json":
        click.echo(planformat.as_json(plan), nl=False)
    elif fmt == "markdown":
        click.echo(planformat.markdown(plan), nl=False)
    else:
        click.echo(planformat.text(plan, color=opts().color), nl=False)


target_option = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ADDRESS",
    help="Only these addresses (a file name selects all its variants).",
)
prune_option = click.option(
    "--prune", is_flag=True, help="Delete managed personas that left the configuration."
)


@cli.command()
@global_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the JSON plan to FILE (for `apply FILE`).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing changes, 2 when changes are pending.",
)
@target_option
@prune_option
def plan(
    out: Path | None, fmt: str, detailed_exitcode: bool, targets: tuple[str, ...], prune: bool
) -> None:
    """Show what apply would change in the deployed account."""
    from personactl.deploy import make_plan, state_for
    from personactl.output import write_atomic
    from personactl.planformat import as_json

    result, backend = _deploy_context()
    try:
        the_plan = make_plan(
            result, backend, state_for(result.project, result.env), targets=targets, prune=prune
        )
    finally:
        backend.close()
    _emit_plan(the_plan, fmt)
    if out is not None:
        write_atomic(out, as_json(the_plan))
        click.echo(f"Saved the plan to {out}; apply it with `personactl apply {out}`.", err=True)
    if detailed_exitcode and not the_plan.empty:
        raise click.exceptions.Exit(2)


@cli.command()
@global_options
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@target_option
@prune_option
@click.option("--allow-destroy", is_flag=True, help="Allow a plan that deletes many personas.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Concurrent API requests.",
)
def apply(
    planfile: Path | None,
    auto_approve: bool,
    targets: tuple[str, ...],
    prune: bool,
    allow_destroy: bool,
    parallelism: int,
) -> None:
    """Make the deployed account match the configuration (or exactly PLANFILE)."""
    from personactl import deploy
    from personactl.plan import ACTIONS
    from personactl.state import load_state, locked

    if planfile is not None and (targets or prune):
        raise UserError("--target and --prune belong to the plan; a saved plan is applied as is")
    o = opts()
    if planfile is not None:
        from personactl.project import load_project

        project = load_project(o.project_dir)
        env = project.environment(o.env)
        the_plan = deploy.load_saved_plan(planfile, env)
        backend = deploy.open_backend(project, env)
    else:
        result, backend = _deploy_context()
        project, env = result.project, result.env
    try:
        state_path = project.state_path(env)
        with locked(state_path, "apply"):
            state = load_state(state_path, env.name)
            if planfile is None:
                the_plan = deploy.make_plan(result, backend, state, targets=targets, prune=prune)
                _emit_plan(the_plan, "text")
                if the_plan.empty:
                    return
                deploy.check_destroy(the_plan, allow_destroy)
                if not auto_approve:
                    if not sys.stdin.isatty():
                        raise UserError(
                            "refusing to apply without confirmation: stdin is not a terminal",
                            hint="pass --auto-approve",
                        )
                    if not click.confirm("Apply these changes?"):
                        raise UserError("apply cancelled; nothing was changed")
            outcome = deploy.apply_plan(
                the_plan,
                backend,
                state,
                saved=planfile is not None,
                parallelism=parallelism,
                allow_destroy=allow_destroy,
                report=lambda line: click.echo(line, err=True),
            )
    finally:
        backend.close()
    for warning in outcome.warnings:
        click.echo(f"warning: {warning}", err=True)
    counts = {a: sum(1 for c in outcome.done if c.action == a) for a in ACTIONS}
    click.echo(
        f"Apply {'failed' if outcome.failed else 'complete'}: {counts['create']} created, "
        f"{counts['update']} updated, {counts['delete']} deleted, "
        f"{len(outcome.failed)} failed."
    )
    if outcome.failed:
        raise UserError(
            f"{len(outcome.failed)} change(s) failed: "
            + "; ".join(f"{c.address} ({why})" for c, why in outcome.failed),
            hint="successes are recorded in state; fix the cause and rerun apply",
        )


@cli.command(name="import")
@global_options
@click.argument("address")
@click.argument("persona_id")
def import_(address: str, persona_id: str) -> None:
    """Adopt an existing deployed persona into state as ADDRESS."""
    from personactl.deploy import import_persona

    result, backend = _deploy_context()
    try:
        import_persona(result, backend, address, persona_id)
    finally:
        backend.close()
    click.echo(
        f"Imported {persona_id} as {address}. Run `personactl plan` to see differences.", err=True
    )


@cli.group()
def state() -> None:
    """Inspect and repair state (address -> persona_id)."""


def _project_env() -> tuple[Any, Any]:
    from personactl.project import load_project

    project = load_project(opts().project_dir)
    return project, project.environment(opts().env)


@state.command(name="list")
@global_options
def state_list() -> None:
    """One line per managed persona: address, persona_id."""
    from personactl.deploy import state_for

    for address, resource in sorted(state_for(*_project_env()).resources.items()):
        click.echo(f"{address}\t{resource.persona_id}")


@state.command(name="show")
@global_options
@click.argument("address")
def state_show(address: str) -> None:
    """The state entry of ADDRESS as JSON (secrets as salted hashes)."""
    from personactl.deploy import state_for
    from personactl.keys import did_you_mean
    from personactl.output import to_json

    resources = state_for(*_project_env()).resources
    if address not in resources:
        raise UserError(f"{address} is not in state", hint=did_you_mean(address, resources))
    click.echo(to_json({"address": address, **resources[address].data()}), nl=False)


@state.command(name="rm")
@global_options
@click.argument("address")
def state_rm(address: str) -> None:
    """Forget ADDRESS (the deployed persona is left alone)."""
    from personactl import deploy

    deploy.state_edit(*_project_env(), "rm", lambda s: deploy.state_rm(s, address))
    click.echo(f"Removed {address} from state.", err=True)


@state.command(name="mv")
@global_options
@click.argument("old")
@click.argument("new")
def state_mv(old: str, new: str) -> None:
    """Rename an address, keeping its persona_id (after renaming a file)."""
    from personactl import deploy

    deploy.state_edit(*_project_env(), "mv", lambda s: deploy.state_mv(s, old, new))
    click.echo(f"Moved {old} to {new}.", err=True)


@state.command(name="unlock")
@global_options
def state_unlock() -> None:
    """Break a stale state lock."""
    from personactl.state import unlock

    project, env = _project_env()
    held = unlock(project.state_path(env))
    click.echo(f"Unlocked (was {held})." if held else "State was not locked.", err=True)


@cli.group()
def conversation() -> None:
    """Conversation payloads from conversations/*.yaml."""


var_option = click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="KEY=VALUE",
    help="An input value (repeatable), typed by the declared input.",
)


@conversation.command(name="render")
@global_options
@click.argument("name")
@var_option
def conversation_render(name: str, variables: tuple[str, ...]) -> None:
    """The POST /v2/conversations body for the environment."""
    from personactl import secrets
    from personactl.deploy import conversation_payload, state_for
    from personactl.output import to_json

    result = compiled()
    body = conversation_payload(
        result, name, parse_vars(variables), state_for(result.project, result.env)
    )
    click.echo(to_json(secrets.mask(body)), nl=False)


@conversation.command(name="create")
@global_options
@click.argument("name")
@var_option
def conversation_create(name: str, variables: tuple[str, ...]) -> None:
    """Start a conversation; print its conversation_id and conversation_url."""
    from personactl.apply import wire
    from personactl.deploy import conversation_payload, open_backend, state_for

    result = compiled()
    body = conversation_payload(
        result, name, parse_vars(variables), state_for(result.project, result.env)
    )
    backend = open_backend(result.project, result.env)
    try:
        created = backend.create_conversation(wire(body, backend, os.environ))
    finally:
        backend.close()
    click.echo(f"conversation_id: {created.get('conversation_id')}")
    click.echo(f"conversation_url: {created.get('conversation_url')}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8787, show_default=True)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file (default: .personactl/serve.db in the project or cwd).",
)
@click.option(
    "--api-key",
    envvar="PERSONACTL_SERVE_API_KEY",
    help="Require this x-api-key (also: PERSONACTL_SERVE_API_KEY).",
)
@click.option("--latency-ms", type=float, default=None, help="Fault injection: added latency.")
@click.option(
    "--rate-429",
    type=click.FloatRange(0, 1),
    default=None,
    help="Fault injection: share of requests answered 429 with Retry-After.",
)
@click.option(
    "--rate-5xx",
    type=click.FloatRange(0, 1),
    default=None,
    help="Fault injection: share of requests answered 5xx.",
)
@click.option("--seed", type=int, default=None, help="Seed of the fault injection's RNG.")
def serve(
    host: str,
    port: int,
    db: Path | None,
    api_key: str | None,
    latency_ms: float | None,
    rate_429: float | None,
    rate_5xx: float | None,
    seed: int | None,
) -> None:
    """A local Tavus-compatible API (personas, conversations) over SQLite."""
    from personactl import server

    if db is None:
        from personactl.project import WORKDIR, root_or_none

        db = (root_or_none() or Path.cwd()) / WORKDIR / "serve.db"
    faults = server.Faults.from_env()
    overrides = {"latency_ms": latency_ms, "rate_429": rate_429, "rate_5xx": rate_5xx, "seed": seed}
    faults = server.Faults.from_dict(
        {**faults.to_dict(), **{k: v for k, v in overrides.items() if v is not None}}
    )
    click.echo(f"Serving a Tavus-compatible API on http://{host}:{port} (db {db})", err=True)
    server.run(host=host, port=port, db_path=db, api_key=api_key, faults=faults)


# A compile allocates many small long-lived objects (YAML nodes, positions, payloads)
# and makes few reference cycles; with CPython's default gen-0 threshold (700) the
# cyclic GC runs thousands of times for nothing, ~20% of `validate` on 900 personas
# (benchmarks/compile.py).  mypy does the same.  Only ever raised, never lowered.
_GC_THRESHOLD = (50_000, 20, 20)


def _tune_gc() -> None:
    import gc

    if 0 < gc.get_threshold()[0] < _GC_THRESHOLD[0]:
        gc.set_threshold(*_GC_THRESHOLD)


def main(argv: list[str] | None = None) -> None:
    _tune_gc()
    try:
        # standalone_mode=False: a click Exit raised in a command (plan --detailed-exitcode)
        # is *returned* as its code, not raised
        code = cli.main(args=argv, prog_name="personactl", standalone_mode=False)
    except UserError as exc:
        echo_problems(exc.problems)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
