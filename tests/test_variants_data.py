"""Variants from data: `variants_from` (CSV, YAML, JSON), `variants_key`, `matrix`, through
the real CLI: rendered values, typed cells, precedence, errors at the data file's line."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import build_tree, run_cli

PROJECT = "version: 1\nvars: {company: Acme}\n"
PERSONA = """\
variants_from: {data}
{key}vars:
  minutes: 10
  greeting: Hello
  patience: medium
persona:
  persona_name: "{{{{ brand }}}} support"
  system_prompt: >-
    {{{{ greeting }}}} from {{{{ brand }}}}: {{{{ minutes }}}} {{{{ minutes is number }}}}
    {{{{ vip }}}}
  layers:
    conversational_flow: {{turn_taking_patience: "{{{{ patience }}}}"}}
"""
CSV = (
    "tenant_id,brand,minutes,vip,patience\n"
    "acme,Acme Corp,15,true,high\n"
    'globex,"Globex, Inc.",,false,\n'
    '"007","Bond ""James""",7,"true",low\n'
)


def _repo(
    tmp: Path,
    files: dict[str, str],
    data: str = "data/tenants.csv",
    key: str = "tenant_id",
    extra: str = "",
) -> Path:
    persona = PERSONA.format(data=data, key=f"variants_key: {key}\n" if key else "") + extra
    return build_tree(tmp, {"personactl.yaml": PROJECT, "personas/support.yaml": persona, **files})


def _cli(root: Path, *args: str, code: int = 0) -> tuple[str, str]:
    r = run_cli("-C", str(root), *args)
    assert r.code == code, r.both
    return r.out, r.err


def _rendered(root: Path, address: str) -> dict:
    out, _err = _cli(root, "render", address, "--format", "json")
    body = json.loads(out)
    return body.get(address, body)


def test_csv_rows_become_variants_with_typed_cells(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"data/tenants.csv": CSV})
    out, _err = _cli(root, "list")
    assert out.splitlines() == [
        "support/007\tpersonas\tpersonas/support.yaml",
        "support/acme\tpersonas\tpersonas/support.yaml",
        "support/globex\tpersonas\tpersonas/support.yaml",
    ]
    acme = _rendered(root, "support/acme")
    assert acme["persona_name"] == "Acme Corp support"
    # 15 is an int, true a bool (YAML 1.2 core scalars); the row's patience beats the file's
    assert acme["system_prompt"] == "Hello from Acme Corp: 15 True True"
    assert acme["layers"]["conversational_flow"]["turn_taking_patience"] == "high"
    # an empty cell leaves the file's value; a quoted cell stays a string
    globex = _rendered(root, "support/globex")
    assert globex["system_prompt"] == "Hello from Globex, Inc.: 10 True False"
    assert globex["layers"]["conversational_flow"]["turn_taking_patience"] == "medium"
    bond = _rendered(root, "support/007")
    assert bond["system_prompt"] == 'Hello from Bond "James": 7 True true'


@pytest.mark.parametrize(
    ("name", "text", "key"),
    [
        (
            "data/tenants.yaml",
            "- {tenant_id: acme, brand: Acme Corp, minutes: 15, vip: true, patience: high}\n"
            "- {tenant_id: globex, brand: Globex, vip: false}\n",
            "tenant_id",
        ),
        (
            "data/tenants.yml",
            "acme: {brand: Acme Corp, minutes: 15, vip: true, patience: high}\n"
            "globex: {brand: Globex, vip: false}\n",
            "",
        ),
        (
            "data/tenants.json",
            json.dumps(
                [
                    {
                        "tenant_id": "acme",
                        "brand": "Acme Corp",
                        "minutes": 15,
                        "vip": True,
                        "patience": "high",
                    },
                    {"tenant_id": "globex", "brand": "Globex", "vip": False},
                ],
                indent=2,
            ),
            "tenant_id",
        ),
        (
            "data/tenants.json",
            json.dumps(
                {
                    "acme": {"brand": "Acme Corp", "minutes": 15, "vip": True, "patience": "high"},
                    "globex": {"brand": "Globex", "vip": False},
                }
            ),
            "tenant_id",
        ),
    ],
    ids=["yaml list", "yml mapping", "json list", "json mapping with key"],
)
def test_yaml_and_json_rows_keep_their_types(
    tmp_path: Path, name: str, text: str, key: str
) -> None:
    root = _repo(tmp_path, {name: text}, data=name, key=key)
    out, _err = _cli(root, "list")
    assert [line.split("\t")[0] for line in out.splitlines()] == ["support/acme", "support/globex"]
    assert _rendered(root, "support/acme")["system_prompt"] == "Hello from Acme Corp: 15 True True"
    assert _rendered(root, "support/globex")["system_prompt"] == "Hello from Globex: 10 True False"


