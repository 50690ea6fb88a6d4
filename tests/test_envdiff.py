"""`personactl diff --env A --env B`: the compiled difference between two environments."""

from __future__ import annotations

from pathlib import Path

import pytest

from personactl import sensitive
from personactl.deploy import envdiff
from tests.conftest import assert_no_secrets, build_tree, run_cli

ENVS = {
    "personactl.yaml": """
        version: 1
        default_environment: staging
        environments:
          staging:
            backend: local
            vars: {tone: gentle, key_name: LLM_KEY, llm_url: https://llm.staging.example/v1}
          prod:
            backend: local
            vars: {tone: calm, key_name: PROD_LLM_KEY, llm_url: https://llm.acme.example/v1}
          prod-copy:
            backend: local
            vars: {tone: calm, key_name: PROD_LLM_KEY, llm_url: https://llm.acme.example/v1}
        """,
    "personas/guide.yaml": """
        persona:
          persona_name: Guide
          system_prompt: |
            You are a guide.
            Speak in a {{ tone }} voice.
            Keep answers short.
          layers:
            llm:
              model: m
              base_url: "{{ llm_url }}"
              api_key: "{{ secret(key_name) }}"
        """,
    "personas/same.yaml": """
        persona:
          persona_name: Same
          system_prompt: Fixed.
        """,
}
# values exported while diffing: neither may appear anywhere
VALUES = {"LLM_KEY": "staging-key-DO-NOT-LEAK-1", "PROD_LLM_KEY": "prod-key-DO-NOT-LEAK-2"}

GUIDE = """\
~ changed guide
    ~ /system_prompt:
        @@ -1,3 +1,3 @@
         You are a guide.
        -Speak in a gentle voice.
        +Speak in a calm voice.
         Keep answers short.
    ~ /layers/llm/base_url: "https://llm.staging.example/v1" -> "https://llm.acme.example/v1"
    ~ /layers/llm/api_key: (sensitive) changed
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "repo", ENVS)


def test_diff_between_two_environments(repo: Path) -> None:
    result = run_cli("diff", "--env", "staging", "--env", "prod", cwd=repo, env=VALUES)
    assert (result.code, result.err) == (0, "")
    assert result.out == (
        "Environments staging -> prod\n\n"
        + GUIDE
        + "\nDiff staging -> prod: 0 added, 1 changed, 0 removed, 1 unchanged.\n"
    )
    for value in VALUES.values():
        assert value not in result.both


def test_detailed_exitcode_and_addresses(repo: Path) -> None:
    changed = run_cli("diff", "--env", "staging", "--env", "prod", "--detailed-exitcode", cwd=repo)
    assert changed.code == 2
    # the global --env counts as the first environment; an address narrows the diff
    same = run_cli(
        "--env", "staging", "diff", "--env", "prod", "--detailed-exitcode", "same", cwd=repo
    )
    assert (same.code, same.err) == (0, "")
    assert same.out == (
        "Environments staging -> prod\n\n"
        "No differences: staging and prod compile the same.\n\n"
        "Diff staging -> prod: 0 added, 0 changed, 0 removed, 1 unchanged.\n"
    )
    copy = run_cli("diff", "--env", "prod", "--env", "prod-copy", "--detailed-exitcode", cwd=repo)
    assert copy.code == 0
    assert copy.out.endswith(
        "Diff prod -> prod-copy: 0 added, 0 changed, 0 removed, 2 unchanged.\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--env", "staging"],
            "diff compares two environments; 1 given (hint: personactl diff --env A --env B)",
        ),
        (
            ["--env", "prod", "--env", "prod"],
            "diff compares two environments; both are 'prod' "
            "(hint: personactl diff --env A --env B)",
        ),
        (
            ["--env", "prod", "--env", "prd"],
            "unknown environment 'prd' (hint: environments: prod, prod-copy, staging)",
        ),
        (
            ["--env", "staging", "--env", "prod", "gide"],
            "no address 'gide' in either environment (hint: did you mean 'guide'?)",
        ),
    ],
)
def test_diff_usage_errors(repo: Path, args: list[str], message: str) -> None:
    result = run_cli("diff", *args, cwd=repo)
    assert (result.code, result.out, result.err) == (1, "", f"error: {message}\n")


def test_a_broken_environment_is_reported(repo: Path) -> None:
    (repo / "personas/guide.yaml").write_text("persona: {persona_name: 3}\n")
    result = run_cli("diff", "--env", "staging", "--env", "prod", cwd=repo)
    assert result.code == 1
    assert result.err.startswith("personas/guide.yaml:1:")


def test_added_removed_and_secrets_by_name() -> None:
    key = sensitive.placeholder
    a = {
        "gone": {"persona_name": "Gone"},
        "kept": {
            "layers": {"llm": {"api_key": key("A"), "headers": {"X": key("H")}}},
            "tools": [{"auth": key("T")}],
        },
    }
    b = {
        "kept": {
            "layers": {"llm": {"api_key": key("A"), "headers": {"X": "plain"}}},
            "tools": [{"auth": key("T2")}],
        },
        "new": {
            "persona_name": "New",
            "system_prompt": "Line one.\nLine two.",
            "layers": {"llm": {"api_key": key("B")}},
        },
    }
    diff = envdiff.compare("dev", "prod", a, b)
    assert [(r.address, r.status) for r in diff.resources] == [
        ("gone", "removed"),
        ("kept", "changed"),
        ("new", "added"),
    ]
    assert envdiff.text(diff) == (
        "Environments dev -> prod\n\n"
        "- removed gone  (only in dev)\n\n"
        "~ changed kept\n"
        '    ~ /layers/llm/headers/X: "(sensitive)" -> "plain"\n'
        "    ~ /tools: (sensitive) changed\n\n"
        "+ added new  (only in prod)\n"
        '    + /persona_name: "New"\n'
        "    + /system_prompt:\n"
        "        + Line one.\n"
        "        + Line two.\n"
        '    + /layers/llm/api_key: "(sensitive)"\n\n'
        "Diff dev -> prod: 1 added, 1 changed, 1 removed, 0 unchanged.\n"
    )
    assert "\x00" not in envdiff.text(diff)


def test_diff_of_the_example_repository(example_repo: Path) -> None:
    from tests.conftest import SECRETS

    result = run_cli(
        "diff",
        "--env",
        "local",
        "--env",
        "prod",
        "storyteller/children",
        cwd=example_repo,
        env=SECRETS,
    )
    assert result.code == 0, result.err
    assert result.out == (
        "Environments local -> prod\n\n"
        "~ changed storyteller/children\n"
        '    ~ /layers/llm/base_url: "https://llm.example.com/v1" -> "https://llm.acme.example/v1"\n\n'
        "Diff local -> prod: 0 added, 1 changed, 0 removed, 0 unchanged.\n"
    )
    assert_no_secrets(result.both)
