"""Templates cannot make personactl build huge values, and messages never show placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest

from personactl.compile.compilation import compile_project
from tests.conftest import build_tree


@pytest.mark.parametrize("expr", ["'a' * 10**8", "10**8 * 'a'", "[1, 2] * 10**7", "2 ** 100000"])
def test_work_bombs_are_sandbox_violations(tmp_path: Path, expr: str) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": f'persona:\n  system_prompt: "{{{{ {expr} }}}}"\n',
        },
    )
    result = compile_project(root=tmp_path)
    assert [p.format().split(": ", 1)[1] for p in result.errors][0].startswith("sandbox violation")


def test_small_arithmetic_still_works(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": "persona:\n  system_prompt: \"{{ '-' * 3 }}{{ 2 ** 10 }}\"\n",
        },
    )
    result = compile_project(root=tmp_path)
    assert not result.errors
    assert result.personas["a"].payload["system_prompt"] == "---1024"


def test_schema_messages_show_secrets_as_sensitive(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": """
            persona:
              system_prompt: hi
              layers:
                llm:
                  model: m
                  speculative_inference: "{{ secret('X') }}"
            """,
        },
    )
    text = "\n".join(p.format() for p in compile_project(root=tmp_path).problems)
    assert "\x00" not in text
    assert "personactl-secret" not in text
