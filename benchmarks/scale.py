"""Scale benchmark: one row per repository size, for the README's scale table.

    python benchmarks/scale.py                         # N = 100, 1,000, 10,000 personas
    python benchmarks/scale.py --sizes 100,1000 --runs 3
    python benchmarks/scale.py --cpus 0 --markdown     # CLI pinned to CPU 0; README table

For each N, a synthetic repository (benchmarks/_synth.py: N / --variants files of
--variants variants each; the personas are counted, not assumed) and, in order:

- cold `validate` of the `bench` environment (an empty compile cache, which it
  fills): wall time, peak RSS;
- one-file-edit `validate`: one persona file is edited (a variable every variant
  reads), then `validate` is timed, with the cache the cold one left;
- `apply --auto-approve --parallelism 16` of all creates against a fresh
  `personactl serve --latency-ms 20`, without the compile cache (what a fresh CI
  checkout pays): wall time, peak RSS, the ideal N x latency / 16, and the ratios
  to it and to (cold validate + ideal);
- a no-change `plan --detailed-exitcode` afterwards (the compile from the cache, so
  the figure is the plan's own: list pages and diffs): its time and the requests
  the server counted (/_stats: list pages only, no GET per persona).

Times are medians of --runs (the apply's on a fresh server each
run); peak memory (/usr/bin/time %M) is the highest of the runs.  --cpus pins the
personactl commands (not the server) with taskset.  Growth per persona between
consecutive sizes is reported (1.0 = linear).  Prints a table (or with --markdown
the README's), then one JSON line (`RESULT ...`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _synth  # noqa: E402
from _serve import (  # noqa: E402
    Server,
    bench_env,
    breakdown,
    console_script,
    free_port,
    run,
    timed_rss,
)

PARALLELISM = 16
MEMORY_GOAL_MB = 500
METRICS = ("validate_s", "edit_validate_s", "plan_s", "apply_s")


def _edit(repo: Path, round_: int) -> None:
    """Change the first persona file's top-level `audience` (every variant reads it)."""
    path = repo / "personas" / "team-0" / "persona-0000.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = f"  audience: edited audience {round_}\n"
    path.write_text("".join(lines), encoding="utf-8")


def _size(n_wanted: int, args: argparse.Namespace, base: Path, pin: list[str]) -> dict[str, Any]:
    variants = max(args.variants, 1)
    files = max(1, round(n_wanted / variants))
    port = free_port()
    repo = base / f"repo-{n_wanted}"
    n = _synth.generate(repo, files, args.variants, env_url=f"http://127.0.0.1:{port}")
    exe = console_script()
    env = bench_env(dict(os.environ))
    warm_env = {k: v for k, v in env.items() if k != "PERSONACTL_NO_CACHE"}
    cli = [*pin, exe, "-C", str(repo), "--env", "bench"]
    latency = args.latency_ms / 1000
    runs = max(1, args.runs)
    print(f"N={n}: {repo}, server port {port}", file=sys.stderr, flush=True)
    t_start = time.perf_counter()

    validate, validate_rss = [], []
    edited = []
    for i in range(runs):
        # cold: an empty cache (this validate fills it for the edited one)
        shutil.rmtree(repo / ".personactl" / "cache", ignore_errors=True)
        t, rss, out = timed_rss([*cli, "validate"], warm_env)
        if f"{n} personas" not in out:
            sys.exit(f"unexpected validate output:\n{out[-2000:]}")
        validate.append(t)
        validate_rss.append(rss)
        _edit(repo, i)
        edited.append(run([*cli, "validate"], warm_env)[0])

    applies, apply_rss, plans = [], [], []
    requests: dict[str, int] = {}
    for i in range(runs):
        db = base / f"serve-{n_wanted}-{i}.db"
        shutil.rmtree(repo / ".personactl" / "state", ignore_errors=True)
        server = Server(db, port, args.latency_ms)
        try:
            apply_cmd = [*cli, "apply", "--auto-approve", "--parallelism", str(PARALLELISM)]
            t, rss, out = timed_rss(apply_cmd, env)
            created = breakdown(server.stats())["create"]
            if created != n:
                sys.exit(f"apply made {created} creates, not {n}:\n{out[-3000:]}")
            applies.append(t)
            apply_rss.append(rss)
            server.reset()
            plans.append(run([*cli, "plan", "--detailed-exitcode"], warm_env)[0])
            requests = breakdown(server.stats())
        finally:
            server.stop()
            for leftover in base.glob(f"serve-{n_wanted}-{i}.*"):
                leftover.unlink(missing_ok=True)
    if not args.keep:
        shutil.rmtree(repo, ignore_errors=True)

    ideal = n * latency / PARALLELISM
    row: dict[str, Any] = {
        "personas": n,
        "files": files,
        "validate_s": statistics.median(validate),
        "edit_validate_s": statistics.median(edited),
        "plan_s": statistics.median(plans),
        "plan_requests": requests["total"],
        "plan_only_list_pages": requests["total"] == requests["list"],
        "apply_s": statistics.median(applies),
        "apply_ideal_s": ideal,
        "validate_peak_mb": _peak_mb(validate_rss),
        "apply_peak_mb": _peak_mb(apply_rss),
        "benchmark_s": time.perf_counter() - t_start,
    }
    row["apply_ratio_to_ideal"] = row["apply_s"] / ideal
    row["apply_ratio_to_validate_plus_ideal"] = row["apply_s"] / (row["validate_s"] + ideal)
    return row


