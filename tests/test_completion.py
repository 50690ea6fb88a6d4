"""Shell completion: `personactl completion SHELL`, run through a real bash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import build_tree, run_cli

BIN = Path(sys.executable).parent  # the personactl console script of this environment


def _bash(script: str, cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def _complete(words: str, cwd: Path) -> list[str]:
    """What bash offers for the last word of `words` (a trailing space: a new word)."""
    last = ' ""' if words.endswith(" ") else ""  # bash's empty word after a space
    return _bash(
        'eval "$(personactl completion bash)"\n'
        f"COMP_WORDS=({words}{last})\n"
        "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
        "_personactl_completion personactl\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n',
        cwd,
    ).split()


def test_bash_registers_the_completion(example_repo: Path) -> None:
    out = _bash('eval "$(personactl completion bash)"\ncomplete -p personactl', example_repo)
    assert out == "complete -o nosort -F _personactl_completion personactl\n"


def test_bash_completes_commands_and_options(example_repo: Path) -> None:
    assert _complete("personactl di", example_repo) == ["diff"]
    assert "completion" in _complete("personactl ", example_repo)
    assert _complete("personactl plan --detailed", example_repo) == ["--detailed-exitcode"]


def test_bash_completes_addresses(example_repo: Path) -> None:
    assert _complete("personactl render ", example_repo) == [
        "guardrails:no-diagnosis",
        "intake-assistant",
        "objectives:intake",
        "storyteller/children",
        "storyteller/crime",
        "storyteller/horror",
        "tools:lookup_patient",
        "weather-assistant",
    ]
    assert _complete("personactl plan --target story", example_repo) == [
        "storyteller/children",
        "storyteller/crime",
        "storyteller/horror",
    ]
    assert _complete("personactl state mv weather", example_repo) == ["weather-assistant"]


def test_bash_completes_environments_and_conversations(example_repo: Path) -> None:
    assert _complete("personactl --env ", example_repo) == ["local", "prod"]
    assert _complete("personactl diff --env local --env p", example_repo) == ["prod"]
    assert _complete("personactl conversation render ", example_repo) == ["maya"]


def test_completion_reads_names_without_compiling(tmp_path: Path) -> None:
    """Every kind's folder, a file's `name` and `variants`; a broken template is no obstacle,
    and -C points at another repository."""
    repo = build_tree(
        tmp_path / "repo",
        {
            "personactl.yaml": "version: 1\nenvironments: {dev: {}, qa: {}}\n",
            "personas/a.yaml": "name: alpha\npersona: {system_prompt: '{{ broken'}\n",
            "personas/team/b.yaml": "variants: {x: {}, y: {}}\n",
            "personas/_bases/base.yaml": "persona: {}\n",
            "personas/bad.yaml": "persona: [unclosed\n",
            "tools/get_weather.yaml": "tool: {name: get_weather}\n",
            "objectives/intake.yaml": "variants: {short: {}}\n",
        },
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _complete(f"personactl -C {repo} render ", elsewhere) == [
        "alpha",
        "bad",
        "objectives:intake/short",
        "team/b/x",
        "team/b/y",
        "tools:get_weather",
    ]
    assert _complete(f"personactl -C {repo} render to", elsewhere) == ["tools:get_weather"]
    assert _complete(f"personactl -C {repo} --env ", elsewhere) == ["dev", "qa"]
    # outside any repository: nothing, and no error
    assert _complete("personactl render ", elsewhere) == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    result = run_cli("completion", shell)
    assert result.code == 0
    assert "_PERSONACTL_COMPLETE" in result.out
    assert f"{shell}_complete" in result.out


def test_unknown_shell() -> None:
    result = run_cli("completion", "tcsh")
    assert result.code == 1
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.err


def test_names_are_cached_by_file_stamp(tmp_path: Path) -> None:
    from personactl.compile.addresses import addresses

    repo = build_tree(
        tmp_path / "repo",
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": "variants: {x: {}}\n",
            ".personactl/.keep": "",
        },
    )
    assert addresses(repo) == ["a/x"]
    cached = (repo / ".personactl/cache/names.json").read_text()
    assert '"personas/a.yaml"' in cached
    (repo / "personas/a.yaml").write_text("variants: {x: {}, longer: {}}\n")
    assert addresses(repo) == ["a/longer", "a/x"]
    (repo / "personas/a.yaml").unlink()
    assert addresses(repo) == []
    assert '"personas/a.yaml"' not in (repo / ".personactl/cache/names.json").read_text()


def test_variants_made_from_data_complete_and_follow_the_data_file(tmp_path: Path) -> None:
    repo = build_tree(
        tmp_path / "repo",
        {
            "personactl.yaml": "version: 1\n",
            "data/t.csv": "id\nacme\n",
            "personas/s.yaml": "variants_from: data/t.csv\nvariants_key: id\n"
            "matrix: {lang: [en, es]}\n",
            ".personactl/.keep": "",
        },
    )
    assert _complete("personactl render s", repo) == ["s/acme/en", "s/acme/es"]
    (repo / "data/t.csv").write_text("id\nacme\nglobex\n")  # the persona file is unchanged
    assert _complete("personactl render s/g", repo) == ["s/globex/en", "s/globex/es"]
