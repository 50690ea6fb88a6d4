"""Apply progress in CI logs (done/total, elapsed, retries as they happen), and an
unreachable API named in its one-line error."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from tests.conftest import assert_no_secrets, run_cli
from tests.serverfix import LiveServer, server  # noqa: F401
from tests.test_faults import ENV, make_repo


def test_plain_progress_lines_with_retries_and_waits(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
) -> None:
    repo = make_repo(tmp_path, server.url, 3)
    assert run_cli("plan", "--out", "plan.json", cwd=repo, env=ENV).code == 0
    # the saved plan's freshness check lists first: answered 503, then 429 (Retry-After)
    server.set_faults(fail_next=[503, 429], retry_after=0.2)
    r = run_cli("apply", "plan.json", "--parallelism", "1", cwd=repo, env={**ENV, "CI": "true"})
    assert r.code == 0, r.both
    shown = [re.sub(r"(\d+\.\d)s", "Ns", line) for line in r.err.splitlines()]
    assert shown == [
        "[0/3 Ns] retry: GET /v2/personas: HTTP 503: injected fault; waiting Ns (attempt 2 of 6)",
        "[0/3 Ns] retry: GET /v2/personas: HTTP 429: Too many requests; "
        "waiting Ns (attempt 3 of 6)",
        "[1/3 Ns] p01: created",
        "[2/3 Ns] p02: created",
        "[3/3 Ns] p03: created",
    ]
    assert "waiting 0.2s (attempt 3 of 6)" in r.err
    assert_no_secrets(r.out, r.err, root=repo)


def test_retries_while_planning_are_shown(tmp_path: Path, server: LiveServer) -> None:  # noqa: F811
    repo = make_repo(tmp_path, server.url, 1)
    server.set_faults(fail_next=[429], retry_after=0.1)
    r = run_cli("plan", cwd=repo, env=ENV)
    assert r.code == 0, r.both
    assert r.err == (
        "retry: GET /v2/personas: HTTP 429: Too many requests; waiting 0.1s (attempt 2 of 6)\n"
    )


def test_unreachable_api_is_one_line_naming_the_host(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    repo = make_repo(tmp_path, url, 1)
    r = run_cli("plan", cwd=repo, env=ENV)
    assert r.code == 1
    last = r.err.splitlines()[-1]
    failed = "error: GET /v2/personas failed after 6 attempts: cannot connect: "
    assert re.fullmatch(rf"{failed}.*\(API at {url}\)", last), r.err
    retry = "retry: GET /v2/personas: cannot connect: "
    assert all(line.startswith(retry) for line in r.err.splitlines()[:-1])


def test_terminal_progress_is_one_line_redrawn_below_the_changes() -> None:
    import io

    from personactl.cli._progress import Progress

    stream = io.StringIO()
    progress = Progress(2, stream=stream, live=True)
    progress.change("a: created")
    progress.retry("retry: POST /v2/personas: HTTP 429; waiting 1.0s (attempt 2 of 6)")
    progress.change("b: created")
    progress.close()
    screen = re.sub(r"\d+\.\ds", "Ns", stream.getvalue())
    assert screen == (
        "\r\x1b[Ka: created\napplying: 1/2 done, Ns elapsed"
        "\r\x1b[Kretry: POST /v2/personas: HTTP 429; waiting Ns (attempt 2 of 6)\n"
        "applying: 1/2 done, Ns elapsed, 1 retries"
        "\r\x1b[Kb: created\napplying: 2/2 done, Ns elapsed, 1 retries"
        "\r\x1b[K"
    )
