"""The CLI of the compile half: help, global options, project discovery, exit codes."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from personactl import __version__
from personactl.cli import cli
from tests.conftest import EXAMPLE_VALID, REPO, build_tree, run_cli, run_main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # loads the root's lazy command modules
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            out.extend(_commands(command, (*prefix, name)))
        else:
            out.append((*prefix, name))
    return out


COMMANDS = _commands(cli)


def test_every_documented_command_exists() -> None:
    documented = {
        ("init",),
        ("validate",),
        ("render",),
        ("conversation", "render"),
        ("conversation", "create"),
        ("preview",),
        ("plan",),
        ("apply",),
        ("import",),
        ("state", "list"),
        ("state", "show"),
        ("state", "rm"),
        ("state", "mv"),
        ("state", "unlock"),
        ("state", "pull"),
        ("state", "push"),
        ("schema",),
        ("serve",),
    }
    assert documented <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "personactl")
def test_help_snapshot(command, capsys, monkeypatch, snapshot) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    code, out, err = run_main(capsys, *command, "--help")
    assert code == 0
    assert err == ""
    assert out.startswith(f"Usage: {' '.join(('personactl', *command))} ")
    assert out == snapshot


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (("render",), ["--out", "--format"]),
        (("preview",), ["--conversation", "--var"]),
        (("schema",), ["--out"]),
        (("init",), ["--force"]),
        ((), ["--project", "-C", "--env", "--no-color", "--version", "--help"]),
    ],
)
def test_documented_options(command, options, capsys) -> None:
    _, out, _ = run_main(capsys, *command, "--help")
    for option in options:
        assert option in out


def test_help_and_version_subprocess() -> None:
    result = run_cli("--help")
    assert result.code == 0
    assert "Persona configuration as code for Tavus CVI." in result.out
    result = run_cli("--version")
    assert (result.code, result.out) == (0, f"personactl, version {__version__}\n")
    result = run_cli("render", "-h")
    assert result.code == 0
    assert result.out.startswith("Usage: personactl render [OPTIONS] [ADDRESSES]...")


def test_project_found_by_walking_up(example_repo: Path) -> None:
    deep = example_repo / "personas" / "_bases"
    result = run_cli("validate", cwd=deep)
    assert result.code == 0, result.err
    assert result.err == EXAMPLE_VALID
    assert result.out == ""


def test_project_option_from_another_cwd(cli_run, example_repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = run_cli("-C", str(example_repo), "render", "weather-assistant", cwd=elsewhere)
    after = cli_run("render", "weather-assistant", "-C", str(example_repo), cwd=elsewhere)
    relative = cli_run("--project", "../repo", "render", "weather-assistant", cwd=elsewhere)
    assert before.code == after.code == relative.code == 0, before.err + after.err + relative.err
    assert before.out == after.out == relative.out
    assert json.loads(before.out)["persona_name"] == "Weather Assistant"
    # nothing was written into the cwd
    assert list(elsewhere.iterdir()) == []


def test_env_prod_applies_overrides(example_repo: Path, capsys) -> None:
    code, out, _ = run_main(capsys, "-C", str(example_repo), "--env", "prod", "render")
    assert code == 0
    # overrides apply to personas, not to the other kinds
    for address, body in json.loads(out).items():
        if ":" not in address:
            assert body["layers"]["llm"]["base_url"] == "https://llm.acme.example/v1"
    _, local, _ = run_main(capsys, "-C", str(example_repo), "render")
    for address, body in json.loads(local).items():
        if ":" not in address:
            assert body["layers"]["llm"]["base_url"] == "https://llm.example.com/v1"
        else:
            assert "layers" not in body
    # --env after the command name works too
    _, after, _ = run_main(capsys, "render", "-C", str(example_repo), "--env", "prod")
    assert after == out


def test_environment_vars_reach_templates(tmp_path: Path, capsys) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": """
                version: 1
                default_environment: dev
                vars: {tier: none}
                environments:
                  dev: {vars: {tier: dev}}
                  prod: {backend: tavus, vars: {tier: prod}}
                """,
            "personas/p.yaml": "persona: {system_prompt: 'tier {{ tier }}'}\n",
        },
    )
    for env, expected in ((None, "tier dev"), ("prod", "tier prod"), ("dev", "tier dev")):
        args = ["-C", str(tmp_path), *(["--env", env] if env else []), "render", "p"]
        code, out, _ = run_main(capsys, *args)
        assert code == 0
        assert json.loads(out)["system_prompt"] == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--env", "staging", "validate"],
            "unknown environment 'staging' (hint: environments: local, prod)\n",
        ),
        (
            ["-C", "/nonexistent/dir", "validate"],
            "/nonexistent/dir: no personactl.yaml here (hint: run `personactl init`)\n",
        ),
        (
            ["render", "nobody"],
            "no persona 'nobody' in this repository "
            "(hint: run `personactl list` to see every address)\n",
        ),
        (
            ["preview", "weather-assistant", "--conversation", "nope"],
            "no conversation 'nope' in conversations/\n",
        ),
        (
            ["preview", "storyteller/children", "--conversation", "maya", "--var", "novalue"],
            "--var 'novalue' is not KEY=VALUE\n",
        ),
    ],
)
def test_user_errors_exit_1_on_one_line(example_repo, monkeypatch, capsys, args, message) -> None:
    monkeypatch.chdir(example_repo)
    code, out, err = run_main(capsys, *args)
    assert (code, out, err) == (1, "", f"error: {message}")


def test_no_project_found(cli_run, tmp_path: Path) -> None:
    result = cli_run("validate", cwd=tmp_path)
    assert result.code == 1
    assert result.err == (
        f"error: no personactl.yaml found in {tmp_path.resolve()} or any parent directory "
        "(hint: run `personactl init` or pass -C DIR)\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["bogus"],
        ["render", "--format", "xml"],
        ["validate", "--nope"],
        ["preview"],
    ],
)
def test_usage_errors_exit_1_without_traceback(cli_run, example_repo: Path, args) -> None:
    result = cli_run(*args, cwd=example_repo)
    assert result.code == 1
    assert result.out == ""
    assert "Error:" in result.err
    assert "Traceback" not in result.err


def test_invalid_project_file(cli_run, tmp_path: Path) -> None:
    build_tree(tmp_path, {"personactl.yaml": "version: 1\nvars: [a]\nenvironments: {local: {}}\n"})
    result = cli_run("validate", cwd=tmp_path)
    assert (result.code, result.out) == (1, "")
    assert result.err == "personactl.yaml:2:7: vars must be a mapping\n"


def test_validate_success_message(cli_run, example_repo: Path) -> None:
    result = cli_run("validate", cwd=example_repo)
    assert (result.code, result.out) == (0, "")
    assert result.err == EXAMPLE_VALID


def test_no_color_flag_accepted(example_repo: Path, capsys) -> None:
    code, out, _ = run_main(
        capsys, "--no-color", "-C", str(example_repo), "render", "weather-assistant"
    )
    assert code == 0
    assert "\x1b[" not in out


def test_no_traceback_on_unreadable_persona(cli_run, tmp_path: Path) -> None:
    build_tree(tmp_path, {"personactl.yaml": "version: 1\n", "personas/p.yaml": "persona: {}\n"})
    (tmp_path / "personas" / "p.yaml").write_bytes(b"persona: {system_prompt: caf\xe9}\n")
    (tmp_path / "personas" / "dir.yaml").mkdir()
    result = cli_run("validate", cwd=tmp_path)
    assert result.code == 1
    assert "personas/p.yaml:1:1: file is not valid UTF-8" in result.err
    assert "personas/dir.yaml:1:1: cannot read file: Is a directory" in result.err
    assert "Traceback" not in result.err


def test_repo_example_validates_in_place(
    cli_run,
) -> None:
    result = cli_run("-C", str(REPO), "validate")
    assert result.code == 0, result.err


def test_the_lazy_command_map_names_the_module_of_every_command() -> None:
    from personactl.cli._app import COMMAND_MODULES

    modules = {"compile", "completion", "conversation", "deploy", "diff", "llm", "serve", "state"}
    for module in modules:
        importlib.import_module(f"personactl.cli.{module}")
    defined = {name: command.callback.__module__ for name, command in cli.commands.items()}
    assert {n: f"personactl.cli.{m}" for n, m in COMMAND_MODULES.items()} == defined


def test_validate_imports_no_other_command_module(example_repo: Path) -> None:
    code = (
        "import sys\n"
        "from personactl.cli import main\n"
        "try:\n    main(['-C', sys.argv[1], 'validate'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('personactl.cli.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(example_repo)], capture_output=True, text=True, check=True
    )
    loaded = out.stdout.strip().splitlines()[-1]
    assert "personactl.cli.compile" in loaded
    for other in ("deploy", "serve", "state", "llm", "conversation"):
        assert f"personactl.cli.{other}'" not in loaded


def test_a_misspelled_command_is_matched_against_every_command(tmp_path: Path) -> None:
    result = run_cli("-C", str(tmp_path), "valdate")
    assert result.code == 1
    assert "No such command 'valdate'. Did you mean 'validate'?" in result.err
    assert "Did you mean 'import'?" in run_cli("-C", str(tmp_path), "imprt").err
