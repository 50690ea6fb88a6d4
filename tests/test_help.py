"""Help as a new user meets it: no arguments, whole descriptions, examples; LICENSE and the
README's Python example."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from personactl.cli import cli
from tests.conftest import REPO, SECRETS, run_cli, run_main
from tests.test_cli_compile import COMMANDS


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    return command


def test_no_arguments_prints_help_and_exits_0() -> None:
    bare = run_cli()
    assert (bare.code, bare.err) == (0, "")
    assert bare.out == run_cli("--help").out
    assert bare.out.startswith("Usage: personactl [OPTIONS] COMMAND [ARGS]...\n")


def test_a_group_without_a_command_prints_its_help() -> None:
    result = run_cli("state")
    assert (result.code, result.err) == (0, "")
    assert result.out == run_cli("state", "--help").out


@pytest.mark.parametrize("columns", ["80", "100"])
@pytest.mark.parametrize("group", [(), ("state",), ("conversation",), ("llm",)], ids=" ".join)
def test_command_descriptions_are_not_cut_off(group, columns, capsys, monkeypatch) -> None:
    """Each command's first sentence whole (wrapped), never shortened with '...'."""
    monkeypatch.setenv("COLUMNS", columns)
    code, out, _ = run_main(capsys, *group, "--help")
    assert code == 0
    listing = out.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
    assert not any(line.endswith("...") for line in listing.splitlines())
    flat = " ".join(listing.split())
    parent = _command(group)
    assert isinstance(parent, click.Group)
    for name in parent.list_commands(click.Context(parent)):
        sentence = parent.get_command(click.Context(parent), name).get_short_help_str(10**6)
        assert f"{name} {sentence}" in flat


def test_the_validate_line_wraps_at_80_columns(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = run_main(capsys, "--help")
    assert (
        "  validate      Compile everything and report every problem as path:line:col:\n"
        "                message.\n"
    ) in out


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "personactl")
def test_every_command_has_examples(command, capsys) -> None:
    code, out, _ = run_main(capsys, *command, "--help")
    assert code == 0
    examples = out.split("\n  Examples:\n", 1)
    assert len(examples) == 2, f"no Examples: block in `personactl {' '.join(command)} --help`"
    first = examples[1].splitlines()[0]
    assert first.startswith("    ") and "personactl " in first, first


def test_license_matches_pyproject() -> None:
    assert '\nlicense = {text = "MIT"}\n' in (REPO / "pyproject.toml").read_text()
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


def test_readme_python_example_runs_as_pasted(example_repo: Path) -> None:
    """The README's ```python blocks, pasted one after the other into one interpreter in
    the example repository (as the README says), run without error."""
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", readme, re.S | re.M)
    assert len(blocks) >= 2
    script = "".join(f"exec({block!r})\n" for block in blocks)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=example_repo,
        env={**env, **SECRETS},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Plan: 8 to create, 0 to update, 0 to delete." in proc.stdout
    assert proc.stdout.endswith("8 changes applied\n")
    for value in SECRETS.values():
        assert value not in proc.stdout + proc.stderr
