"""Shell completion of the repository's names: addresses, environments, conversations.

click calls these on every Tab (with `_PERSONACTL_COMPLETE` set), so each reads only
what names things (personactl.compile.addresses) and never raises: a broken or missing
repository completes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # click.shell_completion loads on a Tab, not on every command
    from click.shell_completion import CompletionItem


def _root(ctx: click.Context) -> Path | None:
    from personactl.cli._app import Options
    from personactl.errors import UserError
    from personactl.project import find_root

    options = ctx.find_object(Options)
    try:
        return find_root(options.project_dir if options else None)
    except UserError:
        return None


def _completer(
    names: Callable[[Path], list[str]],
) -> Callable[[click.Context, click.Parameter, str], list[CompletionItem]]:
    def complete(
        ctx: click.Context, _param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        root = _root(ctx)
        try:
            found = names(root) if root is not None else []
        except (OSError, ValueError):  # a repository mid-edit: nothing to offer
            found = []
        return [CompletionItem(name) for name in found if name.startswith(incomplete)]

    return complete


def _addresses(root: Path) -> list[str]:
    from personactl.compile.addresses import addresses

    return addresses(root)


def _environments(root: Path) -> list[str]:
    from personactl.compile.addresses import environment_names

    return environment_names(root)


def _conversations(root: Path) -> list[str]:
    from personactl.compile.addresses import conversation_names

    return conversation_names(root)


complete_address = _completer(_addresses)
complete_env = _completer(_environments)
complete_conversation = _completer(_conversations)
