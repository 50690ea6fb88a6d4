"""Templates are a sandbox with limits: every bomb is one located line, refused quickly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from personactl.compile.compilation import compile_project
from tests.conftest import SECRETS, assert_no_secrets, build_tree, run_cli

PERSONA = "persona:\n  system_prompt: \"{% include 'bomb.j2' %}\"\n"
LIMITS_HINT = (
    "(hint: templates render in under 0.5 s per persona, values of up to 1,000,000 "
    "characters, 20,000,000 in all)"
)
TOO_LONG = "a value longer than 1,000,000 characters"
NESTED = "templates nested deeper than 64 levels (a recursive macro, include or extends?)"

BOMBS = {
    "nested-range-loops": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "rendering took longer than 0.5 s (a loop too large?)",
    ),
    "nested-list-loops": (
        "{% set r = range(100000)|list %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}",
        "rendering took longer than 0.5 s (a loop too large?)",
    ),
    "power-tower": ("{{ ((10**512)**512)**512 }}", "a number larger than 16,384 bits"),
    "output-loop": (
        "{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxx{% endfor %}{% endfor %}",
        TOO_LONG,
    ),
    "doubling-macro": (
        "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% else %}{{ s }}{% endif %}"
        "{% endmacro %}{{ d('ab', 60) }}",
        TOO_LONG,
    ),
    "doubling-loop": (
        "{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s }}",
        TOO_LONG,
    ),
    "percent-width": ("{{ '%999999999d'|format(1) }}", TOO_LONG),
    "percent-precision": ("{{ '%.999999999f' % 1 }}", TOO_LONG),
    "indent": ("{{ 'x'|indent(10**9, true) }}", TOO_LONG),
    "center": ("{{ 'x'|center(10**9) }}", TOO_LONG),
    "str-format-width": ("{{ '{:>999999999}'.format('x') }}", TOO_LONG),
    "str-format-nested-width": ("{{ '{:>{}}'.format('x', 10**9) }}", TOO_LONG),
    "ljust": ("{{ 'x'.ljust(10**9) }}", TOO_LONG),
    "lipsum": ("{{ lipsum(n=100000) }}", TOO_LONG),
    "huge-range": ("{{ range(10**100)|list }}", "a range of more than 100,000 numbers"),
    "huge-step-range": (
        "{{ range(0, 10**100, 10**90)|list }}",
        "a range of more than 100,000 numbers",
    ),
    "join-separator": ("{{ range(1000)|map('string')|join('x' * 999999) }}", TOO_LONG),
    "replace": ("{{ ('x' * 999999)|replace('x', 'yyyyyyyy') }}", TOO_LONG),
    "batch-fill": ("{{ range(10)|batch(10**9, 'x')|list }}", TOO_LONG),
    "list-sum": (
        "{{ [[1]] * 100000 | sum(start=[]) }}",
        "sum() adds numbers; use join for strings",
    ),
    "many-big-values": (
        "{{ range(100000)|map('string')|map('center', 999999)|list|length }}",
        "the templates built more than 20,000,000 characters in all",
    ),
    "recursive-macro": ("{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}", NESTED),
}


# validate ends with a total; render does not
TOTAL = {"validate": ["1 error in 1 file"], "render": []}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_template_bomb_is_one_located_line_quickly(tmp_path: Path, name: str) -> None:
    source, message = BOMBS[name]
    # output is measured where it is joined: the persona's string that includes the loop
    where = "personas/a.yaml:2:18" if name == "output-loop" else "templates/bomb.j2:1:1"
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": PERSONA,
            "templates/bomb.j2": source,
        },
    )
    started = time.monotonic()
    result = compile_project(root=tmp_path)
    elapsed = time.monotonic() - started
    assert [p.format() for p in result.errors] == [
        f"{where}: sandbox violation: {message} {LIMITS_HINT}"
    ]
    assert elapsed < 1.5, f"{name} took {elapsed:.2f} s"


@pytest.mark.parametrize(
    ("files", "where"),
    [
        ({"templates/bomb.j2": "{% include 'bomb.j2' %}"}, "templates/bomb.j2:1:1"),
        ({"templates/bomb.j2": "{% extends 'bomb.j2' %}"}, "templates/bomb.j2:1:1"),
        (
            {
                "templates/bomb.j2": "{% import 'm.j2' as m %}{{ m.a() }}",
                "templates/m.j2": "{% macro a() %}{{ b() }}{% endmacro %}"
                "{% macro b() %}{{ a() }}{% endmacro %}",
            },
            "templates/m.j2:1:1",
        ),
    ],
    ids=["include", "extends", "mutual-macros"],
)
def test_recursion_is_a_located_error_not_a_traceback(
    tmp_path: Path, files: dict[str, str], where: str
) -> None:
    build_tree(tmp_path, {"personactl.yaml": "version: 1\n", "personas/a.yaml": PERSONA, **files})
    result = run_cli("validate", cwd=tmp_path, env={"PERSONACTL_NO_CACHE": "1"})
    assert result.code == 1, result.err
    assert result.err.splitlines() == [
        f"{where}: sandbox violation: {NESTED} {LIMITS_HINT}",
        "1 error in 1 file",
    ]


def test_one_refusal_per_persona_however_many_strings(tmp_path: Path) -> None:
    """The time budget covers the whole persona: 40 slow strings are one error, not 40."""
    loop = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    prompts = "".join(f"  p{i}: &p{i} \"{{% include 'bomb.j2' %}}\"\n" for i in range(40))
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": "allow_unknown_keys: true\npersona:\n" + prompts,
            "templates/bomb.j2": loop,
        },
    )
    started = time.monotonic()
    result = run_cli("validate", cwd=tmp_path, env={"PERSONACTL_NO_CACHE": "1"})
    elapsed = time.monotonic() - started
    assert result.code == 1
    assert [line for line in result.err.splitlines() if "sandbox violation" in line] == [
        f"templates/bomb.j2:1:1: sandbox violation: rendering took longer than 0.5 s "
        f"(a loop too large?) {LIMITS_HINT}"
    ]
    assert elapsed < 10


def test_ordinary_templates_still_render(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": PERSONA,
            "templates/bomb.j2": (
                "{{ 'a' + 'b' }} {{ '%s-%03d' % ('x', 7) }} {{ '{:>5}'.format('x') }} "
                "{{ [1, 2]|join(',') }} {{ 'ab'|center(6) }} {{ 'q'|indent(2, true) }} "
                "{{ 3 * 4 }} {{ 2 ** 64 }} {% for i in range(3) %}{{ i }}{% endfor %} "
                "{{ range(3)|sum }} {{ 'x' ~ 1 ~ [2] }}"
            ),
        },
    )
    result = compile_project(root=tmp_path)
    assert not result.errors
    assert result.personas["a"].payload["system_prompt"] == (
        "ab x-007     x 1,2   ab     q 12 18446744073709551616 012 3 x1[2]"
    )


# --- B: env() never reads a variable personactl treats as a secret (DESIGN §5)

SECRETS_PROJECT = """
version: 1
environments:
  local: {}
  prod: {backend: tavus, api_key_env: ACME_TAVUS_KEY}
