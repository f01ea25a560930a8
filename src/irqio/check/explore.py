"""The explorer: run a scenario under every schedule up to a preemption bound (or a sample of
them, or one given schedule) and report the first that breaks it, shrunk and explained."""

from __future__ import annotations

import gc
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

from irqio.check import race_probe, search, shrink, walks
from irqio.check.clock import virtual_controller_clock
from irqio.check.engine import Engine, quiet_abandoned_coroutines
from irqio.check.outcome import Failure, Outcome, Preemption
from irqio.check.scenario import Scenario

MODES = ("exhaustive", "random", "pct", "portfolio", "replay")

# progress(done, total, schedules run): first placements done (exhaustive) or runs (others)
Progress = Callable[[int, int, int], None]


class Result:
    """What `explore` found. `ok` is True when no schedule broke the scenario."""

    def __init__(self, scenario: Scenario, mode: str, preemptions: int) -> None:
        self.scenario = scenario.name
        self.port = scenario.port
        self.mode = mode
        self.preemptions = preemptions
        self.ok = True
        self.schedules_run = 0
        self.pruned = 0  # schedules not run: each equivalent to one that was (exhaustive)
        self.elapsed = 0.0
        self.points = 0  # preemption points in the run with no handler placed
        self.contexts: list[str] = []
        self.schedule: list[Preemption] = []  # on failure: where every context fired
        self.failure: Failure | None = None
        self.replay: str | None = None  # on failure: pass to explore(..., replay=...)
        self.found_as: str | None = None  # on failure: the schedule as found, before shrinking
        self.conflict: shrink.Conflict | None = None  # on failure: the racing pair
        self.seed: int | None = None  # random, pct and portfolio modes
        self.strategy: str | None = None  # portfolio: the strategy that found the failure
        self.pct_depth: int | None = None
        self.pct_steps: int | None = None  # PCT's k: the points of a run with nothing placed
        self.pct_bound: float | None = None  # PCT: chance per run of a depth-d bug, at least
        self.jobs = 1
        self.backend = ""
        self.interrupted = False
        # Every run of the scenario up to the verdict: the race-directed first run and the
        # warm-up (exhaustive mode) and the schedules run; not the runs that replay, shrink
        # and explain a failure once found.
        self.executions = 0

    @property
    def invariant(self) -> str | None:
        """What broke, in words (None when ok)."""
        return self.failure.text if self.failure is not None else None

    @property
    def verdict(self) -> str:
        if self.interrupted:
            return "INTERRUPTED"
        if self.ok:
            return "SAFE"
        return (
            "LIVELOCK"
            if self.failure is not None and self.failure.kind == "livelock"
            else ("BROKEN")
        )

    @property
    def schedules_per_second(self) -> float:
        return self.schedules_run / self.elapsed if self.elapsed > 0 else 0.0

    def stats(self) -> str:
        pruned = f" (+{self.pruned} pruned as equivalent)" if self.pruned else ""
        text = (
            f"{self.schedules_run} schedule{'' if self.schedules_run == 1 else 's'}{pruned} "
            f"in {self.elapsed:.2f} s "
            f"({self.schedules_per_second:.0f}/s), {self.points} preemption points"
        )
        if self.seed is not None:
            text += f", seed {self.seed}"
        if self.pct_bound is not None:
            text += (
                f"; PCT depth {self.pct_depth}, {len(self.contexts) + 1} contexts, "
                f"{self.pct_steps} steps: each run finds a depth-{self.pct_depth} bug with "
                f"probability >= {self.pct_bound:.3g}"
            )
        return text

    def report(self) -> str:
        bound = f"{self.preemptions} preemption{'' if self.preemptions == 1 else 's'}"
        head = f"{self.scenario} [{self.port} port, {self.mode}, {bound}]: "
        if self.ok or self.interrupted:
            return head + self.verdict + "\n  " + self.stats()
        assert self.failure is not None
        lines = [head + self.verdict, "  " + self.stats(), "  " + self.failure.text]
        if self.strategy:
            lines.append(f"  found by: {self.strategy}")
        lines.append("  schedule:")
        previous, repeats = "", 0
        for p in self.schedule:
            text = "    " + p.describe().replace("\n", "\n    ")
            if text == previous:
                repeats += 1
                continue
            if repeats:
                lines.append(f"    (the line above {repeats} more times)")
            lines.append(text)
            previous, repeats = text, 0
        if repeats:
            lines.append(f"    (the line above {repeats} more times)")
        if self.conflict is not None:
            lines += ["  " + line for line in self.conflict.lines()]
        lines.append(f"  replay: {self.replay}")
        if self.found_as and self.found_as != self.replay:
            lines.append(f"  (found as {self.found_as}; shrunk)")
        if self.failure.detail:
            lines.append("  " + self.failure.detail.rstrip().replace("\n", "\n  "))
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """The result as plain data (`irqio check --json`)."""
        return {
            "scenario": self.scenario,
            "port": self.port,
            "mode": self.mode,
            "preemptions": self.preemptions,
            "verdict": self.verdict,
            "ok": self.ok,
            "schedules": self.schedules_run,
            "executions": self.executions,
            "pruned": self.pruned,
            "seconds": round(self.elapsed, 4),
            "points": self.points,
            "seed": self.seed,
            "jobs": self.jobs,
            "pct_depth": self.pct_depth,
            "pct_bound": self.pct_bound,
            "pct_steps": self.pct_steps,
            "strategy": self.strategy,
            "failure": None
            if self.failure is None
            else {"kind": self.failure.kind, "text": self.failure.text},
            "replay": self.replay,
            "found_as": self.found_as,
            "schedule": [
                {
                    "context": p.context,
                    "kind": p.kind,
                    "point": p.point,
                    "where": p.where,
                    "function": p.function,
                    "source": p.source,
                    "before": p.access,
                    "inside": p.inside,
                    "note": p.note,
                }
                for p in self.schedule
            ],
            "conflict": None if self.conflict is None else self.conflict.lines(),
        }

    def __repr__(self) -> str:
        return f"<Result {self.scenario} {self.verdict}>"


