"""Deploy benchmark: `apply` against `personactl serve` with added latency.

    python benchmarks/deploy.py                    # 900 personas, 20 ms latency
    python benchmarks/deploy.py --personas 90      # a quick run
    python benchmarks/deploy.py --parallelism 1 8 16
    python benchmarks/deploy.py --parallelism 16 --runs 5

Generates a repository of N personas with an environment
`bench: {backend: tavus, api_url: http://127.0.0.1:PORT, api_key_env: BENCH_KEY}`,
starts the server (`personactl serve --latency-ms 20 --api-key ...`) as a
subprocess, and reports, in one run:

- `personactl apply --auto-approve --parallelism P` of all creates, for each P
  (a fresh server database and empty state per run, no compile cache: what a fresh
  CI checkout pays), with the requests it made (list pages of its plan, creates, list
  pages of its read-back) and the ideal N x latency / P;  goal: the whole command
  within 1.5x of (cold `validate` + ideal) at P = 16, the median over --runs of the
  ratio of each apply to the cold validate timed just before it (pairs, so that a
  busy machine slows both sides);
- a no-change `personactl plan --detailed-exitcode` afterwards: the requests it makes
  (goal: only list pages, no per-persona GET) and its time;
- the server floor: the same creates from a bare HTTP client (http.client, P threads) on a
  fresh server, i.e. what `personactl serve` itself allows on this machine;
- for scale: `personactl validate` (start-up + compile, no API) and a plan against the
  empty server (start-up + compile + one list page).

The create phase of an apply (first create to last, timed by polling /_stats every
10 ms) is compared with the ideal as well as the whole apply, with what comes before
(start-up, compile, plan) and after (read-back, state save).
Prints a table, then one JSON line (`RESULT ...`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _synth  # noqa: E402
from _serve import (  # noqa: E402
    PAGE_SIZE,
    Server,
    bare_creates,
    bench_env,
    breakdown,
    console_script,
    free_port,
    run,
    sent_bodies,
)


class CreateWatch:
    """Polls /_stats while an apply runs, to time its create phase on the wall clock:
    from the arrival of the first POST /v2/personas to the arrival of the last, plus
    one latency (the last create's answer).  Resolution: the poll interval."""

    def __init__(self, server: Server, expected: int, interval: float = 0.01) -> None:
        self.server = server
        self.expected = expected
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> CreateWatch:
        self.t0 = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        # one keep-alive connection: a new one per poll (urllib) cost the server and this
        # process enough CPU, on the two cores the apply uses, to slow the apply measured
        conn = http.client.HTTPConnection("127.0.0.1", int(self.server.url.rsplit(":", 1)[1]))
        try:
            while not self._stop.is_set():
                try:
                    conn.request("GET", "/_stats")
                    count = breakdown(json.loads(conn.getresponse().read()))["create"]
                except (OSError, http.client.HTTPException, ValueError):
                    conn.close()
                    count = -1
                self.samples.append((time.perf_counter() - self.t0, count))
                if count >= self.expected:
                    return
                self._stop.wait(self.interval)
        finally:
            conn.close()

    def phases(self, latency: float) -> dict[str, float]:
        first = next((t for t, c in self.samples if c > 0), None)
        last = next((t for t, c in self.samples if c >= self.expected), None)
        if first is None or last is None:
            return {}
        return {
            "before_creates_s": first,  # start-up, compile, plan (list), plan text
            "creates_s": last - first + latency,
            "creates_end_s": last + latency,
        }


def _apply_at(
    server: Server, cli: list[str], env: dict[str, str], n: int, p: int, latency: float
) -> dict[str, Any]:
    """One timed `apply` of every create at parallelism p, after a timed cold validate."""
    validate_s, _ = run([*cli, "validate"], env)
    server.reset()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with CreateWatch(server, n) as watch:
        t, out = run([*cli, "apply", "--auto-approve", "--parallelism", str(p)], env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    req = breakdown(server.stats())
    if req["create"] != n:
        sys.exit(f"apply at parallelism {p} made {req['create']} creates, not {n}:\n{out}")
    ideal = n * latency / p
    return {
        "parallelism": p,
        "time_s": t,
        "ideal_s": ideal,
        "validate_s": validate_s,
        # the apply's own CPU (user + sys): steadier than wall time on a shared machine
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "ratio_to_validate_plus_ideal": t / (validate_s + ideal),
        "requests": req,
        **watch.phases(latency),
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs of one parallelism as one: the median of each figure, the requests of
    the last, every run's time and ratio."""
    out = dict(runs[-1])
    for key, value in runs[-1].items():
        if isinstance(value, float):
            out[key] = statistics.median(r.get(key, math.nan) for r in runs)
    out["runs_s"] = [r["time_s"] for r in runs]
    out["runs_ratio"] = [r["ratio_to_validate_plus_ideal"] for r in runs]
    return out


def _plans(server: Server, cli: list[str], env: dict[str, str], runs: int) -> dict[str, Any]:
    """Timed no-change plans: median, best, and the requests of one."""
    times = []
    req: dict[str, int] = {}
    for _ in range(runs):
        server.reset()
        t, _out = run([*cli, "plan", "--detailed-exitcode"], env)
        times.append(t)
        req = breakdown(server.stats())
    return {"time_s": statistics.median(times), "best_s": min(times), "requests": req}


def _measure(
    args: argparse.Namespace,
    base: Path,
    port: int,
    cli: list[str],
    env: dict[str, str],
    n: int,
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """--runs applies per parallelism (each on a fresh server and state), the plan
    against the empty server, and the no-change plans after the last apply."""
    latency = args.latency_ms / 1000
    applies: list[dict[str, Any]] = []
    plan_nochange: dict[str, Any] = {}
    plan_empty: dict[str, Any] = {}
    repo = base / "repo"
    for p in args.parallelism:
        runs = []
        for i in range(max(1, args.runs)):
            db = base / f"serve-p{p}-{i}.db"
            db.unlink(missing_ok=True)
            shutil.rmtree(repo / ".personactl" / "state", ignore_errors=True)
            server = Server(db, port, args.latency_ms)
            try:
                if not plan_empty:
                    server.reset()
                    t, _ = run([*cli, "plan", "--detailed-exitcode"], env, ok=(2,))
                    plan_empty = {"time_s": t, "requests": breakdown(server.stats())}
                runs.append(_apply_at(server, cli, env, n, p, latency))
                if p == max(args.parallelism) and i == max(1, args.runs) - 1:
                    plan_nochange = _plans(server, cli, env, args.plan_runs)
            finally:
                server.stop()
                db.unlink(missing_ok=True)
        for a in runs:
            a["ratio_to_ideal"] = a["time_s"] / a["ideal_s"]
            a.setdefault("creates_s", math.nan)
            a["creates_ratio_to_ideal"] = a["creates_s"] / a["ideal_s"]
            a["after_creates_s"] = a["time_s"] - a.get("creates_end_s", math.nan)
        applies.append(_median_run(runs))
    plan_nochange["server_floor_s"] = _server_floor(
        base, port, args.latency_ms, sent_bodies(repo), max(args.parallelism)
    )
    return applies, plan_empty, plan_nochange


def _server_floor(
    base: Path, port: int, latency_ms: float, bodies: list[dict[str, Any]], p: int
) -> float:
    """The same creates from a bare HTTP client on a fresh server (see bare_creates)."""
    db = base / "serve-floor.db"
    server = Server(db, port, latency_ms)
    try:
        return bare_creates(server.url, bodies, p)
    finally:
        server.stop()
        db.unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--personas", type=int, default=900, help="personas (default 900)")
    ap.add_argument("--variants", type=int, default=3, help="variants per file (default 3)")
    ap.add_argument("--latency-ms", type=float, default=20.0, help="server latency (default 20)")
    ap.add_argument(
        "--parallelism", type=int, nargs="+", default=[1, 16], help="apply runs (default 1 16)"
    )
    ap.add_argument(
        "--runs", type=int, default=3, help="applies per parallelism, medians (default 3)"
    )
    ap.add_argument("--plan-runs", type=int, default=3, help="timed no-change plans (default 3)")
    ap.add_argument("--dir", type=Path, help="work directory (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if args.personas % max(args.variants, 1):
        ap.error("--personas must be a multiple of --variants")
    files = args.personas // max(args.variants, 1)

    tmp = None
    if args.dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="personactl-deploy-")
        base = Path(tmp.name)
    else:
        base = args.dir
        base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    repo = base / "repo"
    n = _synth.generate(repo, files, args.variants, env_url=f"http://127.0.0.1:{port}")
    exe = console_script()
    env = bench_env(dict(os.environ))
    cli = [exe, "-C", str(repo), "--env", "bench"]
    pages = max(1, math.ceil(n / PAGE_SIZE))  # the client stops at total_count
    print(f"repo: {repo} ({n} personas), server port {port}", file=sys.stderr)

    applies, plan_empty, plan_nochange = _measure(args, base, port, cli, env, n)
    by_p = {a["parallelism"]: a for a in applies}
    validate_s = statistics.median(a["validate_s"] for a in applies)
    res: dict[str, Any] = {
        "personas": n,
        "latency_ms": args.latency_ms,
        "expected_list_pages": pages,
        "validate_s": validate_s,
        "plan_empty": plan_empty,
        "applies": applies,
        "plan_nochange": plan_nochange,
        "plan_nochange_only_list_pages": (
            plan_nochange["requests"]["total"] == plan_nochange["requests"]["list"]
        ),
    }
    if 1 in by_p and 16 in by_p:
        res["speedup_16_vs_1"] = by_p[1]["time_s"] / by_p[16]["time_s"]
        res["creates_speedup_16_vs_1"] = by_p[1]["creates_s"] / by_p[16]["creates_s"]
    top = by_p[max(by_p)]
    res["ratio_to_validate_plus_ideal"] = top["ratio_to_validate_plus_ideal"]
    floor = plan_nochange["server_floor_s"]
    res["server_floor_s"] = floor
    res["ratio_to_validate_plus_server_floor"] = top["time_s"] / (validate_s + floor)
    res["goal_apply_met"] = top["ratio_to_validate_plus_ideal"] <= 1.5
    res["goal_creates_phase_met"] = top["creates_ratio_to_ideal"] <= 1.5

    ms = lambda s: f"{s * 1000:9.0f} ms"  # noqa: E731
    rq = lambda r: (  # noqa: E731
        f"{r['total']} requests: {r['list']} list, {r['create']} create, "
        f"{r['get_one']} get, {r['patch']} patch, {r['delete']} delete"
    )
    print(
        f"\ndeploy benchmark: {n} personas, server latency {args.latency_ms:g} ms, "
        f"cpus={os.cpu_count()}"
    )
    rows: list[tuple[str, str, str]] = [
        ("validate (start-up + compile)", ms(validate_s), "cold (no cache), median"),
        ("plan, empty server", ms(plan_empty["time_s"]), rq(plan_empty["requests"])),
    ]
    for a in applies:
        p = a["parallelism"]
        rows += [
            (f"apply --parallelism {p}", ms(a["time_s"]), rq(a["requests"])),
            ("  its CPU (user + sys)", ms(a["cpu_s"]), "of the personactl process"),
            (
                "  ideal N x latency / P",
                ms(a["ideal_s"]),
                f"apply / ideal = {a['ratio_to_ideal']:.2f}x",
            ),
            (
                "  apply / (validate + ideal)",
                f"{a['ratio_to_validate_plus_ideal']:9.2f} x",
                f"median of {len(a['runs_ratio'])}: "
                + ", ".join(f"{r:.2f}" for r in a["runs_ratio"]),
            ),
            (
                "  before the first create",
                ms(a.get("before_creates_s", float("nan"))),
                "start-up, compile, plan (1 list page), plan text",
            ),
            (
                "  creates phase",
                ms(a["creates_s"]),
                f"first to last create (+1 latency); / ideal = {a['creates_ratio_to_ideal']:.2f}x",
            ),
            (
                "  after the last create",
                ms(a["after_creates_s"]),
                "read-back list pages, state save, exit",
            ),
        ]
    if "speedup_16_vs_1" in res:
        rows.append(
            (
                "apply speed-up 16 vs 1",
                f"{res['speedup_16_vs_1']:9.2f} x",
                f"creates phase {res['creates_speedup_16_vs_1']:.2f}x (ideal 16x)",
            )
        )
    rows += [
        (
            "no-change plan",
            ms(plan_nochange["time_s"]),
            f"median of {args.plan_runs}; " + rq(plan_nochange["requests"]),
        ),
        (
            "  only list pages?",
            "      yes" if res["plan_nochange_only_list_pages"] else "       NO",
            f"expected {pages} pages of {PAGE_SIZE}",
        ),
        (
            "server floor, bare client",
            ms(floor),
            f"the same {n} creates from bare http.client at parallelism {top['parallelism']}: "
            f"what serve allows; apply / (validate + floor) = "
            f"{res['ratio_to_validate_plus_server_floor']:.2f}x",
        ),
        (
            f"goal: apply@{top['parallelism']} <= 1.5x (validate + ideal)",
            "      met" if res["goal_apply_met"] else "  NOT met",
            f"creates phase alone: {'met' if res['goal_creates_phase_met'] else 'NOT met'}",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>12}  {note}")
    print("RESULT " + json.dumps(res, sort_keys=True))
    if tmp is not None and not args.keep:
        tmp.cleanup()


if __name__ == "__main__":
    main()
