"""Explorer bench: irqio check beside frontrun, interleave-test and ploom, then irqio alone.

Part 1, the peers, on the thread races of `explorer_races.py` (lost update, check-then-act,
publish-after-signal with a foreign thread, a bug that needs two preemptions), each tool with
its exhaustive search at two preemptions (frontrun: DPOR; interleave-test: CHESS-style DFS;
ploom: DFS; irqio: its race-directed first runs, then exhaustive search with its partial-order
reduction): was the bug found, after how many schedules, in how many seconds, and how long the
full search of the fixed program takes. A schedule is one execution of the program, counted
the same way for every tool: every execution until the first failing one, that one included
(irqio: its first runs and its warm-up run too, `Result.executions`; frontrun: `num_explored`,
its reproduction runs switched off; interleave-test: the failing iteration + 1; ploom: its
executions). Runs made after the failure to report it (irqio's replay of the failing schedule
that checks its handle, shrinking, explaining) are not counted, for any tool.
Each case runs in a fresh process. A peer missing from the environment is installed with pip
first (`--no-install` to skip); each supports the Pythons it says (interleave-test 3.12+,
ploom 3.13+), and a peer that cannot run here is shown as such.

Part 2, irqio alone: schedules per second of the engine on the kernel port (no reduction:
the raw rate, target >= 20,000), the reduction factor (schedules without / with it, same
points), the speed-up of `-j 2` (wall time of explore(), fresh worker processes included,
alternating with the serial search, medians of three; a search of ~22,000 schedules, ~15 s
serial, so that start-up does not dominate; target >= 0.8 x 2), and the exhaustive time at two
preemptions of every scenario in examples/check/irqio_primitives.py (target: each < 30 s).

    irqio bench explorer              # both parts (a few minutes, ploom is slow)
    irqio bench explorer --quick      # smoke test: one race, small searches
    .venv/bin/python benchmarks/bench_explorer.py --json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from benchkit import report

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples" / "check"
PEERS = {  # tool -> (module, pip name, oldest Python it supports)
    "frontrun": ("frontrun", "frontrun", (3, 10)),
    "interleave-test": ("interleave_test", "interleave-test", (3, 12)),
    "ploom": ("ploom", "ploom", (3, 13)),
}
SPEED_TARGET = 20_000
SPEED_REPEATS = 5  # schedules/s: median of this many searches (each well under a second)
JOBS_REPEATS = 3  # -j 2: serial and split searches, alternating, this many of each
BOUND2_TARGET = 30.0


def _load_races() -> Any:
    sys.path.insert(0, str(HERE))
    import explorer_races

    return explorer_races


# -- part 1: the peers -------------------------------------------------------------------------


def _ensure(tool: str, install: bool, console: Console) -> str | None:
    """None if the peer can run here, else why not."""
    module, pip_name, oldest = PEERS[tool]
    if sys.version_info[:2] < oldest:
        return f"needs Python {oldest[0]}.{oldest[1]}+"
    if importlib.util.find_spec(module) is not None:
        return None
    if not install:
        return "not installed"
    console.print(f"[dim]installing {pip_name} from PyPI (pip install {pip_name})[/dim]")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", pip_name],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    importlib.invalidate_caches()
    if proc.returncode != 0 or importlib.util.find_spec(module) is None:
        return "pip install failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:80]
    return None


def _one(tool: str, program: str, variant: str, timeout: float) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "explorer_races", tool, program, variant]
    if tool == "frontrun":  # its explore() runs only under its launcher
        launcher = "import sys; from frontrun.cli import main; sys.exit(main())"
        command = [sys.executable, "-c", launcher, *command]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=str(HERE))  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:100]}
    data: dict[str, Any] = json.loads(lines[-1])
    return data


class _Steps:
    """The progress display of one part: a step per case, refreshed by hand (a refresh
    thread would run beside the traced runs whose speed is measured)."""

    def __init__(self, bar: Progress, part: str, total: int) -> None:
        self.bar, self.task = bar, bar.add_task(part, total=total)
        self.started = False

    def __call__(self, what: str) -> None:
        """`what` starts now (the previous step, if any, is done)."""
        if self.started:
            self.bar.advance(self.task)
        self.started = True
        self.bar.update(self.task, description=what)
        self.bar.refresh()


def peers(quick: bool, install: bool, console: Console, bar: Progress) -> dict[str, Any]:
    races = _load_races()
    programs = races.PROGRAMS[:1] if quick else races.PROGRAMS
    tools = list(races.TOOLS)
    why_not = {t: None if t == "irqio" else _ensure(t, install, console) for t in tools}
    rows = []
    step = _Steps(bar, "peers", len(programs) * len(tools))
    for program in programs:
        for tool in tools:
            step(f"peers: {program}, {tool}")
            row: dict[str, Any] = {"program": program, "tool": tool}
            if why_not[tool] is not None:
                row["error"] = why_not[tool]
                rows.append(row)
                continue
            timeout = 900.0 if tool == "ploom" else 300.0
            buggy = _one(tool, program, "buggy", timeout)
            fixed = _one(tool, program, "fixed", timeout)
            row["error"] = buggy.get("error") or fixed.get("error")
            row.update(
                found=buggy.get("found"),
                schedules=buggy.get("schedules"),
                seconds=buggy.get("seconds"),
                full_found=fixed.get("found"),  # a false alarm if True
                full_schedules=fixed.get("schedules"),
                full_seconds=fixed.get("seconds"),
            )
            rows.append(row)
    return {"rows": rows, "verdict": _peer_verdict(rows, programs)}


def _peer_verdict(rows: list[dict[str, Any]], programs: tuple[str, ...]) -> dict[str, Any]:
    """Does irqio find every bug another tool finds, in fewer schedules than the best of them
    on at least half the cases?"""
    finds_all, fewer = True, 0
    for program in programs:
        mine = next(r for r in rows if r["program"] == program and r["tool"] == "irqio")
        others = [r for r in rows if r["program"] == program and r["tool"] != "irqio"
                  and not r.get("error") and r.get("found")]  # fmt: skip
        if others and not mine.get("found"):
            finds_all = False
        if mine.get("found") and others:
            best = min(r["schedules"] for r in others)
            if mine["schedules"] < best:
                fewer += 1
    met = finds_all and 2 * fewer >= len(programs)
    return {"finds_every_bug_others_find": finds_all, "fewer_than_best": fewer,
            "cases": len(programs), "target_met": met}  # fmt: skip


# -- part 2: irqio alone ---------------------------------------------------------------------


def alone(quick: bool, bar: Progress) -> dict[str, Any]:
    sys.path.insert(0, str(EXAMPLES))
    import irqio_primitives as p

    from irqio.check import explore
    from irqio.check.collect import collect

    out: dict[str, Any] = {}
    scenarios = collect(str(EXAMPLES / "irqio_primitives.py"))
    scenarios = scenarios[:4] if quick else scenarios
    jobs_steps = 1 if quick else JOBS_REPEATS
    step = _Steps(bar, "irqio alone", 2 + (2 if quick else 3) + jobs_steps + len(scenarios))
    # The engine's rate: schedules per second without the reduction (every run is a run).
    speed = []
    for sc in (p.event_two_handlers.on("kernel"), p.flag_two_handlers.on("kernel")):
        step(f"speed: {sc.name}")
        rates = [explore(sc, reduce=False).schedules_per_second
                 for _ in range(1 if quick else SPEED_REPEATS)]  # fmt: skip
        speed.append({"scenario": sc.name, "schedules_per_s": round(statistics.median(rates))})
    out["speed"] = speed
    out["speed_target"] = SPEED_TARGET
    # The reduction: the same search, with and without it (same points).
    reduction = []
    cases = [p.event_two_waiters.on("kernel"), p.slots_two_handlers.on("kernel")]
    if not quick:
        cases.append(p.slots_two_handlers.on("asyncio"))
    for sc in cases:
        step(f"reduction: {sc.name}")
        with_r, without = explore(sc, preemptions=2), explore(sc, preemptions=2, reduce=False)
        reduction.append({
            "scenario": sc.name, "verdicts": [with_r.verdict, without.verdict],
            "schedules": with_r.schedules_run, "schedules_unreduced": without.schedules_run,
            "factor": round(without.schedules_run / max(1, with_r.schedules_run), 1),
            "seconds": round(with_r.elapsed, 3), "seconds_unreduced": round(without.elapsed, 3),
        })  # fmt: skip
    out["reduction"] = reduction
    # -j 2 against one process: the wall time of explore() as a user sees it (a fresh pool of
    # spawned workers each time: start-up and imports included) on a search of ~20,000
    # schedules (~15 s serial here), long enough that start-up does not dominate. Serial and
    # split runs alternate, so a change in the machine's load hits both; medians of each.
    big = p.queue_foreign_producer.on("kernel")
    bound = 3 if quick else 4
    serial_s, split_s = [], []
    for i in range(1 if quick else JOBS_REPEATS):
        step(f"-j 2: {big.name}, {i + 1} of {1 if quick else JOBS_REPEATS}")
        t0 = time.perf_counter()
        serial = explore(big, preemptions=bound)
        t1 = time.perf_counter()
        split = explore(big, preemptions=bound, jobs=2)
        t2 = time.perf_counter()
        serial_s.append(t1 - t0)
        split_s.append(t2 - t1)
    serial_med, split_med = statistics.median(serial_s), statistics.median(split_s)
    out["jobs"] = {
        "scenario": f"{big.name} at {bound} switches",
        "measures": "wall time of explore(), serial vs jobs=2 (fresh worker processes each "
        "time), alternating; medians",
        "serial_seconds": round(serial_med, 2),
        "jobs2_seconds": round(split_med, 2),
        "serial_runs": [round(x, 2) for x in serial_s],
        "jobs2_runs": [round(x, 2) for x in split_s],
        "speedup": round(serial_med / max(split_med, 1e-9), 2),
        "speedup_target": round(0.8 * 2, 2),
        "identical": (serial.verdict, serial.schedules_run, serial.pruned, serial.replay)
        == (split.verdict, split.schedules_run, split.pruned, split.replay),
        "schedules": serial.schedules_run,
        "load_average": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    # Every scenario of irqio_primitives.py, exhaustively at two preemptions, one core.
    bound2 = []
    for sc in scenarios:
        step(f"bound 2: {sc.name}")
        r = explore(sc, preemptions=2)
        bound2.append({"scenario": sc.name, "verdict": r.verdict, "schedules": r.schedules_run,
                       "pruned": r.pruned, "seconds": round(r.elapsed, 3)})  # fmt: skip
    out["bound2"] = bound2
    out["bound2_target_seconds"] = BOUND2_TARGET
    return out


# -- report ----------------------------------------------------------------------------------


def _num(value: Any, fmt: str = "{}") -> str:
    return "-" if value is None else fmt.format(value)


def _print(console: Console, summary: dict[str, Any]) -> None:
    if "peers" in summary:
        table = Table(title="irqio check beside its peers: thread races, exhaustive at 2 "
                            "preemptions (schedules and seconds to the first failure; full "
                            "search of the fixed program; a schedule is one execution of the "
                            "program, every one counted)")  # fmt: skip
        for col in ("program", "tool", "found", "schedules", "seconds", "full search",
                    "full s"):  # fmt: skip
            table.add_column(col, justify="left" if col in ("program", "tool") else "right")
        for r in summary["peers"]["rows"]:
            if r.get("error"):
                table.add_row(r["program"], r["tool"], f"[dim]{escape(str(r['error']))}[/dim]",
                              "", "", "", "")  # fmt: skip
                continue
            full = _num(r.get("full_schedules"))
            if r.get("full_found"):
                full += " (false alarm)"
            table.add_row(r["program"], r["tool"], "yes" if r.get("found") else "[red]no[/red]",
                          _num(r.get("schedules")), _num(r.get("seconds"), "{:.2f}"), full,
                          _num(r.get("full_seconds"), "{:.2f}"))  # fmt: skip
        console.print(table)
        v = summary["peers"]["verdict"]
        console.print(
            f"irqio finds every bug another tool finds: {'yes' if v['finds_every_bug_others_find'] else 'NO'}; "  # noqa: E501
            f"fewer schedules than the best of them in {v['fewer_than_best']} of {v['cases']} "
            f"cases (target: half): {'met' if v['target_met'] else 'not met'}"
        )
    if "alone" in summary:
        a = summary["alone"]
        speed = Table(title="the engine alone: kernel port, no reduction (every schedule run)")
        for col in ("scenario", "schedules/s", "target"):
            speed.add_column(col, justify="left" if col == "scenario" else "right")
        for s in a["speed"]:
            mark = "ok" if s["schedules_per_s"] >= a["speed_target"] else "[red]under[/red]"
            speed.add_row(escape(s["scenario"]), str(s["schedules_per_s"]),
                          f"{a['speed_target']} {mark}")  # fmt: skip
        console.print(speed)
        red = Table(title="partial-order reduction at 2 preemptions: schedules run")
        for col in ("scenario", "verdicts", "reduced", "unreduced", "factor", "s", "s unreduced"):
            red.add_column(col, justify="left" if col == "scenario" else "right")
        for r in a["reduction"]:
            red.add_row(escape(r["scenario"]), "/".join(r["verdicts"]), str(r["schedules"]),
                        str(r["schedules_unreduced"]), f"{r['factor']}x", f"{r['seconds']:.2f}",
                        f"{r['seconds_unreduced']:.2f}")  # fmt: skip
        console.print(red)
        j = a["jobs"]
        mark = "met" if j["speedup"] >= j["speedup_target"] else "[red]not met[/red]"
        console.print(
            f"-j 2 on {escape(j['scenario'])} ({j['schedules']} schedules; {j['measures']}): "
            f"{j['serial_seconds']:.2f} s serial, {j['jobs2_seconds']:.2f} s with two "
            f"processes: {j['speedup']:.2f}x (target {j['speedup_target']:.1f}x: {mark}; "
            f"{j['cpus']} CPUs here, shared, load {j['load_average']}); results identical: "
            f"{j['identical']}"
        )
        b2 = Table(title="examples/check/irqio_primitives.py, exhaustive at 2 preemptions, "
                         "one core")  # fmt: skip
        for col in ("scenario", "verdict", "schedules", "pruned", "seconds"):
            b2.add_column(col, justify="left" if col == "scenario" else "right")
        for r in a["bound2"]:
            b2.add_row(escape(r["scenario"]), r["verdict"], str(r["schedules"]), str(r["pruned"]),
                       f"{r['seconds']:.2f}")  # fmt: skip
        console.print(b2)
        worst = max(r["seconds"] for r in a["bound2"])
        mark = "within" if worst < a["bound2_target_seconds"] else "OVER"
        console.print(f"slowest: {worst:.2f} s ({mark} the {a['bound2_target_seconds']:.0f} s "
                      "target)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="results as JSON on stdout")
    parser.add_argument("--quick", action="store_true", help="smoke test: small cases only")
    parser.add_argument("--part", choices=("all", "peers", "alone"), default="all")
    parser.add_argument("--no-install", dest="install", action="store_false",
                        help="do not pip install missing peers")  # fmt: skip
    args = parser.parse_args(argv)
    out, err = report.stdout_console(), report.stderr_console()
    summary: dict[str, Any] = {"python": sys.version.split()[0]}
    with report.progress(err, auto_refresh=False) as bar:
        if args.part in ("all", "peers"):
            summary["peers"] = peers(args.quick, args.install, err, bar)
        if args.part in ("all", "alone"):
            summary["alone"] = alone(args.quick, bar)
    if args.json:
        report.dump_json(summary)
    else:
        _print(out, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
