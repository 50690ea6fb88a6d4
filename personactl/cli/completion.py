"""`personactl completion SHELL`: the shell completion script (click's machinery)."""

from __future__ import annotations

import click

from personactl.cli._app import cli, examples

SHELLS = ("bash", "zsh", "fish")
# what click's completion reads: `_<PROG>_COMPLETE=bash_complete personactl ...`
COMPLETE_VAR = "_PERSONACTL_COMPLETE"


@cli.command(
    epilog=examples(
        'eval "$(personactl completion bash)"   # in ~/.bashrc',
        'eval "$(personactl completion zsh)"    # in ~/.zshrc',
        "personactl completion fish > ~/.config/fish/completions/personactl.fish",
    )
)
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL: commands, options, addresses, environments.

    Addresses and environment names are read from the repository on each Tab,
    without compiling anything."""
    from click.shell_completion import get_completion_class

    complete = get_completion_class(shell)
    assert complete is not None, shell  # every name of SHELLS is one of click's
    click.echo(complete(cli, {}, "personactl", COMPLETE_VAR).source())
