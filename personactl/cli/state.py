"""`personactl state ...`: inspect and repair state."""

from __future__ import annotations

from typing import Any

import click

from personactl.cli._app import cli, global_options, opts
from personactl.errors import UserError


@cli.group()
@global_options
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
    from personactl.deploy.engine import state_for

    for address, resource in sorted(state_for(*_project_env()).resources.items()):
        click.echo(f"{address}\t{resource.persona_id}")


@state.command(name="show")
@global_options
@click.argument("address")
def state_show(address: str) -> None:
    """The state entry of ADDRESS as JSON (secrets as salted hashes)."""
    from personactl.deploy.engine import state_for
    from personactl.errors import did_you_mean
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
    from personactl.deploy import engine as deploy

    deploy.state_edit(*_project_env(), "rm", lambda s: deploy.state_rm(s, address))
    click.echo(f"Removed {address} from state.", err=True)


@state.command(name="mv")
@global_options
@click.argument("old")
@click.argument("new")
def state_mv(old: str, new: str) -> None:
    """Rename an address, keeping its persona_id (after renaming a file)."""
    from personactl.deploy import engine as deploy

    deploy.state_edit(*_project_env(), "mv", lambda s: deploy.state_mv(s, old, new))
    click.echo(f"Moved {old} to {new}.", err=True)


@state.command(name="unlock")
@global_options
def state_unlock() -> None:
    """Break a stale state lock."""
    from personactl.deploy.state import unlock

    project, env = _project_env()
    held = unlock(project.state_path(env))
    click.echo(f"Unlocked (was {held})." if held else "State was not locked.", err=True)
