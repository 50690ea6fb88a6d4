"""Deploy commands: plan, apply, import."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from personactl.cli._app import cli, echo_problems, examples, global_options, opts
from personactl.cli._complete import complete_address
from personactl.errors import Problem, UserError
from personactl.output import PLAN_FORMATS, PlanFormat, listing

if TYPE_CHECKING:
    from personactl.compile.compilation import Compilation
    from personactl.deploy.backends.base import Backend
    from personactl.deploy.execute import Outcome
    from personactl.deploy.plan import Plan
    from personactl.project import Project


def _deploy_context() -> tuple[Compilation, Backend]:
    """Compiled configuration and an open backend for the selected environment."""
    from personactl import sensitive
    from personactl.compile.compilation import compile_cached
    from personactl.deploy.engine import open_backend

    result = compile_cached(_project(), opts().env)
    echo_problems(result.warnings)
    result.raise_for_errors()
    on_retry = lambda line: click.echo(sensitive.scrub(line), err=True)  # noqa: E731
    return result, open_backend(result.project, result.env, on_retry)


def _project() -> Project:
    from personactl.project import load_project

    return load_project(opts().project_dir)


def _confirm(_plan: Plan) -> bool:
    if not sys.stdin.isatty():
        raise UserError(
            "refusing to apply without confirmation: stdin is not a terminal",
            hint="pass --auto-approve",
        )
    return click.confirm("Apply these changes?")


def _report_outcome(outcome: Outcome, plan: Plan) -> None:
    from personactl.cli._interrupts import EXIT_CODE
    from personactl.deploy.plan import ACTIONS

    if plan.empty:
        return
    echo_problems([Problem(None, warning, warning=True) for warning in outcome.warnings])
    for address in outcome.discarded_drafts:
        click.echo(f"{address}: discarded its unsaved PAL Maker draft", err=True)
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
            + listing([f"{c.address} ({why})" for c, why in outcome.failed], sep="; "),
            hint="successes are recorded in state; fix the cause and rerun apply",
        )


def _report_interrupted(outcome: Outcome, done: str) -> None:
    """What was done (stdout, as the summary) and what was not (stderr)."""
    rest = [f"{len(outcome.not_started)} not started"]
    if outcome.abandoned:
        rest.insert(0, f"{len(outcome.abandoned)} abandoned in flight")
    click.echo(f"Apply interrupted: {done}; {', '.join(rest)}.")
    if outcome.abandoned:
        click.echo(
            "Abandoned in flight (the next apply finds any that happened): "
            + listing([f"{c.action} {c.address}" for c in outcome.abandoned]),
            err=True,
        )
    if outcome.not_started:
        click.echo(
            "Not started (run apply again to finish): "
            + listing([f"{c.action} {c.address}" for c in outcome.not_started]),
            err=True,
        )


def _emit_plan(plan: Plan, fmt: PlanFormat, full: bool = False) -> None:
    from personactl.deploy.formats import render

    click.echo(render(plan, fmt, color=opts().color, full=full), nl=False)


target_option = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ADDRESS",
    shell_complete=complete_address,
    help="Only these addresses (a file name selects all its variants).",
)
full_option = click.option(
    "--full",
    "-v",
    "full",
    is_flag=True,
    help="Every field diff, even for plans of more than 50 changes (shown as a table).",
)
prune_option = click.option(
    "--prune", is_flag=True, help="Delete managed personas that left the configuration."
)


@cli.command(
    epilog=examples(
        "personactl plan",
        "personactl --env prod plan --out plan.json",
        "personactl plan --target storyteller --format markdown",
        "personactl plan --detailed-exitcode   # 2 when changes are pending",
    )
)
@global_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the JSON plan to FILE (for `apply FILE`).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(PLAN_FORMATS),
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
@full_option
def plan(
    out: Path | None,
    fmt: PlanFormat,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    prune: bool,
    full: bool,
) -> None:
    """Show what apply would change in the deployed account."""
    from personactl.deploy.engine import make_plan, open_state
    from personactl.deploy.formats import as_json
    from personactl.output import write_atomic

    result, backend = _deploy_context()
    try:
        state = open_state(result.project, result.env).load()
        the_plan = make_plan(result, backend, state, targets=targets, prune=prune)
    finally:
        backend.close()
    _emit_plan(the_plan, fmt, full)
    if out is not None:
        write_atomic(out, as_json(the_plan), shared=True)
        apply_it = result.project.command(result.env, f"apply {out}")
        click.echo(f"Saved the plan to {out}; apply it with `{apply_it}`.", err=True)
    if detailed_exitcode and not the_plan.empty:
        raise click.exceptions.Exit(2)


@cli.command(
    epilog=examples(
        "personactl apply",
        "personactl plan --out plan.json && personactl apply plan.json",
        "personactl apply --auto-approve --parallelism 16",
    )
)
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
@click.option(
    "--discard-drafts",
    is_flag=True,
    help="Apply over unsaved PAL Maker drafts (sent with force=true), discarding them.",
)
@full_option
def apply(
    planfile: Path | None,
    auto_approve: bool,
    targets: tuple[str, ...],
    prune: bool,
    allow_destroy: bool,
    parallelism: int,
    discard_drafts: bool,
    full: bool,
) -> None:
    """Make the deployed account match the configuration (or exactly PLANFILE)."""
    from personactl.cli._interrupts import graceful
    from personactl.cli._progress import Progress
    from personactl.deploy import engine

    progress = Progress()
    try:
        with graceful(progress.note) as interrupts:
            applied = engine.apply(
                _project(),
                opts().env,
                planfile=planfile,
                targets=targets,
                prune=prune,
                allow_destroy=allow_destroy,
                parallelism=parallelism,
                confirm=None if auto_approve else _confirm,
                on_plan=lambda p: _emit_plan(p, "text", full),
                on_warnings=echo_problems,
                on_start=lambda p: progress.start(len(p.changes)),
                report=progress.change,
                on_retry=progress.retry,
                stop=interrupts.stop,
                discard_drafts=discard_drafts,
            )
    finally:
        progress.close()
    _report_outcome(applied.outcome, applied.plan)


@cli.command(
    name="import",
    epilog=examples("personactl --env prod import weather-assistant p0123456789"),
)
@global_options
@click.argument("address", shell_complete=complete_address)
@click.argument("persona_id")
def import_(address: str, persona_id: str) -> None:
    """Adopt an existing deployed persona into state as ADDRESS."""
    from personactl.deploy.engine import import_resource

    result, backend = _deploy_context()
    try:
        import_resource(result, backend, address, persona_id)
    finally:
        backend.close()
    plan_it = result.project.command(result.env, "plan")
    click.echo(f"Imported {persona_id} as {address}. Run `{plan_it}` to see differences.", err=True)