def test_precedence_row_beats_file_and_var_beats_row(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"data/tenants.csv": CSV})
    out, _err = _cli(root, "preview", "support/acme", "--var", "brand=Override")
    assert "Hello from Override: 15 True True" in out
    # the environment's vars are below the file's, and so below the row's
    (root / "personactl.yaml").write_text(
        PROJECT + "environments:\n  local: {backend: local, vars: {brand: Env, greeting: Yo}}\n"
        "default_environment: local\n"
    )
    assert _rendered(root, "support/acme")["system_prompt"] == "Hello from Acme Corp: 15 True True"


def test_explicit_variant_refines_a_generated_one(tmp_path: Path) -> None:
    extra = (
        "variants:\n  globex:\n    vars: {greeting: Hi, minutes: 30}\n"
        "    persona: {greeting: Welcome}\n"
    )
    root = _repo(tmp_path, {"data/tenants.csv": CSV}, extra=extra)
    globex = _rendered(root, "support/globex")
    assert globex["system_prompt"] == "Hi from Globex, Inc.: 30 True False"
    assert globex["greeting"] == "Welcome"
    assert "greeting" not in _rendered(root, "support/acme")


def test_explicit_variant_without_a_row_is_an_error(tmp_path: Path) -> None:
    extra = "variants:\n  globx:\n    vars: {greeting: Hi}\n"
    root = _repo(tmp_path, {"data/tenants.csv": CSV}, extra=extra)
    _out, err = _cli(root, "validate", code=1)
    assert err.splitlines()[0] == (
        "personas/support.yaml:15:3: variant 'globx' is not one of the variants "
        "data/tenants.csv makes (hint: did you mean 'globex'?)"
    )


def test_matrix_cross_product(tmp_path: Path) -> None:
    text = """\
        matrix:
          tenant: [acme, globex]
          language: [en, es]
        persona:
          persona_name: "{{ tenant }} ({{ language }})"
          system_prompt: "Speak {{ language }}."
        variants:
          globex/es:
            persona: {persona_name: Globex en español}
        """
    root = build_tree(tmp_path, {"personactl.yaml": PROJECT, "personas/support.yaml": text})
    out, _err = _cli(root, "list")
    assert [line.split("\t")[0] for line in out.splitlines()] == [
        "support/acme/en",
        "support/acme/es",
        "support/globex/en",
        "support/globex/es",
    ]
    assert _rendered(root, "support/acme/es")["persona_name"] == "acme (es)"
    assert _rendered(root, "support/globex/es")["persona_name"] == "Globex en español"


def test_matrix_with_rows(tmp_path: Path) -> None:
    extra = "matrix: {language: [en, es]}\n"
    root = _repo(
        tmp_path, {"data/tenants.csv": "tenant_id,brand,vip\nacme,Acme,true\n"}, extra=extra
    )
    out, _err = _cli(root, "list")
    assert [line.split("\t")[0] for line in out.splitlines()] == [
        "support/acme/en",
        "support/acme/es",
    ]


def test_target_glob_selects_generated_variants(tmp_path: Path) -> None:
    root = _repo(
        tmp_path,
        {
            "data/tenants.csv": CSV,
            "personas/other.yaml": "persona: {persona_name: O, system_prompt: o}\n",
        },
    )
    out, _err = _cli(root, "plan", "--target", "support/*")
    assert "+ create support/acme" in out and "+ create support/007" in out
    assert "other" not in out
    assert "Plan: 3 to create" in out


def test_editing_a_row_is_never_missed_by_the_cache(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"data/tenants.csv": CSV})
    assert _cli(root, "validate")[1] == "3 personas and 0 conversation templates are valid.\n"
    data = root / "data" / "tenants.csv"
    stat = data.stat()
    data.write_text(CSV.replace("acme,Acme Corp,15,true,high", "acme,Acme Corp,15,true,huge"))
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: content decides
    _out, err = _cli(root, "validate", code=1)
    assert err.startswith("data/tenants.csv:2:1: support/acme: invalid value 'huge'")
    data.write_text(CSV.replace("Acme Corp", "Acme Inc"))
    assert _cli(root, "validate")[1] == "3 personas and 0 conversation templates are valid.\n"
    out, _err = _cli(root, "plan", "--target", "support/acme")
    assert "Acme Inc support" in out


