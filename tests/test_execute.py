"""The executor's own guarantees, below the CLI: changes run in parallel, each success
recorded, and a bug in one worker raised by `execute` rather than lost in a thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from personactl.deploy.backends.local import LocalBackend
from personactl.deploy.execute import execute
from personactl.deploy.plan import Change, Plan
from personactl.deploy.state import State
from personactl.deploy.state.file import FileStore


def _creates(n: int) -> Plan:
    changes = [
        Change(f"p{i:02d}", "create", None, [], None, body={"persona_name": f"P{i}"}, applied={})
        for i in range(n)
    ]
    return Plan("env", "local", changes, 0)


def test_every_change_runs_and_is_recorded(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "env.json", "env")
    recorder = store.recorder(State("env"))
    said: list[str] = []
    outcome = execute(
        _creates(12),
        LocalBackend(tmp_path / "l.db"),
        recorder,
        {},
        parallelism=4,
        report=said.append,
    )
    recorder.close()
    assert [c.address for c in outcome.done] == [f"p{i:02d}" for i in range(12)]
    assert sorted(said) == sorted(f"p{i:02d}: created" for i in range(12))
    assert sorted(store.load().resources) == [f"p{i:02d}" for i in range(12)]


class _Broken(LocalBackend):
    """A backend with a bug (not an API error): its create raises."""

    def create(self, kind: Any, payload: Any) -> Any:  # noqa: ARG002
        raise RuntimeError("a bug in create")


def test_a_bug_in_a_worker_is_raised_and_the_others_take_nothing_new(tmp_path: Path) -> None:
    recorder = FileStore(tmp_path / "env.json", "env").recorder(State("env"))
    with pytest.raises(RuntimeError, match="a bug in create"):
        execute(_creates(40), _Broken(tmp_path / "l.db"), recorder, {}, parallelism=4)
    recorder.close()
