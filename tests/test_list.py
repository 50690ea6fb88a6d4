"""`personactl list [--kind KIND]`: ADDRESS<TAB>KIND<TAB>FILE, sorted by kind then address."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SECRETS, assert_no_secrets, build_tree

EXAMPLE = [
    "guardrails:no-diagnosis\tguardrails\tguardrails/no-diagnosis.yaml",
    "objectives:intake\tobjectives\tobjectives/intake.yaml",
    "intake-assistant\tpersonas\tpersonas/intake-assistant.yaml",
    "storyteller/children\tpersonas\tpersonas/storyteller.yaml",
    "storyteller/crime\tpersonas\tpersonas/storyteller.yaml",
    "storyteller/horror\tpersonas\tpersonas/storyteller.yaml",
    "weather-assistant\tpersonas\tpersonas/weather-assistant.yaml",
    "tools:lookup_patient\ttools\ttools/lookup_patient.yaml",
]


def test_list_the_example(cli_run, example_repo: Path) -> None:
    result = cli_run("list", cwd=example_repo, env=SECRETS)
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == EXAMPLE
    assert_no_secrets(result.out, result.err, root=example_repo)


@pytest.mark.parametrize("kind", ["personas", "objectives", "guardrails", "tools"])
def test_list_one_kind(cli_run, example_repo: Path, kind: str) -> None:
    result = cli_run("list", "--kind", kind, cwd=example_repo)
    assert result.code == 0
    assert result.out.splitlines() == [line for line in EXAMPLE if line.split("\t")[1] == kind]


def test_list_an_unknown_kind_is_a_usage_error(cli_run, example_repo: Path) -> None:
    result = cli_run("list", "--kind", "tool", cwd=example_repo)
    assert (result.code, result.out) == (1, "")
    assert "'tool' is not one of 'personas', 'objectives', 'guardrails', 'tools'" in result.err


def test_list_variants_and_nested_files(cli_run, tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "tools/team/get_weather.yaml": """
                tool: {name: get_weather, description: Weather.}
                variants: {eu: {}, us: {}}
            """,
            "tools/_base.yaml": "tool: {description: Base.}\n",
        },
    )
    result = cli_run("list", cwd=tmp_path)
    assert result.out.splitlines() == [
        "tools:team/get_weather/eu\ttools\ttools/team/get_weather.yaml",
        "tools:team/get_weather/us\ttools\ttools/team/get_weather.yaml",
    ]
    empty = build_tree(tmp_path / "empty", {"personactl.yaml": "version: 1\n"})
    assert cli_run("list", cwd=empty).out == ""


def test_no_such_address_points_at_list(cli_run, example_repo: Path) -> None:
    result = cli_run("render", "tools:lookup", cwd=example_repo)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "error: no tool 'tools:lookup' in this repository "
        "(hint: did you mean 'tools:lookup_patient'?)\n"
    )
    result = cli_run("render", "zzz", cwd=example_repo)
    assert result.err == (
        "error: no persona 'zzz' in this repository "
        "(hint: run `personactl list` to see every address)\n"
    )
    result = cli_run("render", "objectives:intak", cwd=example_repo)
    assert result.err == (
        "error: no objective set 'objectives:intak' in this repository "
        "(hint: did you mean 'objectives:intake'?)\n"
    )