ERRORS = {
    "missing file": (
        {},
        {},
        "personas/support.yaml:1:16: data file 'data/tenants.csv' not found (hint: the path "
        "is relative to the project root (the folder of personactl.yaml))",
    ),
    "outside": (
        {},
        {"data": "../tenants.csv"},
        "personas/support.yaml:1:16: data file '../tenants.csv' is outside the project "
        "(a symlink out of it?); refused (hint: data files live in the repository, "
        "e.g. data/tenants.csv)",
    ),
    "empty csv": (
        {"data/tenants.csv": ""},
        {},
        "data/tenants.csv:1:1: the data file is empty (hint: the first line names the columns)",
    ),
    "header only": (
        {"data/tenants.csv": "tenant_id,brand\n"},
        {},
        "data/tenants.csv:1:1: the data file has no rows (hint: one row per variant)",
    ),
    "malformed csv": (
        {"data/tenants.csv": 'tenant_id,brand\nacme,"Acme\n'},
        {},
        "data/tenants.csv:2:6: invalid CSV: unterminated quoted cell (hint: quote the whole "
        'cell and double quotes inside: "a ""b""")',
    ),
    "cell count": (
        {"data/tenants.csv": "tenant_id,brand\nacme,Acme\nglobex\n"},
        {},
        "data/tenants.csv:3:1: row has 1 cells, the header 2 "
        "(hint: one cell per column; quote cells that hold a comma)",
    ),
    "malformed yaml": (
        {"data/tenants.yaml": "- {tenant_id: acme\n- x\n"},
        {"data": "data/tenants.yaml"},
        "data/tenants.yaml:3:1: invalid YAML: while parsing a flow mapping "
        "did not find expected ',' or '}'",
    ),
    "malformed json": (
        {"data/tenants.json": '[\n  {"tenant_id": "acme",\n  ]\n'},
        {"data": "data/tenants.json"},
        "data/tenants.json:3:3: invalid JSON: while parsing a flow node "
        "did not find expected node content",
    ),
    "no key column": (
        {"data/tenants.csv": "tenant,brand\nacme,Acme\n"},
        {},
        "data/tenants.csv:1:1: no column 'tenant_id' (variants_key) (hint: did you mean 'tenant'?)",
    ),
    "row without key": (
        {"data/tenants.yaml": "- {tenant_id: acme}\n- {brand: Globex}\n"},
        {"data": "data/tenants.yaml"},
        "data/tenants.yaml:2:3: row has no tenant_id "
        "(hint: every row needs its variant key in column 'tenant_id')",
    ),
    "empty key": (
        {"data/tenants.csv": "tenant_id,brand\nacme,Acme\n\n,Globex\n"},
        {},
        "data/tenants.csv:4:1: empty tenant_id "
        "(hint: every row needs its variant key in column 'tenant_id')",
    ),
    "duplicate key": (
        {"data/tenants.csv": "tenant_id,brand\nacme,Acme\nglobex,G\nacme,Again\n"},
        {},
        "data/tenants.csv:4:1: duplicate variant key 'acme' (hint: first at line 2)",
    ),
    "key not a segment": (
        {"data/tenants.csv": "tenant_id,brand\nacme,Acme\na/b,Globex\n"},
        {},
        "data/tenants.csv:3:1: variant key 'a/b' contains '/' (hint: a variant key is one "
        "address segment: no '/', not empty, '.' or '..')",
    ),
    "dot key": (
        {"data/tenants.csv": "tenant_id,brand\n..,Acme\n"},
        {},
        "data/tenants.csv:2:1: variant key '..' has an empty, '.' or '..' path segment "
        "(hint: a variant key is one address segment: no '/', not empty, '.' or '..')",
    ),
    "csv without variants_key": (
        {"data/tenants.csv": CSV},
        {"key": ""},
        "personas/support.yaml:1:16: a CSV data file needs variants_key (hint: variants_key: "
        "COLUMN names the column holding each row's variant key)",
    ),
    "unknown format": (
        {"data/tenants.txt": CSV},
        {"data": "data/tenants.txt"},
        "personas/support.yaml:1:16: data file 'data/tenants.txt' is not .csv, .yaml, .yml or "
        ".json (hint: personactl reads the format from the extension)",
    ),
    "row breaks the schema": (
        {
            "data/tenants.csv": (
                "tenant_id,brand,vip,patience\nacme,A,true,low\nglobex,G,true,extreme\n"
            )
        },
        {},
        "data/tenants.csv:3:1: support/globex: invalid value 'extreme' for turn_taking_patience;"
        " expected one of: low, medium, high",
    ),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_are_one_located_line(tmp_path: Path, case: str) -> None:
    files, options, expected = ERRORS[case]
    root = _repo(tmp_path, files, **options)
    _out, err = _cli(root, "validate", code=1)
    assert err.splitlines()[0] == expected
    assert "Traceback" not in err


def test_variants_key_without_variants_from(tmp_path: Path) -> None:
    text = "variants_key: tenant_id\npersona: {persona_name: A}\n"
    root = build_tree(tmp_path, {"personactl.yaml": PROJECT, "personas/support.yaml": text})
    _out, err = _cli(root, "validate", code=1)
    assert err.splitlines()[0] == (
        "personas/support.yaml:1:1: variants_key without variants_from (hint: variants_key "
        "names the column of variants_from's rows that keys them)"
    )


def test_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text(CSV)
    root = _repo(tmp_path / "repo", {})
    (root / "data").mkdir()
    (root / "data" / "tenants.csv").symlink_to(outside)
    _out, err = _cli(root, "validate", code=1)
    assert "personas/support.yaml:1:16: data file 'data/tenants.csv' is outside the project" in err


def test_too_many_variants(tmp_path: Path) -> None:
    text = """\
        matrix:
          a: [{a}]
          b: [{b}]
        persona: {{persona_name: x}}
        """.format(
        a=", ".join(f"a{i}" for i in range(400)), b=", ".join(f"b{i}" for i in range(300))
    )
    root = build_tree(tmp_path, {"personactl.yaml": PROJECT, "personas/support.yaml": text})
    _out, err = _cli(root, "validate", code=1)
    assert err.splitlines()[0] == (
        "personas/support.yaml:1:1: 120,000 variants; personactl makes at most 100,000 from one "
        "file (hint: split the data into several files)"
    )


def test_matrix_errors(tmp_path: Path) -> None:
    text = "matrix:\n  tenant: []\n  language: [en, en, a/b]\npersona: {persona_name: x}\n"
    root = build_tree(tmp_path, {"personactl.yaml": PROJECT, "personas/support.yaml": text})
    _out, err = _cli(root, "validate", code=1)
    assert err.splitlines() == [
        "personas/support.yaml:2:11: matrix 'tenant' must be a non-empty list (hint: e.g. "
        "language: [en, es])",
        "personas/support.yaml:3:18: duplicate matrix value 'en' in 'language'",
        "personas/support.yaml:3:22: matrix value 'a/b' contains '/' (hint: a variant key is "
        "one address segment: no '/', not empty, '.' or '..')",
        "3 errors in 1 file",
    ]


def test_a_data_file_that_is_not_utf8(tmp_path: Path) -> None:
    root = _repo(tmp_path, {})
    (root / "data").mkdir()
    (root / "data" / "tenants.csv").write_bytes(b"tenant_id,brand\nacme,\xff\n")
    _out, err = _cli(root, "validate", code=1)
    assert err.splitlines()[0] == "data/tenants.csv:1:1: file is not valid UTF-8"


def test_readme_example_renders_as_documented(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Variants from data\n", 1)[1].split("\n### ", 1)[0]
    persona, data, rendered = re.findall(r"^```(?:yaml|csv)\n(.*?)^```", section, re.S | re.M)[:3]
    root = build_tree(
        tmp_path,
        {"personactl.yaml": PROJECT, "personas/support.yaml": persona, "data/tenants.csv": data},
    )
    assert _cli(root, "render", "support/globex", "--format", "yaml")[0] == rendered


def test_an_empty_matrix_and_a_broken_data_file_report_once(tmp_path: Path) -> None:
    text = "matrix: {}\npersona: {persona_name: x}\n"
    root = build_tree(tmp_path, {"personactl.yaml": PROJECT, "personas/support.yaml": text})
    _out, err = _cli(root, "validate", code=1)
    assert err.splitlines() == [
        "personas/support.yaml:1:9: matrix names no list (hint: e.g. language: [en, es])",
        "1 error in 1 file",
    ]
    # an explicit variant of a file whose data cannot be read is not reported as well
    root = _repo(tmp_path / "b", {}, extra="variants:\n  acme: {vars: {x: 1}}\n")
    _out, err = _cli(root, "validate", code=1)
    assert len(err.splitlines()) == 2 and "not found" in err
