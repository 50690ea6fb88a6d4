"""Deploy commands: plan, apply, import."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from personactl.cli._app import cli, echo_problems, global_options, opts
from personactl.errors import UserError


def _deploy_context() -> tuple[Any, Any]:
    """Compiled configuration and an open backend for the selected environment."""
    from personactl.compilation import compile_cached
    from personactl.project import load_project

    result = compile_cached(load_project(opts().project_dir), opts().env)
    echo_problems(result.warnings)
    result.raise_for_errors()
    return result, _open_backend(result.project, result.env)


def _open_backend(project: Any, env: Any) -> Any:
    """The environment's backend, saying on stderr when and how long it waits to retry."""
    from personactl import secrets
    from personactl.backends.tavus import TavusBackend
    from personactl.deploy import open_backend

    backend = open_backend(project, env)
    if isinstance(backend, TavusBackend):
        backend.on_retry = lambda line: click.echo(secrets.scrub(line), err=True)
    return backend


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
    from personactl import deploy, secrets
    from personactl.interrupts import EXIT_CODE
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
        backend = _open_backend(project, env)
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
            outcome = _execute(the_plan, backend, state, planfile, parallelism, allow_destroy)
    finally:
        backend.close()
    for warning in outcome.warnings:
        click.echo(secrets.scrub(f"warning: {warning}"), err=True)
    counts = {a: sum(1 for c in outcome.done if c.action == a) for a in ACTIONS}
    done = (
        f"{counts['create']} created, {counts['update']} updated, {counts['delete']} deleted, "
        f"{len(outcome.failed)} failed"
    )
    if outcome.interrupted:
        _report_interrupted(outcome, done)
        raise click.exceptions.Exit(EXIT_CODE)
    click.echo(f"Apply {'failed' if outcome.failed else 'complete'}: {done}.")
    if outcome.failed:
        raise UserError(
            f"{len(outcome.failed)} change(s) failed: "
            + "; ".join(f"{c.address} ({why})" for c, why in outcome.failed),
            hint="successes are recorded in state; fix the cause and rerun apply",
        )


def _execute(
    plan: Any,
    backend: Any,
    state: Any,
    planfile: Path | None,
    parallelism: int,
    allow_destroy: bool,
) -> Any:
    """apply_plan with progress on stderr and graceful Ctrl-C (personactl.interrupts)."""
    from personactl import deploy
    from personactl.backends.tavus import TavusBackend
    from personactl.interrupts import graceful
    from personactl.progress import Progress

    progress = Progress(len(plan.changes))
    if isinstance(backend, TavusBackend):
        backend.on_retry = progress.retry
    try:
        with graceful(progress.note) as interrupts:
            return deploy.apply_plan(
                plan,
                backend,
                state,
                saved=planfile is not None,
                parallelism=parallelism,
                allow_destroy=allow_destroy,
                report=progress.change,
                stop=interrupts.stop,
            )
    finally:
        progress.close()


def _report_interrupted(outcome: Any, done: str) -> None:
    """What was done (stdout, as the summary) and what was not (stderr)."""
    rest = [f"{len(outcome.not_started)} not started"]
    if outcome.abandoned:
        rest.insert(0, f"{len(outcome.abandoned)} abandoned in flight")
    click.echo(f"Apply interrupted: {done}; {', '.join(rest)}.")
    if outcome.abandoned:
        click.echo(
            "Abandoned in flight (the next apply finds any that happened): "
            + ", ".join(f"{c.action} {c.address}" for c in outcome.abandoned),
            err=True,
        )
    if outcome.not_started:
        click.echo(
            "Not started (run apply again to finish): "
            + ", ".join(f"{c.action} {c.address}" for c in outcome.not_started),
            err=True,
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
