"""Bad input is one located line (exit 1), never a traceback; YAML is read as YAML 1.2."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from personactl.compile.source import load_text
from tests.conftest import build_tree, run_cli

BOOL_HINT = "(hint: write true or false; yes, no, on and off are strings in YAML 1.2)"
NO_CACHE = {"PERSONACTL_NO_CACHE": "1"}
PROD = "version: 1\ndefault_environment: prod\nenvironments:\n  prod: "


# --- E: YAML 1.2 core scalars


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"),
        ("No", "No"),
        ("on", "on"),
        ("OFF", "OFF"),
        ("y", "y"),
        ("n", "n"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("null", None),
        ("~", None),
        ("", None),
        ("0o17", 15),
        ("0x1F", 31),
        ("017", 17),
        ("-3", -3),
        ("1_000", "1_000"),
        ("1:30", "1:30"),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("2024-01-02", "2024-01-02"),
        ("'yes'", "yes"),
    ],
)
def test_yaml_12_core_scalars(text: str, value: Any) -> None:
    data, problems = load_text(f"v: {text}\n", "x.yaml")
    assert problems == []
    assert data["v"] == value
    assert type(data["v"]) is type(value)


def test_yes_stays_a_string_everywhere(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\nvars: {flag: yes}\n",
            "personas/a.yaml": """
            persona:
              system_prompt: "flag={{ flag }}"
              layers:
                perception: {perception_model: off}
            """,
        },
    )
    result = run_cli("render", "a", cwd=tmp_path, env=NO_CACHE)
    assert result.code == 0, result.err
    body = json.loads(result.out)
    assert body["system_prompt"] == "flag=yes"
    assert body["layers"]["perception"]["perception_model"] == "off"


def test_a_boolean_given_yes_is_a_type_error_with_a_hint(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": """
            allow_unknown_keys: yes
            persona:
              system_prompt: hi
              layers:
                llm: {model: tavus-gpt-4o, speculative_inference: on}
            """,
            "conversations/c.yaml": """
            persona: a
            inputs:
              age: {type: integer, required: yes}
            conversation: {replica_id: r1}
            """,
        },
    )
    result = run_cli("validate", cwd=tmp_path, env=NO_CACHE)
    assert result.code == 1
    assert result.err.splitlines() == [
        "conversations/c.yaml:3:34: required must be true or false " + BOOL_HINT,
        "personas/a.yaml:1:21: allow_unknown_keys must be true or false " + BOOL_HINT,
        "personas/a.yaml:5:55: a: invalid type for speculative_inference: expected boolean, "
        "got string " + BOOL_HINT,
        "3 errors in 2 files",
    ]


# --- D: bad input is one located line, exit 1


def _persona_repo(root: Path, persona: str, project: str = "version: 1\n") -> Path:
    return build_tree(root, {"personactl.yaml": project, "personas/a.yaml": persona})


@pytest.mark.parametrize(
    ("persona", "line"),
    [
        ("persona: {system_prompt: !!float abc}\n", "1:26: invalid !!float value 'abc'"),
        ("persona: {system_prompt: !!int 1_000}\n", "1:26: invalid !!int value '1_000'"),
        (
            "persona: {system_prompt: !!bool yes}\n",
            "1:26: invalid !!bool value 'yes' " + BOOL_HINT,
        ),
        ("persona: {system_prompt: !!timestamp x}\n", "1:26: invalid !!timestamp value 'x'"),
        (
            "persona: {system_prompt: hi}\nvars: {x: .nan}\n",
            "2:11: .nan is not a finite number; JSON cannot carry it "
            "(hint: write a finite number, or quote it for a string)",
        ),
        (
            "persona: {system_prompt: hi}\nvars: {x: -.inf}\n",
            "2:11: -.inf is not a finite number; JSON cannot carry it "
            "(hint: write a finite number, or quote it for a string)",
        ),
        (
            "vars: {deep: " + "[" * 350 + "]" * 350 + "}\npersona: {system_prompt: hi}\n",
            "1:76: YAML nested deeper than 64 levels; refused",
        ),
        (
            'name: "a\\0b"\npersona: {system_prompt: hi}\n',
            "1:7: name 'a\\x00b' contains a control character or a backslash",
        ),
        (
            "name: ../../outside\npersona: {system_prompt: hi}\n",
            "1:7: name '../../outside' has an empty, '.' or '..' path segment",
        ),
        (
            "persona: {system_prompt: hi}\nx: a\x07b\n",
            "2:5: invalid YAML: character #x0007: control characters are not allowed",
        ),
    ],
    ids=[
        "bad-float",
        "bad-int",
        "bad-bool",
        "bad-timestamp",
        "nan",
        "inf",
        "deep-nesting",
        "nul-in-name",
        "path-name",
        "control-char",
    ],
)
def test_bad_persona_file_is_one_located_line(
    tmp_path: Path, cli_run: Any, persona: str, line: str
) -> None:
    _persona_repo(tmp_path, persona)
    for args in (["validate"], ["render", "--out", str(tmp_path / "out")]):
        result = cli_run(*args, cwd=tmp_path, env=NO_CACHE)
        assert result.code == 1, result.err
        total = ["1 error in 1 file"] if args == ["validate"] else []
        assert result.err.splitlines() == [f"personas/a.yaml:{line}", *total]
    assert not (tmp_path / "out").exists()
    assert not (tmp_path.parent / "outside.json").exists()


@pytest.mark.parametrize(
    ("project", "line"),
    [
        (
            "version: true\n",
            "1:10: unsupported version True (hint: this personactl reads version: 1)",
        ),
        (
            PROD + "{backend: tavus, api_url: 'https://h:99999'}\n",
            "4:35: api_url 'https://h:99999' is not a valid URL (Port out of range 0-65535) "
            "(hint: e.g. https://tavusapi.com)",
        ),
        (
            PROD + "{backend: tavus, api_url: 'ftp://h'}\n",
            "4:35: api_url 'ftp://h' must start with https:// (or http://) "
            "(hint: e.g. https://tavusapi.com)",
        ),
        (
            PROD + "{backend: tavus, api_url: tavusapi.com}\n",
            "4:35: api_url 'tavusapi.com' must start with https:// (or http://) "
            "(hint: e.g. https://tavusapi.com)",
        ),
        (
            "version: 1\nenvironments:\n  local: {}\n  ../../x: {}\n",
            "4:3: environment name '../../x' is not allowed (hint: use letters, digits, '-' and "
            "'_' (up to 64, starting with a letter or digit))",
        ),
    ],
    ids=["version-true", "bad-port", "ftp", "schemeless", "path-env"],
)
def test_bad_project_file_fails_at_once(
    tmp_path: Path, cli_run: Any, project: str, line: str
) -> None:
    _persona_repo(tmp_path, "persona: {system_prompt: hi}\n", project)
    started = time.monotonic()
    result = cli_run("plan", "--env", "prod", cwd=tmp_path, env={"TAVUS_API_KEY": "k"})
    assert result.code == 1
    assert result.err.splitlines() == [f"personactl.yaml:{line}"]
    assert time.monotonic() - started < 2  # refused, not retried like a network error


def test_unknown_env_name_is_refused_and_nothing_written(tmp_path: Path, cli_run: Any) -> None:
    _persona_repo(tmp_path, "persona: {system_prompt: hi}\n")
    result = cli_run("apply", "--auto-approve", "--env", "../../x", cwd=tmp_path)
    assert result.code == 1
    assert result.err.splitlines() == [
        "error: unknown environment '../../x' (hint: environments: local)"
    ]
    assert not list(tmp_path.parent.glob("x.json"))
    assert not (tmp_path / ".personactl" / "state").exists()


def test_non_ascii_api_key_is_one_line_without_the_key(tmp_path: Path, cli_run: Any) -> None:
    project = PROD + "{backend: tavus, api_url: 'http://127.0.0.1:9'}\n"
    _persona_repo(tmp_path, "persona: {system_prompt: hi}\n", project)
    result = cli_run("plan", "--env", "prod", cwd=tmp_path, env={"TAVUS_API_KEY": "kéy-SECRET"})
    assert result.code == 1
    assert result.err.splitlines() == [
        "error: environment variable TAVUS_API_KEY holds non-ASCII or control characters (hint: an "
        "API key is printable ASCII: check for a stray character or line break)"
    ]


@pytest.mark.parametrize(
    ("var", "kind"),
    [
        ("age=1_0", "an integer"),
        ("age=١٢", "an integer"),
        ("age=0x", "an integer"),
        ("score=nan", "a number"),
        ("score=1e309", "a number"),
        ("score=1_0.5", "a number"),
        ("kid=yes", "a boolean"),
    ],
)
def test_var_values_are_typed_strictly(tmp_path: Path, cli_run: Any, var: str, kind: str) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": "persona: {system_prompt: hi}\n",
            "conversations/c.yaml": """
            persona: a
            inputs:
              age: {type: integer, default: 8}
              score: {type: number, default: 1.5}
              kid: {type: boolean, default: false}
            conversation: {replica_id: r1, conversational_context: "{{ age }} {{ score }}"}
            """,
        },
    )
    name, raw = var.split("=")
    line = {"age": 3, "score": 4, "kid": 5}[name]
    hint = " " + BOOL_HINT if kind == "a boolean" else ""
    result = cli_run("preview", "a", "--conversation", "c", "--var", var, cwd=tmp_path)
    assert result.code == 1
    assert result.err.splitlines() == [
        f"conversations/c.yaml:{line}:{len(name) + 5}: "
        f"input '{name}' expects {kind}, got {raw!r}{hint}"
    ]
    ok = cli_run(
        "preview", "a", "--conversation", "c", "--var", "age=0o17", "--var", "score=2", cwd=tmp_path
    )
    assert ok.code == 0, ok.err
    assert "15 2.0" in ok.out


def test_oversized_yaml_file_is_refused_fast_and_honestly(tmp_path: Path, cli_run: Any) -> None:
    keys = "".join(f"k{i}: v\n" for i in range(700_000))  # about 7 MB of plain keys
    _persona_repo(tmp_path, "persona: {system_prompt: hi}\nvars:\n" + keys.replace("k", "  k"))
    started = time.monotonic()
    result = cli_run("validate", cwd=tmp_path, env=NO_CACHE)
    assert time.monotonic() - started < 2
    assert result.code == 1
    size = (tmp_path / "personas/a.yaml").stat().st_size / 2**20
    assert result.err.splitlines() == [
        f"personas/a.yaml:1:1: file is {size:.1f} MB; personactl reads YAML files of up to 5 MB "
        "(hint: split it into bases and personas)",
        "1 error in 1 file",
    ]


def test_many_plain_values_are_not_called_an_alias_bomb() -> None:
    text = "".join(f"- {i}\n" for i in range(1_000_001))
    data, problems = load_text(text, "big.yaml")
    assert data is None
    assert [p.format() for p in problems] == [
        "big.yaml:1:1: more than 1,000,000 YAML values; refused (hint: split the file)"
    ]


@pytest.mark.parametrize(
    "damage",
    [
        lambda _raw: [],
        lambda raw: {**raw, "problems": "x"},
        lambda raw: {**raw, "problems": [{"loc": 5, "message": 1}]},
        lambda raw: {**raw, "env_reads": []},
        lambda raw: {**raw, "personas": "many"},
    ],
    ids=["list", "problems-string", "problem-shape", "env-reads", "counts"],
)
def test_a_damaged_cache_is_discarded(tmp_path: Path, cli_run: Any, damage: Any) -> None:
    _persona_repo(tmp_path, "persona: {system_prompt: hi}\n")
    assert cli_run("validate", cwd=tmp_path).code == 0
    cache = tmp_path / ".personactl" / "cache"
    summary = cache / "validate-local.json"
    summary.write_text(json.dumps(damage(json.loads(summary.read_text()))))
    files = cache / "files-local.json"
    header, *lines = files.read_text().splitlines()
    damaged = []
    for line in lines:  # keys and checksums still valid: the shape must be checked
        name, head, bodies = line.split("\t")
        entry = json.loads(head)
        entry["resources"] = [["a", 1, "personas"]]
        damaged.append("\t".join([name, json.dumps(entry), bodies]))
    files.write_text("\n".join([header, *damaged]) + "\n")
    for args in (["validate"], ["plan"], ["validate"]):
        result = cli_run(*args, cwd=tmp_path)
        assert result.code == 0, (args, result.err)
    assert "Plan: 1 to create" in cli_run("plan", cwd=tmp_path).out


@pytest.mark.parametrize("bodies", ["[[]]", "[]", "[1]", "{}"])
def test_cached_bodies_edited_checksum_and_all_are_compiled_around(
    tmp_path: Path, cli_run: Any, bodies: str
) -> None:
    """The bodies of a cache line are read after the line is accepted (by its checksum):
    a line edited with its checksum recomputed is found then, and compiled around."""
    import zlib

    _persona_repo(tmp_path, "persona: {system_prompt: hi}\n")
    assert cli_run("validate", cwd=tmp_path).code == 0
    (tmp_path / ".personactl" / "cache" / "validate-local.json").unlink()  # validate recompiles
    files = tmp_path / ".personactl" / "cache" / "files-local.json"
    header, *lines = files.read_text().splitlines()
    crafted = []
    for line in lines:
        name, head, _bodies = line.split("\t")
        entry = {**json.loads(head), "crc": zlib.crc32(bodies.encode())}
        crafted.append("\t".join([name, json.dumps(entry), bodies]))
    files.write_text("\n".join([header, *crafted]) + "\n")
    first = cli_run("plan", cwd=tmp_path)
    assert (first.code, first.err) == (0, "")
    assert '+ create a\n    + /system_prompt: "hi"' in first.out
    assert cli_run("validate", cwd=tmp_path).code == 0
    assert "Plan: 1 to create" in cli_run("plan", cwd=tmp_path).out


def test_corrupt_local_database_is_one_line(tmp_path: Path, cli_run: Any) -> None:
    _persona_repo(tmp_path, "persona: {system_prompt: hi}\n")
    db = tmp_path / ".personactl" / "local.db"
    db.parent.mkdir()
    db.write_bytes(b"this is not a database" * 100)
    result = cli_run("plan", cwd=tmp_path)
    assert result.code == 1
    assert result.err.splitlines() == [
        f"error: {db}: the local backend's database failed: file is not a database "
        "(hint: make the file writable, or move it away to start with an empty one)"
    ]