"""
HINT = "its value is never printed"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("TAVUS_API_KEY", "the default api_key_env"),
        ("ACME_TAVUS_KEY", "the api_key_env of environment 'prod'"),
        ("PERSONACTL_STATE_DSN", "a dsn_env"),
        ("CUSTOM_LLM_API_KEY", "used with secret()"),
    ],
)
def test_env_of_a_secret_name_is_a_located_error(
    tmp_path: Path, cli_run: Any, name: str, why: str
) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": SECRETS_PROJECT,
            # the secret() user is another file: "anywhere in the repository"
            "personas/_bases/llm.yaml": """
            persona:
              layers: {llm: {model: m, base_url: "https://x.example/v1",
                             api_key: "{{ secret('CUSTOM_LLM_API_KEY') }}"}}
            """,
            "personas/a.yaml": "persona:\n  system_prompt: \"{% include 'p.j2' %}\"\n",
            "templates/p.j2": f"Hello\nkey={{{{ env('{name}', 'none') }}}}\n",
        },
    )
    env = {**SECRETS, "TAVUS_API_KEY": "tk-DO-NOT-LEAK", "ACME_TAVUS_KEY": "ak-DO-NOT-LEAK"}
    env["PERSONACTL_STATE_DSN"] = "postgres://u:DO-NOT-LEAK@h/db"
    for args in (["validate"], ["render"]):
        result = cli_run(*args, cwd=tmp_path, env=env)
        assert result.code == 1
        assert result.err.splitlines() == [
            f"templates/p.j2:2:1: env('{name}') reads a secret ({name} is {why}) "
            f"(hint: use secret('{name}'): {HINT})",
            *TOTAL[args[0]],
        ]
        assert "DO-NOT-LEAK" not in result.both
    assert_no_secrets(root=tmp_path)


def test_a_computed_secret_name_is_refused_to_env_after_it(tmp_path: Path, cli_run: Any) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": """
            vars: {which: LLM_KEY}
            persona:
              system_prompt: "{{ secret(which) }}{{ env('LLM_KEY') }}"
            """,
        },
    )
    result = cli_run("validate", cwd=tmp_path, env={"LLM_KEY": "DO-NOT-LEAK"})
    assert result.code == 1
    assert result.err.splitlines() == [
        "personas/a.yaml:3:18: env('LLM_KEY') reads a secret (LLM_KEY is used with secret()) "
        f"(hint: use secret('LLM_KEY'): {HINT})",
        "1 error in 1 file",
    ]


def test_env_of_other_names_still_works(tmp_path: Path, cli_run: Any) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": SECRETS_PROJECT,
            "personas/a.yaml": "persona:\n  system_prompt: \"region={{ env('REGION') }}\"\n",
        },
    )
    result = cli_run("render", "a", cwd=tmp_path, env={"REGION": "eu"})
    assert result.code == 0, result.err
    assert '"system_prompt": "region=eu"' in result.out


# --- C: no file personactl reads may resolve outside its folder


def _escape_repo(root: Path) -> Path:
    build_tree(
        root,
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": "persona:\n  system_prompt: \"{% include 'env.txt' %}\"\n",
        },
    )
    (root / "templates").mkdir()
    (root / "templates" / "env.txt").symlink_to("/proc/self/environ")
    return root


def test_template_symlink_out_of_templates_is_refused(tmp_path: Path) -> None:
    repo = _escape_repo(tmp_path / "repo")
    env = {**SECRETS, "PERSONACTL_NO_CACHE": "1"}
    for args in (["validate"], ["render"]):
        result = run_cli(*args, cwd=repo, env=env)
        assert result.code == 1
        assert result.err.splitlines() == [
            "personas/a.yaml:2:18: sandbox violation: template 'env.txt' is not a file inside "
            "templates/ (a symlink out of it?)",
            *TOTAL[args[0]],
        ]
        assert_no_secrets(result.out, result.err)
    # the cache does not read it either
    assert run_cli("validate", cwd=repo, env=SECRETS).code == 1
    assert_no_secrets(root=repo)


@pytest.mark.parametrize(
    "link",
    ["personas/b.yaml", "personas/_bases/base.yaml", "conversations/c.yaml", "templates/t.j2"],
)
def test_any_repository_file_linking_outside_is_a_located_error(tmp_path: Path, link: str) -> None:
    outside = build_tree(
        tmp_path / "outside",
        {"x.yaml": "persona: {system_prompt: SECRET-CONTENT}\nconversation: {}\npersona_: 1\n"},
    )
    repo = build_tree(
        tmp_path / "repo",
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": (
                "extends: [_bases/base.yaml]\npersona:\n  system_prompt: \"{% include 't.j2' %}\"\n"
            ),
        },
    )
    for rel in ("personas/_bases/base.yaml", "templates/t.j2"):
        if rel != link:
            build_tree(repo, {rel: "vars: {}\n" if rel.endswith(".yaml") else "hi"})
    (repo / link).parent.mkdir(parents=True, exist_ok=True)
    (repo / link).symlink_to(outside / "x.yaml")
    result = run_cli("validate", cwd=repo, env={"PERSONACTL_NO_CACHE": "1"})
    assert result.code == 1
    folder = link.split("/")[0]
    expected = {
        "templates": "personas/a.yaml:3:18: sandbox violation: template 't.j2' is not a file "
        "inside templates/ (a symlink out of it?)",
        # extends resolves bases itself, with its own message
        "personas/_bases": "personas/a.yaml:1:11: base '_bases/base.yaml' is outside personas/ "
        "(hint: bases live under personas/, e.g. _bases/)",
    }.get(
        link.rsplit("/", 1)[0] if "_bases" in link else folder,
        f"{link}:1:1: not a file inside {folder}/ (a symlink out of it?); refused "
        f"(hint: personactl reads only files inside {folder}/)",
    )
    assert expected in result.err.splitlines()
    assert "SECRET-CONTENT" not in result.both


def test_a_templates_folder_linking_outside_is_refused(tmp_path: Path) -> None:
    outside = build_tree(tmp_path / "outside", {"t.j2": "SECRET-CONTENT"})
    repo = build_tree(
        tmp_path / "repo",
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": "persona:\n  system_prompt: \"{% include 't.j2' %}\"\n",
        },
    )
    (repo / "templates").symlink_to(outside)
    result = run_cli("render", cwd=repo, env={"PERSONACTL_NO_CACHE": "1"})
    assert result.code == 1
    assert "SECRET-CONTENT" not in result.both
    assert result.err.splitlines() == [
        "personas/a.yaml:2:18: sandbox violation: template 't.j2' is not a file inside "
        "templates/ (a symlink out of it?)"
    ]


def test_links_inside_the_folder_still_work(tmp_path: Path) -> None:
    repo = build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": "persona:\n  system_prompt: \"{% include 'alias.j2' %}\"\n",
            "templates/real.j2": "hello",
        },
    )
    (repo / "templates" / "alias.j2").symlink_to(repo / "templates" / "real.j2")
    (repo / "personas" / "b.yaml").symlink_to(repo / "personas" / "a.yaml")
    result = compile_project(root=repo)
    assert not result.errors
    assert result.personas["b"].payload["system_prompt"] == "hello"
