"""Plans that scale for people: past 50 changes the text plan is a table; --full shows all."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import build_tree, run_cli

PERSONA = "persona:\n  persona_name: P{i}\n  system_prompt: Hello {i}\n  pipeline_mode: full\n"


def _repo(root: Path, count: int) -> Path:
    files = {"personactl.yaml": "version: 1\n"}
    files.update({f"personas/p{i:03}.yaml": PERSONA.format(i=i) for i in range(count)})
    return build_tree(root, files)


def test_more_than_50_changes_is_a_table(tmp_path: Path) -> None:
    repo = _repo(tmp_path, 51)
    r = run_cli("plan", cwd=repo)
    assert r.code == 0, r.both
    lines = r.out.splitlines()
    assert lines[2] == "  address  action  changed fields"
    assert lines[3] == "+ p000     create  persona_name, system_prompt, pipeline_mode"
    assert "(51 changes: `personactl plan --full` shows every field)" in r.out
    assert "+ /system_prompt" not in r.out
    assert r.out.rstrip().endswith("Plan: 51 to create, 0 to update, 0 to delete.")


def test_full_shows_every_field_and_json_keeps_everything(tmp_path: Path) -> None:
    repo = _repo(tmp_path, 51)
    full = run_cli("plan", "--full", cwd=repo)
    assert full.out.count("+ create p") == 51
    assert '+ /system_prompt: "Hello 50"' in full.out
    assert run_cli("plan", "-v", cwd=repo).out == full.out
    data = json.loads(run_cli("plan", "--format", "json", cwd=repo).out)
    assert len(data["changes"]) == 51 and data["changes"][0]["patch"]


def test_50_changes_are_still_shown_in_full(tmp_path: Path) -> None:
    repo = _repo(tmp_path, 50)
    r = run_cli("plan", cwd=repo)
    assert r.out.count("+ create p") == 50
