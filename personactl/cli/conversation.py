"""`personactl conversation ...`: conversation payloads."""

from __future__ import annotations

from typing import Any

import click

from personactl.cli._app import cli, compiled, deployed_ids, examples, global_options, parse_vars
from personactl.cli._complete import complete_conversation


@cli.group(
    epilog=examples(
        "personactl conversation render maya --var user_name=Maya",
        "personactl conversation create maya --var user_name=Maya",
    )
)
@global_options
def conversation() -> None:
    """Conversation payloads from conversations/*.yaml."""


var_option = click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="KEY=VALUE",
    help="An input value (repeatable), typed by the declared input.",
)


def _payload(name: str, variables: tuple[str, ...]) -> tuple[Any, dict[str, Any], list[str]]:
    """The compiled repository, the conversation body (persona_id from state, ref()s as
    deployed ids) and the addresses it references that are not deployed."""
    from personactl import refs
    from personactl.deploy.engine import conversation_payload, open_state

    result = compiled()
    state = open_state(result.project, result.env).load()
    body = conversation_payload(result, name, parse_vars(variables), state)
    ids = deployed_ids(result)
    return result, refs.resolve(body, ids), sorted(refs.targets(body) - ids.keys())


@conversation.command(
    name="render",
    epilog=examples(
        "personactl conversation render maya --var user_name=Maya",
        "personactl --env prod conversation render maya --var user_name=Maya --var age=9",
    ),
)
@global_options
@click.argument("name", shell_complete=complete_conversation)
@var_option
def conversation_render(name: str, variables: tuple[str, ...]) -> None:
    """The POST /v2/conversations body for the environment."""
    from personactl import sensitive
    from personactl.output import to_json

    _, body, _missing = _payload(name, variables)
    click.echo(to_json(sensitive.mask(body)), nl=False)


@conversation.command(
    name="create",
    epilog=examples("personactl conversation create maya --var user_name=Maya"),
)
@global_options
@click.argument("name", shell_complete=complete_conversation)
@var_option
def conversation_create(name: str, variables: tuple[str, ...]) -> None:
    """Start a conversation; print its conversation_id and conversation_url."""
    from personactl import sensitive
    from personactl.deploy.engine import open_backend
    from personactl.errors import UserError

    result, body, missing = _payload(name, variables)
    if missing:
        raise UserError(
            f"conversation {name} references {', '.join(missing)}, not deployed in "
            f"environment '{result.env.name}'",
            hint=f"run `{result.project.command(result.env, 'apply')}` first",
        )
    backend = open_backend(result.project, result.env)
    try:
        created = backend.create_conversation(sensitive.resolve(body))
    finally:
        backend.close()
    # the API's answer may echo what was sent (a callback token in the url): scrubbed
    for key in ("conversation_id", "conversation_url"):
        click.echo(sensitive.scrub(f"{key}: {created.get(key)}"))
