"""`personactl diff`: what differs between two environments' compiled resources."""

from __future__ import annotations

import click

from personactl.cli._app import cli, examples, opts, project_options
from personactl.cli._complete import complete_address, complete_env
from personactl.errors import UserError


@cli.command(
    epilog=examples(
        "personactl diff --env staging --env prod",
        "personactl diff --env staging --env prod storyteller/children",
        "personactl diff --env staging --env prod --detailed-exitcode   # 2 when different",
    )
)
@project_options
@click.option(
    "--env",
    "envs",
    multiple=True,
    metavar="NAME",
    shell_complete=complete_env,
    help="An environment to compare; give two: --env A --env B (A is the base).",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when the environments compile the same, 2 when they differ.",
)
@click.argument("addresses", nargs=-1, shell_complete=complete_address)
def diff(envs: tuple[str, ...], detailed_exitcode: bool, addresses: tuple[str, ...]) -> None:
    """Show what differs between two environments' compiled resources (promotion review).

    Field by field as plan shows changes, prompts as a line diff; a secret is only
    ever "(sensitive) changed" (another secret() name), never its value. ADDRESS
    selects as plan's --target does (a file name selects all its variants)."""
    from personactl.deploy.envdiff import diff_environments, text
    from personactl.project import load_project

    # `personactl --env A diff --env B` names two as well
    given = opts().env
    chosen = [*([given] if given else []), *envs]
    if len(chosen) != 2:
        raise UserError(
            f"diff compares two environments; {len(chosen)} given",
            hint="personactl diff --env A --env B",
        )
    result = diff_environments(load_project(opts().project_dir), chosen, addresses)
    click.echo(text(result, color=opts().color), nl=False)
    if detailed_exitcode and result.different:
        raise click.exceptions.Exit(2)
