"""Compile commands: validate, render, list, explain, preview, init, schema."""

from __future__ import annotations

from pathlib import Path

import click

from personactl.cli._app import (
    cli,
    compiled,
    deployed_ids,
    echo_problems,
    examples,
    global_options,
    opts,
    parse_vars,
    with_ids,
)
from personactl.cli._complete import complete_address, complete_conversation
from personactl.errors import UserError
from personactl.kinds import KIND_NAMES
from personactl.output import PREVIEW_FORMATS, PreviewFormat, RenderFormat


@cli.command(
    epilog=examples(
        "personactl validate",
        "personactl validate --env prod",
        "personactl validate --format github   # annotations in GitHub Actions",
    )
)
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
    from personactl.errors import ConfigErrors, grouped, total
    from personactl.project import load_project

    report = validation.validate(load_project(opts().project_dir), opts().env)
    if fmt == "text":
        warnings = grouped(report.warnings)
        echo_problems(warnings)
        if report.errors:
            errors = ConfigErrors(report.errors).problems
            echo_problems(errors)
            click.echo(total([*errors, *warnings]), err=True)
            raise click.exceptions.Exit(1)
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


@cli.command(
    epilog=examples(
        "personactl render storyteller/children",
        "personactl render --format yaml weather-assistant",
        "personactl render --out rendered/",
        "personactl render --check --out rendered/   # exit 1 when rendered/ is stale",
    )
)
@global_options
@click.argument("addresses", nargs=-1, shell_complete=complete_address)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per resource: DIR/<address>.json.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", show_default=True
)
@click.option(
    "--check",
    is_flag=True,
    help="With --out: write nothing; exit 1 when DIR differs from what --out would write.",
)
def render(addresses: tuple[str, ...], out: Path | None, fmt: RenderFormat, check: bool) -> None:
    """Print compiled resources as JSON (secrets shown as (sensitive)).

    Every kind: personas, objectives:, guardrails: and tools: addresses.  A ref() shows
    the deployed id from the environment's state, or (known after apply).  With --out
    DIR, one file per resource: DIR/<address>.json. With --check too, nothing is
    written: each missing, changed or orphaned file under DIR is one line, and the exit
    code is 1 (the personactl-render-check pre-commit hook)."""
    from personactl.compile.rendered import rendered_files, stale
    from personactl.output import to_json, to_yaml, write_atomic

    if check and out is None:
        raise UserError("--check compares a directory: give it with --out DIR")
    result = compiled()
    masked = with_ids(result, result.masked(list(addresses)))
    if out is None:
        dump = to_yaml if fmt == "yaml" else to_json
        click.echo(dump(next(iter(masked.values())) if len(addresses) == 1 else masked), nl=False)
        return
    files = rendered_files(masked, out, fmt)
    if check:
        problems = stale(files, out, fmt, every=not addresses)
        echo_problems(problems)
        if problems:
            raise UserError(
                f"{len(problems)} rendered file(s) under {out}/ are stale",
                hint=f"run `personactl render --out {out}/` and commit the result",
            )
        click.echo(f"{len(files)} rendered file(s) under {out}/ are up to date.", err=True)
        return
    for target, (_shown, text) in files.items():
        write_atomic(target, text, shared=True)
        click.echo(str(target), err=True)


@cli.command(name="list", epilog=examples("personactl list", "personactl list --kind tools"))
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


@cli.command(
    epilog=examples(
        "personactl explain storyteller/children",
        "personactl explain storyteller/children /layers/llm/model",
        "personactl --env prod explain storyteller/children layers.llm.base_url",
        "personactl explain tools:lookup_patient --format json",
    )
)
@global_options
@click.argument("address", shell_complete=complete_address)
@click.argument("pointer", required=False)
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="KEY=VALUE",
    help="A variable for the resource's templates (repeatable).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def explain(address: str, pointer: str | None, variables: tuple[str, ...], fmt: str) -> None:
    """Where each field's value came from, and the layers it overrode.

    For every field of the compiled resource (or the field or subtree at POINTER, a
    JSON Pointer into what `render ADDRESS` prints, or its dotted form layers.llm.model):
    the value, the file:line:col and role of the layer that set it (base, file,
    variant, the environment's overrides, --var), then the layers it overrode, lowest
    first.  A templated string also lists the templates it includes and each variable
    it reads with where that came from.  A repository with errors is explained as long
    as the resource compiled (the errors are printed on stderr)."""
    from personactl import refs
    from personactl.compile.compilation import compile_project
    from personactl.compile.explain import as_json, as_text
    from personactl.compile.explain import explain as explain_resource
    from personactl.kinds import canonical
    from personactl.output import to_json

    extra = parse_vars(variables)
    result = compile_project(env_name=opts().env, root=opts().project_dir, extra_vars=extra)
    echo_problems(result.warnings)
    echo_problems(result.errors)
    found = result.resource(address)  # unknown: one line with a did-you-mean
    ids = deployed_ids(result) if refs.targets(found.payload) else {}
    explanation = explain_resource(result, canonical(address), extra_vars=extra, ids=ids)
    if pointer is not None:
        explanation = explanation.at(pointer)
    click.echo(to_json(as_json(explanation)) if fmt == "json" else as_text(explanation), nl=False)


@cli.command(
    epilog=examples(
        "personactl preview storyteller/children",
        "personactl preview weather-assistant --format text",
        "personactl preview storyteller/children --conversation maya --var user_name=Maya",
    )
)
@global_options
@click.argument("address", shell_complete=complete_address)
@click.option(
    "--conversation",
    "conversation",
    metavar="NAME",
    shell_complete=complete_conversation,
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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(PREVIEW_FORMATS),
    default="json",
    show_default=True,
    help="json: the request body; text: the system message as text, the rest compact.",
)
def preview(
    address: str,
    conversation: str | None,
    variables: tuple[str, ...],
    utterance: str,
    fmt: PreviewFormat,
) -> None:
    """The chat-completions request a custom LLM receives on the first user turn."""
    from personactl.compile.preview import preview_request

    extra = parse_vars(variables)
    request = preview_request(compiled(extra), address, conversation, extra, utterance, fmt)
    click.echo(request, nl=False)


@cli.command(
    epilog=examples("personactl init my-personas", "personactl init --force   # in the cwd")
)
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite the example files of an existing project.")
def init(directory: Path | None, force: bool) -> None:
    """Scaffold a working persona repository in DIR (default: the cwd)."""
    import os
    import shlex

    from personactl.scaffold import scaffold

    target = directory or Path.cwd()
    done = scaffold(target, force=force)
    for rel in done.overwritten:
        click.echo(f"Overwrote {rel}", err=True)
    # `cd` as the user would type it from here; none when the project is the cwd
    where = os.path.relpath(target.resolve(), Path.cwd().resolve())
    cd = "" if where == "." else f"cd {shlex.quote(where)} && "
    click.echo(
        f"Created {len(done.written)} files in {target}. Next: {cd}"
        "personactl validate && personactl plan",
        err=True,
    )


@cli.command(epilog=examples("personactl schema", "personactl schema --out schemas/"))
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
