"""`init` (the scaffold) and `schema` (editor JSON Schemas)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

from personactl.scaffold import files as scaffold_files
from tests.conftest import (
    EXAMPLE_DIRS,
    EXAMPLE_VALID,
    REPO,
    SECRETS,
    assert_no_secrets,
    run_cli,
    run_main,
)

SCHEMAS = (
    "persona-file.json",
    "conversation-file.json",
    "personactl.json",
    "objectives-file.json",
    "guardrail-file.json",
    "tool-file.json",
)
# folder -> the schema of its files
FOLDER_SCHEMAS = {
    "personas": "persona-file.json",
    "objectives": "objectives-file.json",
    "guardrails": "guardrail-file.json",
    "tools": "tool-file.json",
}
MODELINE = re.compile(r"\A# yaml-language-server: \$schema=(\S+)\n")
SCAFFOLD = REPO / "personactl" / "scaffold"


def schema_for(path: Path) -> str:
    """The schema file a YAML file of the repository should be checked against."""
    if path.name == "personactl.yaml":
        return "personactl.json"
    folder = next((f for f in FOLDER_SCHEMAS if f in path.parts), None)
    return FOLDER_SCHEMAS[folder] if folder else "conversation-file.json"


def yaml_files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*.yaml") if ".personactl" not in p.parts and ".github" not in p.parts
    )


def test_repo_example_is_the_scaffold() -> None:
    """The example repository at the project root is byte-identical to the packaged one."""
    example = sorted(
        p.relative_to(REPO).as_posix()
        for name in ("personactl.yaml", *EXAMPLE_DIRS)
        for p in ([REPO / name] if (REPO / name).is_file() else (REPO / name).rglob("*"))
        if p.is_file()
    )
    packaged = sorted(
        rel for rel in scaffold_files() if rel.split("/")[0] in ("personactl.yaml", *EXAMPLE_DIRS)
    )
    assert example == packaged
    for rel in example:
        assert (REPO / rel).read_bytes() == (SCAFFOLD / rel).read_bytes(), rel


def test_init_then_validate_and_render(cli_run, tmp_path: Path) -> None:
    target = tmp_path / "new"
    result = run_cli("init", str(target), cwd=tmp_path)
    assert result.code == 0, result.err
    written = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert written == [
        ".github/workflows/personas.yml",
        ".gitignore",
        ".personactl/schema/conversation-file.json",
        ".personactl/schema/guardrail-file.json",
        ".personactl/schema/objectives-file.json",
        ".personactl/schema/persona-file.json",
        ".personactl/schema/personactl.json",
        ".personactl/schema/tool-file.json",
        "conversations/_bases/defaults.yaml",
        "conversations/maya.yaml",
        "guardrails/no-diagnosis.yaml",
        "objectives/intake.yaml",
        "personactl.yaml",
        "personas/_bases/custom-llm.yaml",
        "personas/intake-assistant.yaml",
        "personas/storyteller.yaml",
        "personas/weather-assistant.yaml",
        "templates/partials/brief-replies.md.j2",
        "templates/prompts/storyteller.md.j2",
        "tools/lookup_patient.yaml",
    ]
    ignored = (target / ".gitignore").read_text().splitlines()
    assert [line for line in ignored if not line.startswith("#")] == [
        ".personactl/*",
        "!.personactl/schema/",  # the schemas the modelines point at are committed
        "build/",
    ]
    validate = run_cli("validate", cwd=target)
    assert validate.code == 0, validate.err
    assert validate.err == EXAMPLE_VALID
    render = cli_run("render", cwd=target, env=SECRETS)
    assert render.code == 0, render.err
    assert sorted(json.loads(render.out)) == [
        "guardrails:no-diagnosis",
        "intake-assistant",
        "objectives:intake",
        "storyteller/children",
        "storyteller/crime",
        "storyteller/horror",
        "tools:lookup_patient",
        "weather-assistant",
    ]
    assert_no_secrets(render.out, render.err, root=target)


def test_init_in_cwd(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(capsys, "init")
    assert code == 0
    assert out == ""
    assert "Created 20 files" in err
    assert (tmp_path / "personactl.yaml").is_file()


def test_init_refuses_an_existing_project(tmp_path: Path, capsys) -> None:
    (tmp_path / "personactl.yaml").write_text("version: 1\n# mine\n")
    code, out, err = run_main(capsys, "init", str(tmp_path))
    assert (code, out) == (1, "")
    assert err == (
        f"error: {tmp_path}: init would overwrite 1 file: personactl.yaml "
        "(hint: pass --force to overwrite them)\n"
    )
    assert (tmp_path / "personactl.yaml").read_text() == "version: 1\n# mine\n"
    assert not (tmp_path / "personas").exists()
    code, _, _ = run_main(capsys, "init", str(tmp_path), "--force")
    assert code == 0
    assert (tmp_path / "personactl.yaml").read_bytes() == (
        SCAFFOLD / "personactl.yaml"
    ).read_bytes()


def test_scaffolded_files_carry_modelines_that_resolve(tmp_path: Path, capsys) -> None:
    assert run_main(capsys, "init", str(tmp_path))[0] == 0
    files = yaml_files(tmp_path)
    assert len(files) == 10
    for path in files:
        match = MODELINE.match(path.read_text())
        assert match, f"{path} has no yaml-language-server modeline"
        target = (path.parent / match.group(1)).resolve()
        assert target == (tmp_path / ".personactl" / "schema" / schema_for(path)).resolve()
        assert target.is_file()


def test_scaffolded_files_validate_against_written_schemas(tmp_path: Path, capsys) -> None:
    assert run_main(capsys, "init", str(tmp_path))[0] == 0
    for path in yaml_files(tmp_path):
        schema = json.loads((tmp_path / ".personactl" / "schema" / schema_for(path)).read_text())
        errors = list(
            jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(path.read_text()))
        )
        assert errors == [], (path, [e.message for e in errors])


def test_schema_out_writes_valid_json_schemas(tmp_path: Path, capsys) -> None:
    out = tmp_path / "schemas"
    code, stdout, _ = run_main(capsys, "-C", str(REPO), "schema", "--out", str(out))
    assert code == 0
    assert stdout.splitlines() == [str(out / name) for name in SCHEMAS]
    assert sorted(p.name for p in out.iterdir()) == sorted(SCHEMAS)
    for name in SCHEMAS:
        text = (out / name).read_text()
        document = json.loads(text)
        jsonschema.Draft202012Validator.check_schema(document)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert text.endswith("}\n")


def test_example_repo_validates_against_schemas(tmp_path: Path, capsys) -> None:
    out = tmp_path / "schemas"
    assert run_main(capsys, "schema", "--out", str(out))[0] == 0
    validators = {
        name: jsonschema.Draft202012Validator(json.loads((out / name).read_text()))
        for name in SCHEMAS
    }
    checked = 0
    for path in [
        *(p for folder in EXAMPLE_DIRS for p in yaml_files(REPO / folder)),
        REPO / "personactl.yaml",
    ]:
        errors = list(validators[schema_for(path)].iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], (path, [e.message for e in errors])
        checked += 1
    assert checked == 10


def test_schemas_catch_mistakes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "schemas"
    assert run_main(capsys, "schema", "--out", str(out))[0] == 0
    persona = jsonschema.Draft202012Validator(json.loads((out / "persona-file.json").read_text()))
    assert list(persona.iter_errors({"persona": {"persona_nmae": "x"}}))
    assert list(persona.iter_errors({"variants": {"v": {"persona": {"layers": {"lmm": {}}}}}}))
    assert list(persona.iter_errors({"extend": []}))
    assert not list(persona.iter_errors({"allow_unknown_keys": True, "persona": {}}))
    conversation = jsonschema.Draft202012Validator(
        json.loads((out / "conversation-file.json").read_text())
    )
    assert list(conversation.iter_errors({"inputs": {"a": {"type": "float"}}}))
    assert not list(conversation.iter_errors({"allow_unknown_keys": True, "persona": "p"}))
    project = jsonschema.Draft202012Validator(json.loads((out / "personactl.json").read_text()))
    assert list(project.iter_errors({"version": 1, "environments": {"x": {"backend": "cloud"}}}))


def test_schema_default_location_is_inside_the_project(cli_run, example_repo: Path) -> None:
    inner = example_repo / "personas"
    result = cli_run("schema", cwd=inner)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        str(example_repo / ".personactl" / "schema" / name) for name in SCHEMAS
    ]
    # the example files' modelines now resolve
    for path in yaml_files(example_repo):
        match = MODELINE.match(path.read_text())
        assert match, path
        assert (path.parent / match.group(1)).resolve().is_file(), path


def test_schema_is_deterministic(tmp_path: Path, capsys) -> None:
    run_main(capsys, "schema", "--out", str(tmp_path / "a"))
    run_main(capsys, "schema", "--out", str(tmp_path / "b"))
    for name in SCHEMAS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
