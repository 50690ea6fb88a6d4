"""Compile benchmark: `personactl validate` against the floor, peak memory, start-up.

    python benchmarks/compile.py                  # 300 files x 3 variants = 900 personas
    python benchmarks/compile.py --files 30 --runs 3
    python benchmarks/compile.py --profile        # also print a cProfile of the in-process compile
    python benchmarks/compile.py --cpus 0         # subprocesses (and the floor) on one core

Reports, in one run:

- `personactl validate` as a subprocess (wall time; best and median of --runs), and
  the floor as a subprocess (`benchmarks/_floor.py`: start-up, imports of yaml/jinja2,
  every file parsed with PyYAML's C loader, each distinct template compiled once,
  one render per persona, json.dumps) -> ratio (goal: <= 1.5x);
- the same two in this process (imports excluded; the floor's templates precompiled
  outside the timed part) -> ratio, for insight;
- `validate` after editing one of the persona files (a different one before each run;
  the incremental cache compiles only it) -> ratio to the floor (goal: <= 0.5x);
- peak memory (max RSS via /usr/bin/time) of the validate and floor subprocesses;
- `personactl --version` start-up against `python -c pass` (median of --startup-runs;
  goal: < 4x).

The subprocess runs are interleaved (floor, cold, edit, warm; then the next round), so that
a burst of load on a shared machine slows every measure alike rather than one series.

Prints a table, then one JSON line (prefixed `RESULT `) with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _floor  # noqa: E402
import _synth  # noqa: E402
from _serve import console_script  # noqa: E402

GOAL_RATIO = 1.5
GOAL_EDIT_RATIO = 0.5
GOAL_STARTUP = 4.0


def run_timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int, str]:
    """(wall seconds, ru_maxrss KiB (see peak_rss_kb), exit code, stdout+stderr)."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    return wall, usage.ru_maxrss, proc.returncode, text


