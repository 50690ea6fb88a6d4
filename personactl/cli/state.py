"""`personactl state ...`: inspect and repair state."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from personactl.cli._app import cli, examples, global_options, opts
from personactl.cli._complete import complete_address
from personactl.errors import UserError

if TYPE_CHECKING:
    from personactl.deploy.state import StateStore
    from personactl.project import Environment, Project


@cli.group(
    epilog=examples(
        "personactl state list",
        "personactl state mv weather-assistant weather/assistant",
    )
)
@global_options
def state() -> None:
    """Inspect and repair state (address -> persona_id)."""


def _project_env() -> tuple[Project, Environment]:
    from personactl.project import load_project

    project = load_project(opts().project_dir)
    return project, project.environment(opts().env)


def _store() -> StateStore:
    from personactl.deploy.engine import open_state

    return open_state(*_project_env())


@state.command(name="list", epilog=examples("personactl --env prod state list"))
@global_options
def state_list() -> None:
    """One line per managed persona: address, persona_id."""
    state = _store().load()
    if not state.resources:  # said on stderr: stdout stays empty for scripts
        click.echo(f"no resources in state for environment '{state.environment}'", err=True)
    for address, resource in sorted(state.resources.items()):
        click.echo(f"{address}\t{resource.id}")


@state.command(name="show", epilog=examples("personactl state show storyteller/children"))
@global_options
@click.argument("address", shell_complete=complete_address)
def state_show(address: str) -> None:
    """The state entry of ADDRESS as JSON (secrets as salted hashes)."""
    from personactl.errors import did_you_mean
    from personactl.output import to_json

    state = _store().load()
    resources = state.resources
    if address not in resources:
        raise UserError(f"{address} is not in state", hint=did_you_mean(address, resources))
    entry = resources[address].data(state.kind(address).id_field)
    click.echo(to_json({"address": address, **entry}), nl=False)


@state.command(name="rm", epilog=examples("personactl state rm storyteller/horror"))
@global_options
@click.argument("address", shell_complete=complete_address)
def state_rm(address: str) -> None:
    """Forget ADDRESS (the deployed persona is left alone)."""
    from personactl.deploy import engine as deploy

    deploy.state_edit(*_project_env(), "rm", lambda s: deploy.state_rm(s, address))
    click.echo(f"Removed {address} from state.", err=True)


@state.command(
    name="mv", epilog=examples("personactl state mv weather-assistant weather/assistant")
)
@global_options
@click.argument("old", shell_complete=complete_address)
@click.argument("new", shell_complete=complete_address)
def state_mv(old: str, new: str) -> None:
    """Rename an address, keeping its persona_id (after renaming a file)."""
    from personactl.deploy import engine as deploy

    deploy.state_edit(*_project_env(), "mv", lambda s: deploy.state_mv(s, old, new))
    click.echo(f"Moved {old} to {new}.", err=True)


@state.command(name="unlock", epilog=examples("personactl --env prod state unlock"))
@global_options
def state_unlock() -> None:
    """Break a stale state lock (postgres: its locks never go stale; names the holder)."""
    held = _store().unlock()
    click.echo(f"Unlocked (was {held})." if held else "State was not locked.", err=True)


@state.command(name="pull", epilog=examples("personactl --env prod state pull > prod-state.json"))
@global_options
def state_pull() -> None:
    """Print the environment's state as JSON (secrets as salted hashes)."""
    from personactl.output import to_json

    click.echo(to_json(_store().load().data()), nl=False)


@state.command(
    name="push",
    epilog=examples(
        "personactl --env prod state push prod-state.json",
        "personactl --env prod state push restored.json --force",
    ),
)
@global_options
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a state of another lineage, or a newer one.")
def state_push(file: Path, force: bool) -> None:
    """Replace the environment's state with FILE (from `state pull`)."""
    from personactl.deploy import engine as deploy

    project, env = _project_env()
    pushed = deploy.read_state_file(file, env.name, env.api)
    where = deploy.state_push(project, env, pushed, force=force)
    click.echo(
        f"Pushed {file} to {where} (lineage {pushed.lineage}, serial {pushed.serial}).",
        err=True,
    )
