"""The two-process compile gives exactly what the sequential one gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personactl.compile import parallel as fanout
from personactl.compile.compilation import compile_project
from tests.conftest import build_tree


def _both(root: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(fanout, "MIN_FILES", 10**9)
    sequential = compile_project(root=root)
    monkeypatch.setattr(fanout, "MIN_FILES", 2)
    monkeypatch.setattr(fanout, "usable_cpus", lambda: 2)
    forked = compile_project(root=root)
    return sequential, forked


def _dump(result) -> str:
    return json.dumps({a: p.payload for a, p in result.personas.items()}, sort_keys=True)


def test_forked_compile_matches_sequential(example_repo: Path, monkeypatch) -> None:
    sequential, forked = _both(example_repo, monkeypatch)
    assert list(forked.personas) == list(sequential.personas)
    assert _dump(forked) == _dump(sequential)
    assert [p.format() for p in forked.problems] == [p.format() for p in sequential.problems]


def test_problems_from_the_child_keep_their_positions(tmp_path: Path, monkeypatch) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\nvars: {who: you}\n",
            "personas/a.yaml": "persona: {system_prompt: 'hi {{ who }}'}\n",
            "personas/b.yaml": "persona: {system_prompt: hi}\n",
            "personas/c.yaml": "persona:\n  system_prompt: hi\n  modle: x\n",
            "personas/d.yaml": (
                'name: a\npersona: {system_prompt: \'{{ env("TONE_X", "calm") }}\'}\n'
            ),
        },
    )
    sequential, forked = _both(tmp_path, monkeypatch)
    assert sorted(p.format() for p in forked.errors) == sorted(
        p.format() for p in sequential.errors
    )
    assert "personas/c.yaml:3:3: c: unknown key 'modle'" in "\n".join(
        p.format() for p in forked.errors
    )
    assert any("duplicate persona address 'a'" in p.message for p in forked.errors)
    assert "TONE_X" in forked.renderer.env_reads  # read in the child, kept for the cache key


def test_a_failing_child_falls_back_to_compiling_here(example_repo: Path, monkeypatch) -> None:
    real = fanout.pickle.dumps

    def broken(*_args, **_kwargs):  # only ever called in the child
        raise RuntimeError("child broke")

    monkeypatch.setattr(fanout.pickle, "dumps", broken)
    sequential, forked = _both(example_repo, monkeypatch)
    monkeypatch.setattr(fanout.pickle, "dumps", real)
    assert _dump(forked) == _dump(sequential)


def test_a_stuck_child_is_killed_and_its_half_compiled_here(
    example_repo: Path, monkeypatch
) -> None:
    import time

    def stuck(*_args, **_kwargs):  # only ever called in the child
        time.sleep(60)

    monkeypatch.setattr(fanout, "CHILD_TIMEOUT_S", 0.5)
    monkeypatch.setattr(fanout.pickle, "dumps", stuck)
    started = time.monotonic()
    sequential, forked = _both(example_repo, monkeypatch)
    assert time.monotonic() - started < 30
    assert _dump(forked) == _dump(sequential)


def test_no_fork_in_a_multithreaded_process(example_repo: Path, monkeypatch) -> None:
    monkeypatch.setattr(fanout.threading, "active_count", lambda: 2)
    monkeypatch.setattr(fanout.os, "fork", lambda: pytest.fail("forked"))
    _both(example_repo, monkeypatch)
