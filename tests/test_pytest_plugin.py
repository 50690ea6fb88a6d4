"""The `personactl_snapshot` pytest plugin, run by the real pytest in a user repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SECRETS, assert_no_secrets

TEST_FILE = """\
def test_personas(personactl_snapshot):
    personactl_snapshot.assert_all()
"""


def _pytest(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # the user's own pytest run: none of this session's pytest variables
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=repo,
        env={**env, **SECRETS, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_snapshots_of_every_persona(example_repo: Path) -> None:
    (example_repo / "tests").mkdir()
    (example_repo / "tests/test_personas.py").write_text(TEST_FILE)

    first = _pytest(example_repo, "--snapshot-update")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "8 snapshots generated." in first.stdout
    ambr = (example_repo / "tests/__snapshots__/test_personas.ambr").read_text()
    assert [line for line in ambr.splitlines() if line.startswith("# name:")] == [
        "# name: test_personas[guardrails:no-diagnosis]",
        "# name: test_personas[intake-assistant]",
        "# name: test_personas[objectives:intake]",
        "# name: test_personas[storyteller/children]",
        "# name: test_personas[storyteller/crime]",
        "# name: test_personas[storyteller/horror]",
        "# name: test_personas[tools:lookup_patient]",
        "# name: test_personas[weather-assistant]",
    ]
    assert "'api_key': '(sensitive)'," in ambr
    assert_no_secrets(first.stdout, first.stderr, root=example_repo)

    again = _pytest(example_repo)
    assert again.returncode == 0, again.stdout
    assert "8 snapshots passed." in again.stdout

    prompt = example_repo / "templates/prompts/storyteller.md.j2"
    prompt.write_text(prompt.read_text().replace("telling stories", "telling tales"))
    failed = _pytest(example_repo)
    assert failed.returncode == 1
    out = failed.stdout
    assert (
        "3 compiled persona(s) differ from their snapshots "
        "(review, then `pytest --snapshot-update`):\n\nstoryteller/children:\n"
    ) in out
    assert "-     You are a storyteller. You like telling stories to children.\n" in out
    assert "+     You are a storyteller. You like telling tales to children.\n" in out
    assert "storyteller/horror:\n" in out
    assert "weather-assistant:\n" not in out
    assert "3 snapshots failed. 5 snapshots passed." in out
    assert_no_secrets(failed.stdout, failed.stderr, root=example_repo)


def test_an_invalid_repository_fails_with_its_problems(example_repo: Path) -> None:
    (example_repo / "tests").mkdir()
    (example_repo / "tests/test_personas.py").write_text(TEST_FILE)
    persona = example_repo / "personas/weather-assistant.yaml"
    persona.write_text(persona.read_text().replace("  context:", "  contxt:", 1))
    proc = _pytest(example_repo, "--snapshot-update")
    assert proc.returncode == 1
    assert (
        "personas/weather-assistant.yaml:6:3: weather-assistant: unknown key 'contxt' "
        "(hint: did you mean 'context'?)"
    ) in proc.stdout


def test_project_option(example_repo: Path, tmp_path: Path) -> None:
    """Tests kept outside the persona repository point at it."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_personas.py").write_text(TEST_FILE)
    proc = _pytest(suite, "--snapshot-update", "--personactl-project", str(example_repo))
    assert proc.returncode == 0, proc.stdout
    assert "8 snapshots generated." in proc.stdout