def parse_schedule(handle: str) -> list[tuple[int, str]]:
    """'handler@12,handler2@40' -> [(12, 'handler'), (40, 'handler2')]; '-' is empty."""
    handle = handle.strip()
    if handle in ("", "-"):
        return []
    out = []
    for part in handle.split(","):
        name, _, point = part.strip().rpartition("@")
        if not name or not point.isdigit():
            raise ValueError(f"bad schedule {handle!r}: expected name@point[,name@point...]")
        out.append((int(point), name))
    out.sort()
    return out


def format_schedule(placements: list[tuple[int, str]]) -> str:
    return ",".join(f"{name}@{point}" for point, name in placements) or "-"


def explore(
    scenario: Scenario,
    *,
    preemptions: int | None = None,
    mode: str = "exhaustive",
    seed: int | None = None,
    runs: int | None = None,
    replay: str | None = None,
    progress: Progress | None = None,
    reduce: bool = True,
    jobs: int = 1,
    ray: str | None = None,
    depth: int | None = None,
    shrink_failures: bool = True,
    first_runs: bool = True,
) -> Result:
    """Explore `scenario` (a `@scenario` function).

    preemptions: how many contexts a schedule may place at points (default: the scenario's).
    mode: "exhaustive" (every schedule within the bound, equivalent ones pruned unless
        `reduce=False`), "random" (`runs` schedules, random walks drawn with `seed`), "pct"
        (`runs` PCT runs of depth `depth`, default preemptions + 1), "portfolio" (exhaustive
        at one preemption, then PCT and random walks in turn), or "replay" (the one schedule
        `replay`, a handle from a failed Result).
    jobs: split the search over this many processes (results identical to jobs=1); ray: the
        same on a Ray cluster ("auto", "local" or an address).
    first_runs: exhaustive mode starts with the race-directed first runs
        (`irqio.check.race_probe`); False: the search alone.
    progress: called as progress(done, total, schedules run) now and then.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(f"explore() takes a @scenario function, got {scenario!r}")
    if replay is not None and mode == "exhaustive":
        mode = "replay"
    if mode not in MODES:
        raise ValueError("mode must be one of {}".format(", ".join(MODES)))
    bound = scenario.preemptions if preemptions is None else preemptions
    if bound < 0:
        raise ValueError(f"preemptions must be 0 or more, got {bound}")
    if runs is not None and runs < 1:
        raise ValueError(f"runs must be 1 or more, got {runs}")
    if mode == "replay" and replay is None:
        raise ValueError("mode='replay' needs replay='name@point,...'")
    placements = parse_schedule(replay) if replay is not None else []
    result = Result(scenario, mode, bound)
    if mode in ("random", "pct", "portfolio"):
        result.seed = seed if seed is not None else secrets.randbelow(1 << 31)
    if mode == "pct":
        result.pct_depth = depth if depth is not None else bound + 1
        if result.pct_depth < 1:
            raise ValueError(f"depth must be 1 or more, got {result.pct_depth}")
    result.jobs = jobs
    if jobs > 1 or ray is not None:
        from irqio.check.parallel import explore_parallel

        if (
            first_runs
            and mode == "exhaustive"
            and _first_alone(scenario, result, bound, reduce, shrink_failures)
        ):
            return result
        explore_parallel(scenario, result, bound, runs or 1000, jobs, ray, progress, reduce,
                         shrink_failures)  # fmt: skip
        result.executions += result.schedules_run + 1  # and the master's warm-up
        return result
    with virtual_controller_clock(), quiet_abandoned_coroutines():
        engine = Engine(scenario, record_untraced=reduce and mode in ("exhaustive", "portfolio"))
        engine.quiet = True  # inside quiet_abandoned_coroutines() already
        result.backend = engine.tracer.backend
        gc_was_enabled = gc.isenabled()
        t0 = time.perf_counter()
        try:
            first, warm = None, True
            if first_runs and mode == "exhaustive" and bound > 0:
                first, warm = _first_run(engine, scenario, result, bound)
            if first is None and warm:
                # One run first: imports and other first-time work must not shift points.
                # (Counted to the end, like every run that could spin: see the engine's spin
                # handling.) The first run, if it placed nothing, was that run.
                engine.run([], leaf=True, to_end=True)
                result.executions += 1
            engine.runs = 0
            gc.disable()  # collection runs finalizers at arbitrary points: keep runs the same
            if first is None:
                t0 = time.perf_counter()
                found = _search(engine, result, bound, mode, runs or 1000, placements, progress,
                                reduce)  # fmt: skip
                result.schedules_run = engine.runs
                result.executions += engine.runs
            else:
                found = first
            if found is not None:
                finish(engine, result, found, shrink_failures and mode != "replay",
                       moves=mode != "exhaustive" or first is not None,
                       settle=first is not None)  # fmt: skip
        except KeyboardInterrupt:
            result.interrupted = True
            result.schedules_run = engine.runs
        finally:
            result.elapsed = time.perf_counter() - t0
            engine.close()
            if gc_was_enabled:
                gc.enable()
            with quiet_abandoned_coroutines():
                gc.collect()  # the runs' cycles, now, rather than at some later allocation
    if result.interrupted:
        raise Interrupted(result)
    return result


def _first_run(
    engine: Engine, scenario: Scenario, result: Result, bound: int
) -> tuple[search.Found | None, bool]:
    """The race-directed first runs (`irqio.check.race_probe`), before the exhaustive search:
    the window in the preempted context, then (if a placed context can be split) in the
    placed one. Returns the failure found (None if none) and whether the search still needs
    its warm-up (no first run was the run with nothing placed).

    A failure is kept only if its placements replay to the same failure: the replay makes the
    handle the report prints, and is not counted when it confirms the run (as shrinking and
    explaining are not); one that does not confirm is a run like any other, and counted. A
    first run that imported modules (first-time work, which shifts point numbers) is not
    replayed: it is made once more, now warm. It counts as an execution, but not as a
    schedule (like the warm-up), so a cold and a warm process report the same schedules."""
    warm = True
    early = False
    tries = 0
    cold = 0
    while tries < 3:
        tries += 1
        modules = len(sys.modules)
        out, probe = race_probe.first_run(engine, scenario, bound, early)
        result.executions += 1
        warm = warm and bool(out.placed)
        if out.failure is not None and out.placed:
            if len(sys.modules) != modules:
                cold += 1
                continue  # imported: later runs number points differently; again, warm
            again = engine.run(out.placed, leaf=True)
            if shrink.same_failure(again.failure, out.failure):
                result.schedules_run = result.executions - cold
                result.contexts = out.context_names
                result.points = out.horizon
                result.strategy = "the race-directed first run"
                return search.Found(again, list(out.placed)), warm
            result.executions += 1
        if early or out.failure is not None or not race_probe.more(probe, out, bound):
            break
        early = True
    return None, warm


def _first_alone(
    scenario: Scenario, result: Result, bound: int, reduce: bool, shrink_failures: bool
) -> bool:
    """`-j N` / `--ray`: the first run here, before the split; True if it found the failure
    (then `result` is complete)."""
    if bound == 0:
        return False
    with virtual_controller_clock(), quiet_abandoned_coroutines():
        engine = Engine(scenario, record_untraced=reduce)
        engine.quiet = True
        result.backend = engine.tracer.backend
        t0 = time.perf_counter()
        gc_was_enabled = gc.isenabled()
        try:
            found, _ = _first_run(engine, scenario, result, bound)
            if found is not None:
                gc.disable()
                finish(engine, result, found, shrink_failures, settle=True)
        finally:
            result.elapsed = time.perf_counter() - t0
            engine.close()
            if gc_was_enabled:
                gc.enable()
    return found is not None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during `explore`: carries the partial `Result` (what was covered so far)."""

    def __init__(self, result: Result) -> None:
        super().__init__(f"interrupted after {result.schedules_run} schedules")
        self.result = result


