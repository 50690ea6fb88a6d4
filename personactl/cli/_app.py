"""The `personactl` group, its global options, and the error boundary.

Each command parses options, makes one library call and returns an exit code.
`main` is the single error boundary: user errors are one line each on stderr
and exit 1; bugs exit 3 with a traceback worth reporting.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from personactl import __version__
from personactl.cli._complete import complete_env
from personactl.errors import Problem, UserError
from personactl.sensitive import SecretError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Options:
    project_dir: Path | None = None
    env: str | None = None
    no_color: bool = False

    @property
    def color(self) -> bool:
        """Colour on stdout (the plan's signs)."""
        return not self.no_color and color_allowed(sys.stdout)

    @property
    def err_color(self) -> bool:
        """Colour on stderr (the `error:` / `warning:` labels)."""
        return not self.no_color and color_allowed(sys.stderr)


def _set_project(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(Options).project_dir = value


def _set_env(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Options).env = value


def _set_no_color(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Options).no_color = True


def _options(fn: F, *, env: bool) -> F:
    fn = click.option(
        "-C",
        "--project",
        "project",
        type=click.Path(file_okay=False, path_type=Path),
        callback=_set_project,
        expose_value=False,
        is_eager=True,
        help="Project directory (default: walk up from the cwd).",
    )(fn)
    if env:
        fn = click.option(
            "--env",
            "env",
            metavar="NAME",
            callback=_set_env,
            shell_complete=complete_env,
            expose_value=False,
            is_eager=True,
            help="Environment (default: default_environment).",
        )(fn)
    fn = click.option(
        "--no-color",
        is_flag=True,
        callback=_set_no_color,
        expose_value=False,
        is_eager=True,
        help="Plain output (also: NO_COLOR=1).",
    )(fn)
    return fn


def global_options(fn: F) -> F:
    """-C, --env and --no-color are accepted before or after the command name."""
    return _options(fn, env=True)


def project_options(fn: F) -> F:
    """-C and --no-color only: for a command with an --env of its own (diff takes two)."""
    return _options(fn, env=False)


def opts() -> Options:
    return click.get_current_context().ensure_object(Options)


_LABEL_COLORS = {"error": "red", "warning": "yellow"}


def echo_problems(problems: list[Problem], options: Options | None = None) -> None:
    """Each problem as its line on stderr; an unlocated one's `error:` / `warning:` label
    coloured on a terminal.  `options` where no command context is left (the boundary)."""
    color = (options or opts()).err_color
    for problem in problems:
        line, label = problem.format(), problem.label()
        if color and label and problem.loc is None:
            line = click.style(label, fg=_LABEL_COLORS[label]) + line[len(label) :]
        click.echo(line, err=True)


def compiled(extra_vars: dict[str, str] | None = None) -> Any:
    from personactl.compile.compilation import compile_project

    o = opts()
    # a command taking --var (even unused) compiles afresh: its hints name --var
    result = compile_project(
        env_name=o.env, root=o.project_dir, extra_vars=extra_vars, cached=extra_vars is None
    )
    echo_problems(result.warnings)
    result.raise_for_errors()
    return result


def deployed_ids(result: Any) -> dict[str, str]:
    """address -> deployed id, from the environment's state: what ref() stands for.  A
    state that cannot be read is a warning (render needs no state)."""
    from personactl.deploy.engine import open_state

    try:
        state = open_state(result.project, result.env).load()
    except UserError as exc:
        echo_problems(
            [
                Problem(
                    problem.loc,
                    f"{problem.message}; references are shown as (known after apply)",
                    problem.hint,
                    warning=True,
                )
                for problem in exc.problems
            ]
        )
        return {}
    return {address: resource.id for address, resource in state.resources.items()}


def with_ids(result: Any, value: Any) -> Any:
    """`value` with every ref() shown as its deployed id or (known after apply)."""
    from personactl import refs

    return refs.resolve(value, deployed_ids(result)) if refs.targets(value) else value


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--var {pair!r} is not KEY=VALUE")
        out[key.strip()] = value
    return out


def examples(*lines: str) -> str:
    """An `Examples:` block for a command's --help (its epilog), kept as written."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


# command -> the module of personactl.cli that defines it: a run imports its own command's
# module only (tests/test_cli_compile.py holds this equal to what the modules define)
COMMAND_MODULES: dict[str, str] = {
    **dict.fromkeys(
        ("validate", "render", "list", "explain", "preview", "init", "schema"), "compile"
    ),
    **dict.fromkeys(("plan", "apply", "import"), "deploy"),
    **dict.fromkeys(("llm", "chat"), "llm"),
    "completion": "completion",
    "conversation": "conversation",
    "diff": "diff",
    "serve": "serve",
    "state": "state",
}


class Group(click.Group):
    """A group whose command list shows each command's first sentence whole, wrapped
    rather than cut off with "..." (click shortens it to fit one line).  The root group
    loads a command's module when the command is asked for (`lazy`)."""

    group_class = type  # subgroups (state, conversation, llm) are Groups too
    lazy: dict[str, str] = {}  # noqa: RUF012 - replaced, never mutated

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002 - click's
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002
        if cmd_name not in self.commands and cmd_name in self.lazy:
            import importlib

            importlib.import_module(f"personactl.cli.{self.lazy[cmd_name]}")
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and args[0] not in self.lazy:
            for name in self.lazy:  # a misspelling: click suggests from the loaded commands
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, command.get_short_help_str(limit=sys.maxsize))
            for name in self.list_commands(ctx)
            if (command := self.get_command(ctx, name)) is not None and not command.hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=examples(
        "personactl validate",
        "personactl render storyteller/children",
        "personactl plan && personactl apply",
        "personactl --env prod plan --out plan.json",
    ),
)
@click.version_option(__version__, "--version", prog_name="personactl")
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Persona configuration as code for Tavus CVI.

    Keep personas in git as layered YAML and Jinja; validate and compile them into
    Tavus API JSON, plan the changes against a deployed account, and apply them.
    """


cli.lazy = COMMAND_MODULES  # type: ignore[attr-defined]  # click.group's type is Group


def color_allowed(stream: Any) -> bool:
    """Colour only on a terminal that shows it: not with NO_COLOR or TERM=dumb."""
    plain = os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb"
    return not plain and stream.isatty()


# A compile allocates many small long-lived objects (YAML nodes, positions, payloads)
# and makes few reference cycles; with CPython's default gen-0 threshold (700) the
# cyclic GC runs thousands of times for nothing, ~20% of `validate` on 900 personas
# (benchmarks/compile.py).  mypy does the same.  Only ever raised, never lowered.
_GC_THRESHOLD = (200_000, 20, 20)


def _tune_gc() -> None:
    import gc

    if 0 < gc.get_threshold()[0] < _GC_THRESHOLD[0]:
        gc.set_threshold(*_GC_THRESHOLD)


def main(argv: list[str] | None = None) -> None:
    _tune_gc()
    options = Options()  # the boundary reads --no-color after the command's context is gone
    try:
        # standalone_mode=False: a click Exit raised in a command (plan --detailed-exitcode)
        # is *returned* as its code, not raised
        code = cli.main(args=argv, prog_name="personactl", standalone_mode=False, obj=options)
    except UserError as exc:
        echo_problems(exc.problems, options)
        sys.exit(1)
    except SecretError as exc:
        echo_problems([Problem(None, str(exc))], options)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:  # `personactl`, `personactl state`
        click.echo(exc.ctx.get_help(), color=exc.ctx.color)
        sys.exit(0)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except OSError as exc:  # the disk, not the configuration: still one line, exit 1
        where = f": {exc.filename}" if exc.filename else ""
        echo_problems([Problem(None, f"{exc.strerror or exc}{where}")], options)
        sys.exit(1)
    except Exception:  # a bug: say so, with what a report needs
        import traceback

        traceback.print_exc()
        message = (
            f"personactl {__version__}: internal error (a bug, not your configuration); "
            "please report it with the traceback above"
        )
        echo_problems([Problem(None, message)], options)
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)


def run() -> None:
    """The console entry point: `main`, then a hard exit.  Tearing down a compiled
    repository object by object costs tens of milliseconds and buys nothing: every
    file personactl writes is complete (and fsynced where it matters) before this."""
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        code = code or 1
    os._exit(code)
