"""`validate --format text|github|json`, and validate across every environment (DESIGN §4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import build_tree, run_cli

PROJECT = """
version: 1
default_environment: local
environments:
  local: {backend: local}
  prod:
    backend: tavus
    overrides:
      layers: {stt: {participant_pause_sensitivity: loud}}
"""
FILES = {
    "personactl.yaml": PROJECT,
    "personas/a.yaml": """
        allow_unknown_keys: true
        persona:
          system_prompt: hi
          brand_new_field: 1
    """,
    "personas/b.yaml": """
        persona:
          system_prompt: hi
          pipeline_mod: full
    """,
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "r", FILES)


LOUD = (
    "invalid value 'loud' for participant_pause_sensitivity; "
    "expected one of: superlow, verylow, low, medium, high, veryhigh, superhigh"
)
PIPELINE = "b: unknown key 'pipeline_mod' (hint: did you mean 'pipeline_mode'?)"


def test_text_reports_each_problem_once_naming_env_only_problems(repo: Path) -> None:
    r = run_cli("validate", cwd=repo)
    assert (r.code, r.out) == (1, "")
    assert r.err.splitlines() == [
        "personas/a.yaml:4:3: warning: a: unknown key 'brand_new_field'",
        # one line of the project file breaks both personas: one error naming them
        f"personactl.yaml:8:53: {LOUD} [env: prod] (in 2 personas: a, b)",
        f"personas/b.yaml:3:3: {PIPELINE}",
        "2 errors, 1 warning in 3 files",
    ]


def test_env_option_checks_only_that_environment(repo: Path) -> None:
    local = run_cli("--env", "local", "validate", cwd=repo)
    assert local.code == 1
    assert local.err.splitlines() == [
        "personas/a.yaml:4:3: warning: a: unknown key 'brand_new_field'",
        f"personas/b.yaml:3:3: {PIPELINE}",
        "1 error, 1 warning in 2 files",
    ]
    prod = run_cli("validate", "--env", "prod", cwd=repo)
    assert prod.code == 1
    assert prod.err.splitlines() == [
        "personas/a.yaml:4:3: warning: a: unknown key 'brand_new_field'",
        f"personactl.yaml:8:53: {LOUD} (in 2 personas: a, b)",
        f"personas/b.yaml:3:3: {PIPELINE}",
        "2 errors, 1 warning in 3 files",
    ]


def test_github_annotations(repo: Path) -> None:
    r = run_cli("validate", "--format", "github", cwd=repo)
    assert r.code == 1
    assert r.out.splitlines() == [
        f"::error file=personactl.yaml,line=8,col=53::a: {LOUD} [env: prod]",
        f"::error file=personactl.yaml,line=8,col=53::b: {LOUD} [env: prod]",
        "::warning file=personas/a.yaml,line=4,col=3::a: unknown key 'brand_new_field'",
        f"::error file=personas/b.yaml,line=3,col=3::{PIPELINE}",
    ]
    assert r.err == ""


def test_json_array(repo: Path) -> None:
    r = run_cli("validate", "--format", "json", "--env", "local", cwd=repo)
    assert r.code == 1
    assert json.loads(r.out) == [
        {
            "file": "personas/a.yaml",
            "line": 4,
            "col": 3,
            "severity": "warning",
            "message": "a: unknown key 'brand_new_field'",
        },
        {
            "file": "personas/b.yaml",
            "line": 3,
            "col": 3,
            "severity": "error",
            "message": PIPELINE,
        },
    ]


def test_valid_project_in_every_format(repo: Path) -> None:
    (repo / "personas/b.yaml").write_text("persona: {system_prompt: hi}\n")
    (repo / "personactl.yaml").write_text(PROJECT.replace("loud", "low"))
    warning = "personas/a.yaml:4:3: warning: a: unknown key 'brand_new_field'"
    valid = "2 personas and 0 conversation templates are valid.\n"
    text = run_cli("validate", "--format", "text", cwd=repo)
    assert (text.code, text.out, text.err) == (0, "", f"{warning}\n{valid}")
    github = run_cli("validate", "--format", "github", cwd=repo)
    assert (github.code, github.err) == (0, valid)
    assert (
        github.out
        == "::warning file=personas/a.yaml,line=4,col=3::a: unknown key 'brand_new_field'\n"
    )
    data = run_cli("validate", "--format", "json", cwd=repo)
    assert (data.code, data.err) == (0, valid)
    assert [row["severity"] for row in json.loads(data.out)] == ["warning"]


def test_message_escaping_for_annotations(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/p,1.yaml": "persona: {system_prompt: hi, 'odd%key': 1}\n",
        },
    )
    r = run_cli("validate", "--format", "github", cwd=tmp_path)
    assert r.out == "::error file=personas/p%2C1.yaml,line=1,col=30::p,1: unknown key 'odd%25key'\n"


def test_each_environment_keeps_its_own_cache_entry(repo: Path) -> None:
    first = run_cli("validate", "--format", "json", cwd=repo)
    cache = repo / ".personactl" / "cache"
    assert sorted(p.name for p in cache.iterdir()) == [
        "files-local.json",
        "files-prod.json",
        "validate-local.json",
        "validate-prod.json",
    ]
    prod = cache / "validate-prod.json"
    prod.write_text(prod.read_text().replace("unknown key 'modle'", "unknown key 'cached'"))
    again = run_cli("validate", "--format", "json", cwd=repo)
    assert again.out == first.out.replace("unknown key 'modle'", "unknown key 'cached'")
