"""The pre-commit hooks of .pre-commit-hooks.yaml, run by the real `pre-commit` tool.

A temporary git repository (a copy of the example) uses a committed copy of this
project as its hook repository, `language: python`: pre-commit builds its own
virtualenv and installs personactl from that copy, as it would for a user's `repo:`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, SECRETS, assert_no_secrets, run_cli

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}
# what pip needs to install a package from the hook repository
PACKAGE = ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml", "personactl")


def _git(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository holding this project's working tree, and its commit."""
    dest = tmp_path_factory.mktemp("hooks")
    for name in PACKAGE:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dest / name)
    _git("init", "-q", cwd=dest)
    _git("add", "-A", cwd=dest)
    _git("commit", "-qm", "hooks", cwd=dest)
    return dest, _git("rev-parse", "HEAD", cwd=dest)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One hook environment for the module: pre-commit installs personactl once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def user_repo(example_repo: Path, hook_repo: tuple[Path, str]) -> Path:
    path, rev = hook_repo
    (example_repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n"
        f"  - repo: {path}\n"
        f"    rev: {rev}\n"
        f"    hooks:\n"
        f"      - id: personactl-validate\n"
        f"      - id: personactl-render-check\n"
        f"        args: [--out, rendered/]\n"
    )
    # as in this repository and in one `personactl init` makes: render fills the cache
    (example_repo / ".gitignore").write_text(".personactl/\n")
    rendered = run_cli("render", "--out", "rendered/", cwd=example_repo)
    assert rendered.code == 0, rendered.err
    _git("init", "-q", cwd=example_repo)
    _git("add", "-A", cwd=example_repo)
    return example_repo


def _pre_commit(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV, **SECRETS, "PRE_COMMIT_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_hooks_pass_on_a_fresh_render(user_repo: Path, pre_commit_home: Path) -> None:
    proc = _pre_commit("run", "--all-files", cwd=user_repo, home=pre_commit_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith("[INFO]")]
    assert lines == [
        "personactl validate......................................................Passed",
        "personactl render --check................................................Passed",
    ]


def test_a_prompt_edit_makes_render_check_fail(user_repo: Path, pre_commit_home: Path) -> None:
    prompt = user_repo / "templates/prompts/storyteller.md.j2"
    prompt.write_text(prompt.read_text().replace("telling stories", "telling tales"))
    (user_repo / "rendered/old-persona.json").write_text("{}\n")
    _git("add", "-A", cwd=user_repo)
    proc = _pre_commit("run", "--all-files", cwd=user_repo, home=pre_commit_home)
    assert proc.returncode == 1
    out = proc.stdout
    assert "personactl validate......................................................Passed" in out
    assert (
        "personactl render --check................................................Failed\n"
        "- hook id: personactl-render-check\n"
        "- exit code: 1\n"
        "\n"
        "rendered/storyteller/children.json:29:1: stale: differs from the compiled persona\n"
        "rendered/storyteller/crime.json:29:1: stale: differs from the compiled persona\n"
        "rendered/storyteller/horror.json:29:1: stale: differs from the compiled persona\n"
        "rendered/old-persona.json: stale: no persona renders to it any more\n"
        "error: 4 rendered file(s) under rendered/ are stale "
        "(hint: run `personactl render --out rendered/` and commit the result)\n"
    ) in out
    assert_no_secrets(proc.stdout, proc.stderr)

    # installed as the git hook, the same check refuses the commit
    assert _pre_commit("install", cwd=user_repo, home=pre_commit_home).returncode == 0
    commit = subprocess.run(
        ["git", "commit", "-qm", "edit the prompt"],
        cwd=user_repo,
        env={**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(pre_commit_home)},
        capture_output=True,
        text=True,
    )
    assert commit.returncode == 1
    assert "personactl render --check" in commit.stdout + commit.stderr
    assert _git("rev-list", "--all", cwd=user_repo) == ""  # nothing was committed


def test_a_broken_persona_makes_validate_fail(user_repo: Path, pre_commit_home: Path) -> None:
    persona = user_repo / "personas/weather-assistant.yaml"
    persona.write_text(persona.read_text().replace("  context:", "  contxt:", 1))
    _git("add", "-A", cwd=user_repo)
    proc = _pre_commit(
        "run", "personactl-validate", "--all-files", cwd=user_repo, home=pre_commit_home
    )
    assert proc.returncode == 1
    assert (
        "personactl validate......................................................Failed\n"
        "- hook id: personactl-validate\n"
        "- exit code: 1\n"
        "\n"
        "personas/weather-assistant.yaml:"
    ) in proc.stdout
    assert "weather-assistant: unknown key 'contxt' (hint: did you mean 'context'?)" in proc.stdout
