"""The CLI's single error boundary: user errors exit 1, disk errors one line, bugs exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from personactl.compile import compilation
from tests.conftest import build_tree


def test_a_bug_exits_3_with_a_report(
    tmp_path: Path, cli_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_tree(tmp_path, {"personactl.yaml": "version: 1\n"})

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(compilation, "compile_project", broken)
    result = cli_run("-C", str(tmp_path), "render")
    assert result.code == 3
    assert "internal error (a bug" in result.err
    assert "RuntimeError: boom" in result.err


def test_an_unwritable_output_is_one_line(tmp_path: Path, cli_run) -> None:
    repo = build_tree(
        tmp_path / "r",
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": "persona: {system_prompt: hi}\n",
        },
    )
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = cli_run("-C", str(repo), "render", "--out", str(blocker / "sub"))
    assert result.code == 1
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