def peak_rss_kb(cmd: list[str]) -> int | None:
    """Peak RSS (KiB) of one run of `cmd`, measured by /usr/bin/time.

    Not os.wait4/RUSAGE_CHILDREN: Linux carries the (v)forking parent's high-water
    mark into the child's ru_maxrss, so a child of a big process looks big.
    """
    gnu_time = Path("/usr/bin/time")
    if not gnu_time.exists():
        return None
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as f:
        subprocess.run(
            [str(gnu_time), "-f", "%M", "-o", f.name, *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        text = f.read().strip().splitlines()
    return int(text[-1]) if text and text[-1].isdigit() else None


def interleaved(
    runs: int, steps: dict[str, tuple[list[str], dict[str, str] | None, Any]]
) -> dict[str, dict[str, Any]]:
    """Each step (cmd, env, before(i)) once per round, `runs` rounds: a burst of load on a
    shared machine then falls on every step alike instead of on one whole series."""
    walls: dict[str, list[float]] = {name: [] for name in steps}
    outputs: dict[str, str] = {}
    for i in range(runs):
        for name, (cmd, env, before) in steps.items():
            if before is not None:
                before(i)
            wall, _rss, code, text = run_timed(cmd, env)
            if code != 0:
                sys.exit(f"{' '.join(cmd)} failed (exit {code}):\n{text[-2000:]}")
            walls[name].append(wall)
            outputs[name] = text
    return {
        name: {
            "best_s": min(w),
            "median_s": statistics.median(w),
            "walls": w,
            "output": outputs[name],
        }
        for name, w in walls.items()
    }


def in_process(repo: Path, runs: int) -> dict[str, Any]:
    """personactl's compile and the floor in this process, with the CLI's GC setting."""
    from personactl import cli  # the same GC tuning `personactl` applies at start-up

    cli._tune_gc()
    t0 = time.perf_counter()
    from personactl.compile.compilation import compile_project
    from personactl.schema import check_persona  # noqa: F401  (imported lazily by compile)

    import_s = time.perf_counter() - t0
    times = []
    for i in range(runs):
        t = time.perf_counter()
        result = compile_project(root=repo)
        times.append(time.perf_counter() - t)
        if i == 0 and result.errors:
            sys.exit("compile errors:\n" + "\n".join(p.format() for p in result.errors[:20]))
    floors = [_floor.floor(repo) for _ in range(runs)]
    best_floor = min(floors, key=lambda f: f["total_s"])
    return {
        "imports_s": import_s,
        "compile_first_s": times[0],
        "compile_best_s": min(times),
        "compile_median_s": statistics.median(times),
        "floor_best_s": best_floor["total_s"],
        "floor_median_s": statistics.median(f["total_s"] for f in floors),
        "floor_parts": {k: v for k, v in best_floor.items() if k.endswith("_s")},
        "personas": len(result.personas),
    }


def profile(repo: Path, top: int) -> None:
    import cProfile
    import pstats

    from personactl.compile.compilation import compile_project

    prof = cProfile.Profile()
    prof.enable()
    compile_project(root=repo)
    prof.disable()
    stats = pstats.Stats(prof, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=300, help="persona files (default 300)")
    ap.add_argument("--variants", type=int, default=3, help="variants per file (default 3)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each subprocess")
    ap.add_argument("--startup-runs", type=int, default=20, help="runs of the start-up probes")
    ap.add_argument("--dir", type=Path, help="where to generate the repo (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated repo")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the compile")
    ap.add_argument("--profile-top", type=int, default=30)
    ap.add_argument(
        "--cpus",
        help="run the subprocesses (validate, the floor, start-up probes) under "
        "`taskset -c CPUS`, e.g. 0 (one core) or 0,1",
    )
    args = ap.parse_args()
    pin = ["taskset", "-c", args.cpus] if args.cpus else []

    tmp = None
    if args.dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="personactl-bench-")
        base = Path(tmp.name)
    else:
        base = args.dir
    repo = base / "repo"
    personas = _synth.generate(repo, args.files, args.variants)
    n_files = sum(1 for _ in repo.rglob("*.yaml"))
    exe = console_script()
    # one environment, as the floor compiles one (a bare `validate` checks each of them)
    validate_cmd = [*pin, exe, "-C", str(repo), "--env", "local", "validate"]
    print(f"repo: {repo} ({personas} personas, {n_files} YAML files)", file=sys.stderr)

    # one-file edit: a different persona file each run, so only it compiles again
    persona_files = sorted(
        p for p in (repo / "personas").rglob("*.yaml") if "_bases" not in p.parts
    )

    def edit_one(i: int) -> None:
        path = persona_files[i % len(persona_files)]
        path.write_text(path.read_text() + f"# edit {i}\n")

    floor_cmd = [*pin, sys.executable, str(HERE / "_floor.py"), str(repo)]
    run_timed(validate_cmd)  # fills .personactl/cache: the edit and warm runs start from it
    timed = interleaved(
        args.runs,
        {
            "floor": (floor_cmd, None, None),
            # cold: no cache read or written (what a fresh CI checkout pays)
            "cold": (validate_cmd, {**os.environ, "PERSONACTL_NO_CACHE": "1"}, None),
            "edit": (validate_cmd, None, edit_one),
            # warm: unchanged inputs since the edit run, so .personactl/cache answers
            "warm": (validate_cmd, None, None),
        },
    )
    validate, floor, edited, warm = (timed[k] for k in ("cold", "floor", "edit", "warm"))
    for name, result in timed.items():
        if name != "floor" and f"{personas} personas" not in result["output"]:
            sys.exit(f"unexpected validate output ({name}):\n{result['output'][-2000:]}")
    rss = {
        "validate": peak_rss_kb(["env", "PERSONACTL_NO_CACHE=1", *validate_cmd]),
        "floor": peak_rss_kb(floor_cmd),
        "python": peak_rss_kb([sys.executable, "-c", "pass"]),
    }
    inproc = in_process(repo, args.runs)

    startup = interleaved(
        args.startup_runs,
        {
            "version": ([*pin, exe, "--version"], None, None),
            "python": ([*pin, sys.executable, "-c", "pass"], None, None),
        },
    )
    version, python = startup["version"], startup["python"]

    res: dict[str, Any] = {
        "personas": personas,
        "yaml_files": n_files,
        "validate_best_s": validate["best_s"],
        "validate_median_s": validate["median_s"],
        "floor_best_s": floor["best_s"],
        "floor_median_s": floor["median_s"],
        "ratio_subprocess": validate["median_s"] / floor["median_s"],
        "ratio_subprocess_best": validate["best_s"] / floor["best_s"],
        "validate_warm_median_s": warm["median_s"],
        "ratio_warm": warm["median_s"] / floor["median_s"],
        "validate_edit_median_s": edited["median_s"],
        "ratio_edit": edited["median_s"] / floor["median_s"],
        "cpus": args.cpus or "all",
        "compile_inprocess_best_s": inproc["compile_best_s"],
        "compile_inprocess_median_s": inproc["compile_median_s"],
        "compile_inprocess_first_s": inproc["compile_first_s"],
        "floor_inprocess_best_s": inproc["floor_best_s"],
        "ratio_inprocess": inproc["compile_best_s"] / inproc["floor_best_s"],
        "floor_inprocess_parts": inproc["floor_parts"],
        "imports_inprocess_s": inproc["imports_s"],
        "validate_maxrss_kb": rss["validate"],
        "floor_maxrss_kb": rss["floor"],
        "python_maxrss_kb": rss["python"],
        "version_median_s": version["median_s"],
        "python_median_s": python["median_s"],
        "startup_ratio": version["median_s"] / python["median_s"],
        "runs": args.runs,
        "startup_runs": args.startup_runs,
    }
    res["goal_ratio_met"] = res["ratio_subprocess"] <= GOAL_RATIO
    res["goal_startup_met"] = res["startup_ratio"] < GOAL_STARTUP
    res["goal_edit_met"] = res["ratio_edit"] <= GOAL_EDIT_RATIO

    ms = lambda s: f"{s * 1000:8.1f} ms"  # noqa: E731
    mb = lambda kb: f"{kb / 1024:8.1f} MB" if kb else "     n/a"  # noqa: E731
    rows = [
        (
            "personactl validate (cold, no cache)",
            ms(res["validate_median_s"]),
            f"best {ms(res['validate_best_s']).strip()}",
        ),
        (
            "floor (subprocess: _floor.py)",
            ms(res["floor_median_s"]),
            f"best {ms(res['floor_best_s']).strip()}",
        ),
        (
            "  ratio validate / floor",
            f"{res['ratio_subprocess']:8.2f} x",
            f"goal <= {GOAL_RATIO}x: {'met' if res['goal_ratio_met'] else 'NOT met'}",
        ),
        (
            "personactl validate, cached (warm)",
            ms(res["validate_warm_median_s"]),
            f"ratio to floor {res['ratio_warm']:.2f} x (inputs unchanged)",
        ),
        (
            "personactl validate, one file edited",
            ms(res["validate_edit_median_s"]),
            f"ratio to floor {res['ratio_edit']:.2f} x, goal <= {GOAL_EDIT_RATIO}x: "
            f"{'met' if res['goal_edit_met'] else 'NOT met'}",
        ),
        (
            "compile_project (in-process)",
            ms(res["compile_inprocess_best_s"]),
            f"median {ms(res['compile_inprocess_median_s']).strip()}, "
            f"first {ms(res['compile_inprocess_first_s']).strip()}",
        ),
        (
            "floor (in-process, precompiled)",
            ms(res["floor_inprocess_best_s"]),
            ", ".join(
                f"{k[:-2]} {v * 1000:.0f}"
                for k, v in inproc["floor_parts"].items()
                if k != "total_s"
            )
            + " ms",
        ),
        ("  ratio in-process", f"{res['ratio_inprocess']:8.2f} x", ""),
        (
            "peak RSS validate",
            mb(rss["validate"]),
            f"floor {mb(rss['floor']).strip()}, python -c pass {mb(rss['python']).strip()}",
        ),
        ("personactl --version", ms(res["version_median_s"]), f"median of {args.startup_runs}"),
        ("python -c pass", ms(res["python_median_s"]), f"median of {args.startup_runs}"),
        (
            "  start-up ratio",
            f"{res['startup_ratio']:8.2f} x",
            f"goal < {GOAL_STARTUP}x: {'met' if res['goal_startup_met'] else 'NOT met'}",
        ),
    ]
    print(
        f"\ncompile benchmark: {personas} personas ({args.files} files x {args.variants} "
        f"variants), {args.runs} runs, cpus={os.cpu_count()}"
        + (f", subprocesses under taskset -c {args.cpus}" if args.cpus else "")
    )
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>12}  {note}")
    if args.profile:
        print()
        profile(repo, args.profile_top)
    print("RESULT " + json.dumps(res, sort_keys=True))
    if tmp is not None and not args.keep:
        tmp.cleanup()


if __name__ == "__main__":
    main()