def _search(
    engine: Engine,
    result: Result,
    bound: int,
    mode: str,
    runs: int,
    placements: list[tuple[int, str]],
    progress: Progress | None,
    reduce: bool,
) -> search.Found | None:
    if mode == "replay":
        engine.trace_to_end = True
        out = engine.run(placements, leaf=True)
        result.contexts = out.context_names
        return search.Found(out, placements) if out.failure is not None else None
    if mode == "exhaustive":
        found = search.exhaustive(engine, bound, reduce=reduce, progress=progress)
        _record_root(result, found.root)
        result.pruned = found.pruned
        return found.found
    root = search.root_run(engine, bound)
    _record_root(result, root)
    if root.outcome.failure is not None:
        return search.Found(root.outcome, [])
    if bound == 0:
        return None
    assert result.seed is not None
    if mode == "random":
        walked = walks.random_walks(engine, root, bound, result.seed, runs, _runs(progress))
        return walked.found
    if mode == "pct":
        assert result.pct_depth is not None
        result.pct_steps = root.outcome.points
        result.pct_bound = walks.pct_bound(len(root.names) + 1, result.pct_steps, result.pct_depth)
        ran = walks.pct_runs(engine, root, result.pct_depth, result.seed, runs, _runs(progress))
        return ran.found
    return _portfolio(engine, result, root, bound, runs, progress, reduce)


