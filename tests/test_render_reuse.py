"""A string rendered again with the same inputs is reused: same results, same limits."""

from __future__ import annotations

from pathlib import Path

from personactl.compile.compilation import compile_project
from tests.conftest import build_tree, run_cli

PROJECT = "version: 1\n"


def _prompts(root: Path) -> dict[str, str]:
    result = compile_project(root=root)
    assert [p.format() for p in result.errors] == []
    return {a: p.payload["system_prompt"] for a, p in result.personas.items()}


def test_included_templates_variables_are_part_of_the_key(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "templates/outer.j2": "Hi {% include 'inner.j2' %}",
            "templates/inner.j2": "{{ who }} of {% for t in teams %}{{ t }}{% endfor %}",
            "personas/p.yaml": """
                vars: {who: Ann, teams: [a]}
                persona:
                  system_prompt: "{% include 'outer.j2' %}"
                  pipeline_mode: full
                variants:
                  one: {}
                  two: {vars: {who: Bob}}
                  three: {vars: {teams: [a, b]}}
                  four: {}
            """,
        },
    )
    assert _prompts(tmp_path) == {
        "p/one": "Hi Ann of a",
        "p/two": "Hi Bob of a",
        "p/three": "Hi Ann of ab",
        "p/four": "Hi Ann of a",
    }


def test_the_persona_address_is_an_input(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/p.yaml": """
                persona:
                  system_prompt: "I am {{ personactl.address }}"
                variants: {a: {}, b: {}}
            """,
        },
    )
    assert _prompts(tmp_path) == {"p/a": "I am p/a", "p/b": "I am p/b"}


def test_reused_renders_count_against_the_budget(tmp_path: Path) -> None:
    # each string builds 900,000 characters: 23 of them exceed the 20,000,000 in all,
    # whether rendered 23 times or rendered once and reused
    items = "\n".join("    - \"{{ ('x' * 900000) | length }}\"" for _ in range(23))
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/p.yaml": f"persona:\n  system_prompt: hi\n  tags:\n{items}\n",
        },
    )
    errors = [p.message for p in compile_project(root=tmp_path).errors]
    assert any("built more than 20,000,000 characters in all" in m for m in errors), errors


def test_env_is_rendered_each_time(tmp_path: Path) -> None:
    # env() is never reused: each file's call is refused on its own
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/a.yaml": "persona:\n  system_prompt: \"{{ env('X', 'd') }}\"\n",
            "personas/b.yaml": "persona:\n  system_prompt: \"{{ secret('X') }}\"\n",
            "personas/c.yaml": "persona:\n  system_prompt: \"{{ env('X', 'd') }}\"\n",
        },
    )
    errors = [p.format() for p in compile_project(root=tmp_path).errors]
    assert [e.split(" (")[0] for e in errors] == [
        "personas/a.yaml:2:18: env('X') reads a secret",
        "personas/c.yaml:2:18: env('X') reads a secret",
    ]


def test_a_reused_single_expression_keeps_its_type(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/p.yaml": """
                vars: {minutes: 5, tags: [a, b]}
                persona:
                  system_prompt: Hi.
                  pipeline_mode: full
                  document_tags: "{{ tags }}"
                  layers: {knowledge_base: {rag_n_chunks: "{{ minutes * 2 }}"}}
                variants: {one: {}, two: {}, three: {vars: {minutes: 1}}}
            """,
        },
    )
    result = compile_project(root=tmp_path)
    assert [p.format() for p in result.errors] == []
    got = {
        a: (p.payload["layers"]["knowledge_base"]["rag_n_chunks"], p.payload["document_tags"])
        for a, p in result.personas.items()
    }
    assert got == {
        "p/one": (10, ["a", "b"]),
        "p/two": (10, ["a", "b"]),
        "p/three": (2, ["a", "b"]),
    }


def test_a_loop_variable_named_like_a_persona_variable_keeps_the_reuse(tmp_path: Path) -> None:
    """The key is what the template reads from outside: `story` is its own loop variable,
    so three variants that differ only in a `story` variable render once."""
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "templates/list.j2": "{% for story in stories %}{{ story }} {% endfor %}",
            "personas/p.yaml": """
                vars: {stories: [a, b]}
                persona:
                  system_prompt: "{% include 'list.j2' %}"
                  pipeline_mode: full
                variants:
                  one: {vars: {story: x}}
                  two: {vars: {story: y}}
                  three: {vars: {story: z}}
            """,
        },
    )
    debug = {"PERSONACTL_DEBUG_COMPILE": "1", "PERSONACTL_NO_CACHE": "1"}
    result = run_cli("-C", str(tmp_path), "validate", env=debug)
    assert result.code == 0, result.err
    assert "compiled with 1 Jinja renders in this process (local)" in result.err.splitlines()
    assert set(_prompts(tmp_path).values()) == {"a b "}
