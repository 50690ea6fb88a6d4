"""The benchmark scripts still run end to end (tiny sizes; nothing timed or asserted on speed)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def _result(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def test_compile_benchmark_runs() -> None:
    res = _result(
        "benchmarks/compile.py",
        "--files",
        "4",
        "--variants",
        "2",
        "--runs",
        "1",
        "--startup-runs",
        "1",
    )
    assert res["personas"] == 8
    assert {"ratio_subprocess", "ratio_warm", "startup_ratio", "validate_maxrss_kb"} <= set(res)


def test_deploy_benchmark_runs() -> None:
    res = _result("benchmarks/deploy.py", "--personas", "6", "--runs", "1", "--plan-runs", "1")
    assert res["personas"] == 6
    assert [a["requests"]["create"] for a in res["applies"]] == [6, 6]
    assert res["ratio_to_validate_plus_ideal"] > 0
    assert res["plan_nochange_only_list_pages"] is True


def test_llm_benchmark_runs() -> None:
    res = _result("benchmarks/llm.py", "--runs", "1", "--chunks", "50")
    assert res["chunks"] == 50 and res["start_to_request_ms"] > 0


def test_scale_benchmark_runs() -> None:
    res = _result("benchmarks/scale.py", "--sizes", "6", "--runs", "1", "--markdown")
    (row,) = res["rows"]
    assert row["personas"] == 8  # 6 / 4 variants -> 2 files of 4
    assert row["plan_only_list_pages"] is True and row["plan_requests"] == 1
    assert {"validate_s", "edit_validate_s", "apply_s", "apply_ratio_to_ideal"} <= set(row)