def _portfolio(
    engine: Engine,
    result: Result,
    root: search.Root,
    bound: int,
    runs: int,
    progress: Progress | None,
    reduce: bool,
) -> search.Found | None:
    """Exhaustive at one preemption (complete there, and cheap with the reduction), then PCT
    of depth 2 and 3 and random walks at the bound, one run each in turn, until `runs`."""
    assert result.seed is not None
    first = search.explore_range(engine, root, 1, range(0, root.horizon), reduce=reduce)
    if first.found is not None:
        result.strategy = "exhaustive, 1 preemption"
        return first.found
    seed = result.seed
    index = {"pct2": 0, "pct3": 0, "random": 0}
    while engine.runs < runs:
        for name in ("pct2", "pct3", "random"):
            if engine.runs >= runs:
                break
            i = index[name]
            index[name] = i + 1
            if name == "random":
                _, found = walks.random_walk(engine, root, max(2, bound), seed, i,
                                                runs - engine.runs)  # fmt: skip
                if found is not None:
                    result.strategy = f"random walk {i} (seed {seed})"
                    return found
            else:
                d = int(name[-1])
                out, placed = walks.pct_run(engine, root, d, seed, i)
                if out.failure is not None:
                    result.strategy = f"PCT depth {d}, run {i} (seed {seed})"
                    return search.Found(out, placed)
        if progress is not None:
            progress(engine.runs, runs, engine.runs)
    return None


def _record_root(result: Result, root: search.Root | None) -> None:
    if root is not None:
        result.points = root.horizon
        result.contexts = root.names


def _runs(progress: Progress | None) -> walks.Progress | None:
    if progress is None:
        return None
    return lambda done, total: progress(done, total, done)


def finish(
    engine: Engine,
    result: Result,
    found: search.Found,
    shrink_it: bool,
    moves: bool = True,
    settle: bool = False,
) -> None:
    """Record a failure: shrink it (fewest placements, earliest points), explain it.
    `settle`: move placements until none moves (`shrink.shrink`)."""
    out: Outcome = found.outcome
    placements = found.placements
    result.ok = False
    result.found_as = format_schedule(placements)
    assert out.failure is not None
    if shrink_it and placements:
        smaller, smaller_out, _ = (
            shrink.shrink(engine, placements, out.failure, settle)
            if moves
            else _drop_only(engine, placements, out.failure)
        )
        if smaller_out is not None:
            placements, out = smaller, smaller_out
    result.failure = out.failure
    result.schedule = out.fired
    result.replay = format_schedule(placements)
    if placements:
        try:
            result.conflict = shrink.explain(engine, placements)
        except Exception:  # an explanation is a help, never a reason to fail
            result.conflict = None


def _drop_only(
    engine: Engine, placements: list[tuple[int, str]], failure: Failure
) -> tuple[list[tuple[int, str]], Outcome | None, int]:
    """Exhaustive search finds the earliest points already: only try fewer placements."""
    if len(placements) < 2:
        return placements, None, 0
    saved = shrink.MAX_SHRINK_RUNS
    best, best_out, runs = list(placements), None, 0
    changed = True
    while changed:
        changed = False
        for i in reversed(range(len(best))):
            candidate = best[:i] + best[i + 1 :]
            runs += 1
            out = engine.run(candidate, leaf=True)
            if shrink.same_failure(out.failure, failure):
                best, best_out, changed = candidate, out, True
                break
        if runs > saved:
            break
    return best, best_out, runs


def assert_safe(scenario: Scenario, **options: object) -> Result:
    """For pytest: explore `scenario` (same options as `explore`) and fail with the report."""
    result = explore(scenario, **options)  # type: ignore[arg-type]
    if not result.ok:
        raise AssertionError(result.report())
    return result
