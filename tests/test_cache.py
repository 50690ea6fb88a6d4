"""The validate cache answers only while every input it depends on is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SECRETS, assert_no_secrets, build_tree

PROJECT = "version: 1\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return build_tree(
        tmp_path / "r",
        {
            "personactl.yaml": PROJECT,
            "personas/a.yaml": (
                "persona:\n  system_prompt: \"{% include 'p.j2' %} {{ env('TONE', 'calm') }}\"\n"
            ),
            "templates/p.j2": "You help.\n",
        },
    )


def cache_file(repo: Path) -> Path:
    return repo / ".personactl" / "cache" / "validate-local.json"


def test_second_run_is_answered_from_the_cache(repo: Path, cli_run) -> None:
    first = cli_run("-C", str(repo), "validate")
    assert first.code == 0 and cache_file(repo).exists()
    cache_file(repo).write_text(
        cache_file(repo).read_text().replace('"personas": 1', '"personas": 41')
    )
    assert "41 personas" in cli_run("-C", str(repo), "validate").err  # served by the cache


@pytest.mark.parametrize("change", ["persona", "template", "project", "new file"])
def test_any_input_change_recompiles(repo: Path, cli_run, change: str) -> None:
    assert cli_run("-C", str(repo), "validate").code == 0
    if change == "persona":
        (repo / "personas/a.yaml").write_text("persona:\n  system_prompt: [1]\n")
    elif change == "template":
        (repo / "templates/p.j2").write_text("{{ nope }}\n")
    elif change == "project":
        (repo / "personactl.yaml").write_text("version: 2\n")
    else:
        (repo / "personas/b.yaml").write_text("persona: {modle: x}\n")
    result = cli_run("-C", str(repo), "validate")
    assert result.code == 1, result.err


def test_errors_are_cached_with_their_positions(repo: Path, cli_run) -> None:
    (repo / "personas/b.yaml").write_text("persona:\n  system_prompt: hi\n  modle: x\n")
    first = cli_run("-C", str(repo), "validate")
    second = cli_run("-C", str(repo), "validate")
    assert first.code == second.code == 1
    assert first.err == second.err
    assert "personas/b.yaml:3:3: " in second.err


def test_env_values_read_by_templates_are_part_of_the_key(repo: Path, cli_run) -> None:
    (repo / "personas/a.yaml").write_text(
        "persona:\n  system_prompt: hi\n  pipeline_mode: \"{{ env('MODE', 'full') }}\"\n"
    )
    assert cli_run("-C", str(repo), "validate").code == 0
    bad = cli_run("-C", str(repo), "validate", env={"MODE": "sideways"})
    assert bad.code == 1 and "sideways" in bad.err


def test_no_cache_env_var_bypasses_it(repo: Path, cli_run) -> None:
    result = cli_run("-C", str(repo), "validate", env={"PERSONACTL_NO_CACHE": "1"})
    assert result.code == 0
    assert not cache_file(repo).exists()


def test_plan_uses_cached_personas_only_while_inputs_are_unchanged(
    example_repo: Path, cli_run
) -> None:
    env = dict(SECRETS)
    assert cli_run("-C", str(example_repo), "validate").code == 0
    # compiled payloads live in the per-file entries (personactl.compile.incremental)
    assert (example_repo / ".personactl/cache/files-local.json").exists()
    assert cli_run("-C", str(example_repo), "apply", "--auto-approve", env=env).code == 0
    assert cli_run("-C", str(example_repo), "plan", "--detailed-exitcode", env=env).code == 0

    story = example_repo / "personas/storyteller.yaml"
    story.write_text(story.read_text().replace("Mert the Crime", "Mert the Noir"))
    changed = cli_run("-C", str(example_repo), "plan", "--detailed-exitcode", env=env)
    assert changed.code == 2
    assert '"Mert the Noir Storyteller"' in changed.out
    assert_no_secrets(changed.out, changed.err, root=example_repo)


def test_a_cache_hit_with_errors_never_serves_personas(repo: Path, cli_run) -> None:
    (repo / "personas/b.yaml").write_text("persona: {modle: x}\n")
    assert cli_run("-C", str(repo), "validate").code == 1
    plan = cli_run("-C", str(repo), "plan")
    assert plan.code == 1 and "unknown key 'modle'" in plan.err