def _peak_mb(rss_kb: list[int | None]) -> float | None:
    """The highest peak RSS of the runs, in MB; None without /usr/bin/time."""
    known = [r for r in rss_kb if r is not None]
    return max(known) / 1024 if known else None


def _mb(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


def _growth(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Time per persona of each size over the previous size's (1.0 = linear)."""
    out = []
    for small, big in zip(rows, rows[1:], strict=False):
        scale = big["personas"] / small["personas"]
        per = {m: big[m] / small[m] / scale for m in METRICS if small[m] > 0}
        out.append({"from": small["personas"], "to": big["personas"], **per})
    return out


def _markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| personas | cold validate | one-file-edit validate | no-change plan "
        f"| apply (all creates, {PARALLELISM} parallel) | apply / ideal "
        "| apply / (validate + ideal) | peak memory validate / apply |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {r['personas']:,} | {r['validate_s']:.2f} s | {r['edit_validate_s']:.2f} s "
        f"| {r['plan_s']:.2f} s, {r['plan_requests']} requests "
        f"| {r['apply_s']:.2f} s (ideal {r['apply_ideal_s']:.2f} s) "
        f"| {r['apply_ratio_to_ideal']:.2f}x | {r['apply_ratio_to_validate_plus_ideal']:.2f}x "
        f"| {_mb(r['validate_peak_mb'])} / {_mb(r['apply_peak_mb'])} MB |\n"
        for r in rows
    )
    return head + body


def _table(rows: list[dict[str, Any]], growth: list[dict[str, Any]]) -> str:
    cols = [
        ("personas", "personas", "{:>9,}"),
        ("validate", "validate_s", "{:>8.2f}s"),
        ("edit", "edit_validate_s", "{:>8.2f}s"),
        ("plan", "plan_s", "{:>8.2f}s"),
        ("plan req", "plan_requests", "{:>9}"),
        ("apply", "apply_s", "{:>8.2f}s"),
        ("/ideal", "apply_ratio_to_ideal", "{:>8.2f}x"),
        ("/(v+i)", "apply_ratio_to_validate_plus_ideal", "{:>8.2f}x"),
    ]
    lines = ["".join(f"{name:>10}" for name, _, _ in cols) + "  peak MB validate/apply"]
    lines += [
        "".join(f"{fmt.format(r[key]):>10}" for _, key, fmt in cols)
        + f"  {_mb(r['validate_peak_mb'])}/{_mb(r['apply_peak_mb'])}"
        for r in rows
    ]
    for g in growth:
        per = ", ".join(f"{m.removesuffix('_s')} {g[m]:.2f}" for m in METRICS if m in g)
        lines.append(f"growth per persona {g['from']:,} -> {g['to']:,}: {per} (1.00 = linear)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--sizes", default="100,1000,10000", help="personas per row (default 100,1000,10000)"
    )
    ap.add_argument("--variants", type=int, default=4, help="variants per file (default 4)")
    ap.add_argument("--runs", type=int, default=1, help="timed runs per figure (default 1)")
    ap.add_argument("--cpus", help="pin the personactl commands with `taskset -c CPUS`")
    ap.add_argument("--latency-ms", type=float, default=20.0, help="server latency (default 20)")
    ap.add_argument("--markdown", action="store_true", help="print the README table")
    ap.add_argument("--dir", type=Path, help="work directory (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated repositories")
    args = ap.parse_args()
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--sizes: not a comma-separated list of numbers: {args.sizes}")
    if not sizes or min(sizes) < 1:
        ap.error("--sizes needs at least one size, each at least 1")
    pin: list[str] = []
    if args.cpus:
        if shutil.which("taskset") is None:
            ap.error("--cpus needs taskset (util-linux)")
        pin = ["taskset", "-c", args.cpus]

    tmp = None
    if args.dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="personactl-scale-")
        base = Path(tmp.name)
    else:
        base = args.dir
        base.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows = [_size(n, args, base, pin) for n in sizes]
    growth = _growth(rows)
    biggest = max(rows, key=lambda r: r["personas"])
    res: dict[str, Any] = {
        "rows": rows,
        "growth": growth,
        "cpus": args.cpus or f"all ({os.cpu_count()})",
        "runs": args.runs,
        "latency_ms": args.latency_ms,
        "parallelism": PARALLELISM,
        "total_s": time.perf_counter() - t0,
        "largest": biggest["personas"],
    }
    peaks = [p for r in rows for p in (r["validate_peak_mb"], r["apply_peak_mb"]) if p is not None]
    res["peak_mb"] = max(peaks) if peaks else None
    res["memory_goal_met"] = None if not peaks else max(peaks) < MEMORY_GOAL_MB
    goal = {None: "not measured", True: "met", False: "NOT met"}[res["memory_goal_met"]]
    print(_markdown(rows) if args.markdown else _table(rows, growth))
    print(
        f"\n{len(rows)} sizes in {res['total_s']:.0f} s; peak memory {_mb(res['peak_mb'])} MB "
        f"(goal < {MEMORY_GOAL_MB} MB: {goal}); cpus {res['cpus']}"
    )
    print("RESULT " + json.dumps(res, sort_keys=True))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
