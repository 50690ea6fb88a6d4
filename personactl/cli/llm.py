"""`personactl llm check` and `personactl chat`: talk to a persona's custom LLM (§8)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import click

from personactl.cli._app import cli, compiled, examples, global_options, parse_vars
from personactl.cli._complete import complete_address, complete_conversation

F = TypeVar("F", bound=Callable[..., object])


def _conversation_options(fn: F) -> F:
    fn = click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        metavar="S",
        default=30.0,
        show_default=True,
        help="Seconds to wait for an answer, and between chunks.",
    )(fn)
    fn = click.option(
        "--var",
        "variables",
        multiple=True,
        metavar="KEY=VALUE",
        help="A variable for the persona's templates, and a conversation input (repeatable).",
    )(fn)
    fn = click.option(
        "--conversation",
        metavar="NAME",
        shell_complete=complete_conversation,
        help="Add this conversation template's conversational_context.",
    )(fn)
    return fn


@cli.group(epilog=examples("personactl llm check weather-assistant"))
@global_options
def llm() -> None:
    """A persona's custom OpenAI-compatible LLM."""


@llm.command(
    name="check",
    epilog=examples(
        "personactl llm check weather-assistant",
        "personactl llm check storyteller/children --speculative 4",
        "personactl llm check storyteller/children --conversation maya --var user_name=Maya",
    ),
)
@global_options
@click.argument("address", shell_complete=complete_address)
@_conversation_options
@click.option("--utterance", help="The user's turn (default: Hello!, or a sentence with -s).")
@click.option(
    "--speculative",
    "-s",
    type=click.IntRange(min=2),
    help="Send N progressive transcripts of the turn, cancelling each superseded stream.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def llm_check(
    address: str,
    conversation: str | None,
    variables: tuple[str, ...],
    timeout: float,
    utterance: str | None,
    speculative: int | None,
    fmt: str,
) -> None:
    """Send the platform's chat-completions request and check the stream; exit 1 on a failure."""
    from personactl.llm import build_request, check
    from personactl.llm.check import SPECULATIVE_UTTERANCE

    extra = parse_vars(variables)
    text = utterance or (SPECULATIVE_UTTERANCE if speculative else "Hello!")
    request = build_request(compiled(extra), address, conversation, extra, text)
    report = check(request, timeout, speculative or 0)
    click.echo(report.json() if fmt == "json" else report.text(), nl=False)
    sys.exit(0 if report.ok else 1)


@cli.command(
    epilog=examples(
        "personactl chat weather-assistant",
        "printf 'Hello!\\n' | personactl chat storyteller/children",
    )
)
@global_options
@click.argument("address", shell_complete=complete_address)
@_conversation_options
def chat(
    address: str, conversation: str | None, variables: tuple[str, ...], timeout: float
) -> None:
    """A text conversation with the persona's custom LLM: one user turn per stdin line."""
    from personactl.llm import build_request
    from personactl.llm import chat as run_chat

    extra = parse_vars(variables)
    request = build_request(compiled(extra), address, conversation, extra)
    if sys.stdin.isatty():
        click.echo(f"Chatting with {address} at {request.url}; Ctrl-D ends.", err=True)
    run_chat(request, sys.stdin, sys.stdout, timeout)
