"""Incremental compile: after an edit, exactly the files whose inputs changed compile again
(counted through PERSONACTL_DEBUG_COMPILE), and every result equals an uncached run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Result, build_tree, run_cli

DEBUG = {"PERSONACTL_DEBUG_COMPILE": "1"}
NO_CACHE = {"PERSONACTL_NO_CACHE": "1"}

FILES = {
    "personactl.yaml": (
        "version: 1\ndefault_environment: local\nvars: {company: Acme}\n"
        "environments:\n  local: {backend: local}\n"
        "  staging: {backend: local, vars: {tier: staging}}\n"
    ),
    "personas/_bases/base.yaml": "vars: {tone: calm}\npersona: {pipeline_mode: full}\n",
    "personas/_bases/mid.yaml": "extends: [_bases/base.yaml]\nvars: {mood: kind}\n",
    "personas/a.yaml": "extends: [_bases/mid.yaml]\npersona: {system_prompt: 'A {{ tone }}'}\n",
    "personas/b.yaml": "extends: [_bases/base.yaml]\npersona: {system_prompt: B}\n",
    "personas/c.yaml": "persona:\n  system_prompt: \"{% include 'outer.j2' %}\"\n",
    "personas/d.yaml": "persona:\n  system_prompt: \"{% include 'inner.j2' %}\"\n",
    "personas/e.yaml": "persona: {system_prompt: \"E {{ env('E_TONE', 'plain') }}\"}\n",
    "personas/f.yaml": "persona: {system_prompt: F, tool_ids: [\"{{ ref('tools:lookup') }}\"]}\n",
    "tools/lookup.yaml": (
        "tool:\n  name: lookup\n  description: Look it up\n"
        "  parameters: {type: object, properties: {}}\n"
    ),
    "templates/outer.j2": "Outer {% include 'inner.j2' %}",
    "templates/inner.j2": "inner {{ company }}",
}
ALL = {"a", "b", "c", "d", "e", "f", "lookup"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = build_tree(tmp_path / "r", FILES)
    first = validate(root)
    assert first.code == 0, first.err
    assert compiled(first) == {"local": ALL, "staging": ALL}
    return root


def validate(root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return run_cli("-C", str(root), *args, "validate", env={**DEBUG, **(env or {})})


def compiled(result: Result) -> dict[str, set[str]]:
    """env -> the file stems compiled (absent: answered by the whole-repository cache)."""
    found = {}
    for line in result.err.splitlines():
        match = re.match(r"compiled (\d+) of \d+ files \((\w+)\): ?(.*)$", line)
        if match:
            names = [n for n in match[3].split(", ") if n]
            assert len(names) == int(match[1])
            found[match[2]] = {Path(n).stem for n in names}
    return found


def without_debug(text: str) -> str:
    return "\n".join(x for x in text.splitlines() if not x.startswith("compiled "))


def same_as_uncached(root: Path, result: Result, *args: str) -> None:
    fresh = run_cli("-C", str(root), *args, "validate", env=NO_CACHE)
    assert (result.code, without_debug(result.err), result.out) == (
        fresh.code,
        without_debug(fresh.err),
        fresh.out,
    )


def edit(root: Path, rel: str, text: str) -> None:
    (root / rel).write_text(text, encoding="utf-8")


def test_nothing_changed_compiles_nothing(repo: Path) -> None:
    again = validate(repo)
    assert again.code == 0 and compiled(again) == {}


@pytest.mark.parametrize(
    ("rel", "text", "expected"),
    [
        ("personas/b.yaml", "extends: [_bases/base.yaml]\npersona: {system_prompt: B2}\n", {"b"}),
        # a base: the files extending it, through another base too
        ("personas/_bases/base.yaml", "vars: {tone: warm}\n", {"a", "b"}),
        ("personas/_bases/mid.yaml", "extends: [_bases/base.yaml]\n", {"a"}),
        # a template: those including it, also through another template
        ("templates/outer.j2", "Outer2 {% include 'inner.j2' %}", {"c"}),
        ("templates/inner.j2", "inner2 {{ company }}", {"c", "d"}),
        ("tools/lookup.yaml", FILES["tools/lookup.yaml"].replace("Look", "Seek"), {"lookup"}),
    ],
    ids=["persona", "base", "base-of-base", "template", "included-template", "tool"],
)
def test_an_edit_recompiles_exactly_the_files_reading_it(
    repo: Path, rel: str, text: str, expected: set[str]
) -> None:
    edit(repo, rel, text)
    result = validate(repo)
    assert compiled(result) == {"local": expected, "staging": expected}
    same_as_uncached(repo, result)


def test_project_and_environment_config_recompile_everything_of_that_env(repo: Path) -> None:
    config = FILES["personactl.yaml"]
    edit(repo, "personactl.yaml", config.replace("company: Acme", "company: Acme2"))
    result = validate(repo, "--env", "staging")
    assert compiled(result) == {"staging": ALL}
    same_as_uncached(repo, result, "--env", "staging")
    # the environment's overrides: a different env entry, compiled again only for it
    edit(
        repo,
        "personactl.yaml",
        config.replace("tier: staging}", "tier: staging}, overrides: {pipeline_mode: echo}"),
    )
    assert compiled(validate(repo, "--env", "local")) == {"local": ALL}
    result = validate(repo, "--env", "staging")
    assert compiled(result) == {"staging": ALL}
    same_as_uncached(repo, result, "--env", "staging")


def test_an_env_value_recompiles_only_the_files_reading_it(repo: Path) -> None:
    result = validate(repo, env={"E_TONE": "loud"})
    assert compiled(result) == {"local": {"e"}, "staging": {"e"}}
    assert compiled(validate(repo, env={"E_TONE": "loud"})) == {}
    same_as_uncached(repo, validate(repo, env={"E_TONE": "loud"}))


def test_deleting_and_adding_files(repo: Path) -> None:
    (repo / "personas/b.yaml").unlink()
    result = validate(repo, "--env", "local")
    assert compiled(result) == {"local": set()}
    assert "5 personas" in result.err
    same_as_uncached(repo, result, "--env", "local")
    edit(repo, "personas/g.yaml", "persona: {system_prompt: G}\n")
    result = validate(repo, "--env", "local")
    assert compiled(result) == {"local": {"g"}}
    assert "6 personas" in result.err


def test_a_duplicate_from_a_new_file_is_still_reported(repo: Path) -> None:
    edit(repo, "personas/z.yaml", "name: a\npersona: {system_prompt: Z}\n")
    result = validate(repo, "--env", "local")
    assert compiled(result) == {"local": {"z"}}
    assert result.code == 1 and "duplicate persona address 'a'" in result.err
    same_as_uncached(repo, result, "--env", "local")
    # the first definition goes: the other file's, cached, now defines it
    (repo / "personas/a.yaml").unlink()
    result = validate(repo, "--env", "local")
    assert result.code == 0 and compiled(result) == {"local": set()}
    same_as_uncached(repo, result, "--env", "local")


def test_a_ref_to_a_deleted_file_is_still_reported(repo: Path) -> None:
    (repo / "tools/lookup.yaml").unlink()
    result = validate(repo, "--env", "local")
    assert compiled(result) == {"local": set()}
    assert result.code == 1 and "ref('tools:lookup'): no such address" in result.err
    same_as_uncached(repo, result, "--env", "local")


def test_a_missing_base_or_template_created_later_is_picked_up(repo: Path) -> None:
    edit(repo, "personas/b.yaml", "extends: [_bases/new.yaml]\npersona: {system_prompt: B}\n")
    edit(repo, "personas/d.yaml", "persona: {system_prompt: \"{% include 'new.j2' %}\"}\n")
    assert validate(repo, "--env", "local").code == 1
    edit(repo, "personas/_bases/new.yaml", "vars: {}\n")
    edit(repo, "templates/new.j2", "new")
    result = validate(repo, "--env", "local")
    assert result.code == 0, result.err
    assert compiled(result) == {"local": {"b", "d"}}


def test_render_and_plan_match_an_uncached_run(repo: Path) -> None:
    edit(repo, "templates/inner.j2", "inner {{ company }} again")
    assert compiled(validate(repo)) == {"local": {"c", "d"}, "staging": {"c", "d"}}
    for command in (["render"], ["plan"]):
        cached = run_cli("-C", str(repo), *command, env=DEBUG)
        fresh = run_cli("-C", str(repo), *command, env=NO_CACHE)
        assert cached.code == fresh.code == 0, cached.err
        assert cached.out == fresh.out
        assert "compiled 0 of" in cached.err or "compiled" not in cached.err


def test_a_base_problem_from_the_cache_still_counts_its_personas(repo: Path) -> None:
    edit(repo, "personas/_bases/base.yaml", "persona: {pipeline_mode: full, modle: x}\n")
    first = validate(repo, "--env", "local")
    assert "(in 2 personas: a, b)" in first.err, first.err
    same_as_uncached(repo, first, "--env", "local")
    edit(repo, "personas/a.yaml", FILES["personas/a.yaml"] + "# edited\n")
    again = validate(repo, "--env", "local")
    assert compiled(again) == {"local": {"a"}}
    same_as_uncached(repo, again, "--env", "local")
