"""Compile commands: validate, render, preview, init, schema."""

from __future__ import annotations

from pathlib import Path

import click

from personactl.cli._app import (
    cli,
    compiled,
    echo_problems,
    global_options,
    opts,
    parse_vars,
    with_ids,
)
from personactl.errors import UserError
from personactl.kinds import KIND_NAMES


@cli.command()
@global_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github", "json"]),
    default="text",
    show_default=True,
    help="github: Actions annotations on stdout; json: one array of problems on stdout.",
)
def validate(fmt: str) -> None:
    """Compile everything and report every problem as path:line:col: message.

    Every environment is checked unless --env names one; a problem only some
    environments have ends with [env: NAME]."""
    from personactl.compile import validation
    from personactl.errors import ConfigErrors
    from personactl.project import load_project

    report = validation.validate(load_project(opts().project_dir), opts().env)
    if fmt == "text":
        echo_problems(report.warnings)
        if report.errors:
            raise ConfigErrors(report.errors)
    else:
        click.echo(
            validation.github(report.problems)
            if fmt == "github"
            else validation.as_json(report.problems),
            nl=False,
        )
        if report.errors:
            raise click.exceptions.Exit(1)
    click.echo(f"{report.counts()} are valid.", err=True)


@cli.command()
@global_options
@click.argument("addresses", nargs=-1)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per resource: DIR/<address>.json.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", show_default=True
)
def render(addresses: tuple[str, ...], out: Path | None, fmt: str) -> None:
    """Print compiled resources as JSON (secrets shown as (sensitive)).

    Every kind: personas, objectives:, guardrails: and tools: addresses.  A ref() shows
    the deployed id from the environment's state, or (known after apply)."""
    from personactl.output import to_json, to_yaml, write_atomic

    result = compiled()
    masked = with_ids(result, result.masked(list(addresses)))
    dump = to_yaml if fmt == "yaml" else to_json
    if out is None:
        click.echo(dump(next(iter(masked.values())) if len(addresses) == 1 else masked), nl=False)
        return
    for address, body in masked.items():
        target = (out / f"{address}.{fmt}").resolve()
        if not target.is_relative_to(out.resolve()):
            raise UserError(f"address {address!r} would be written outside {out}")
        write_atomic(target, dump(body))
        click.echo(str(target), err=True)


@cli.command(name="list")
@global_options
@click.option("--kind", type=click.Choice(KIND_NAMES), help="Only the addresses of this kind.")
def list_addresses(kind: str | None) -> None:
    """Every address of the repository: ADDRESS<TAB>KIND<TAB>FILE, one per line."""
    result = compiled()
    rows = sorted(
        (r.kind, r.address, r.source)
        for r in result.resources.values()
        if kind is None or r.kind == kind
    )
    for name, address, source in rows:
        click.echo(f"{address}\t{name}\t{source}")


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
    help="A variable for the persona's templates, and a conversation input (repeatable).",
)
@click.option(
    "--utterance", default="Hello!", show_default=True, help="The user's first utterance."
)
def preview(
    address: str, conversation: str | None, variables: tuple[str, ...], utterance: str
) -> None:
    """The chat-completions request a custom LLM receives on the first user turn."""
    from personactl.compile.preview import preview_request

    extra = parse_vars(variables)
    click.echo(preview_request(compiled(extra), address, conversation, extra, utterance), nl=False)


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
    """Write JSON Schemas of every file format (personactl.yaml and each kind's files)."""
    from personactl.schema.export import write_schemas

    for path in write_schemas(out, opts().project_dir):
        click.echo(str(path))
