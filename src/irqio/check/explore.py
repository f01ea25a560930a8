"""The explorer: run a scenario under every schedule up to a preemption bound (or a seeded
random sample of them, or one given schedule) and report the first that breaks it."""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable

from irqio.check.engine import (
    TASK,
    Engine,
    Failure,
    Outcome,
    Preemption,
    quiet_abandoned_coroutines,
)
from irqio.check.scenario import Scenario

MODES = ("exhaustive", "random", "replay")


class Result:
    """What `explore` found. `ok` is True when no schedule broke the scenario."""

    def __init__(self, scenario: Scenario, mode: str, preemptions: int) -> None:
        self.scenario = scenario.name
        self.port = scenario.port
        self.mode = mode
        self.preemptions = preemptions
        self.ok = True
        self.schedules_run = 0
        self.elapsed = 0.0
        self.points = 0  # preemption points in the run with no handler placed
        self.contexts: list[str] = []
        self.schedule: list[Preemption] = []  # on failure: where every context fired
        self.failure: Failure | None = None
        self.replay: str | None = None  # on failure: pass to explore(..., replay=...)
        self.backend = ""

    @property
    def invariant(self) -> str | None:
        """What broke, in words (None when ok)."""
        return self.failure.text if self.failure is not None else None

    @property
    def schedules_per_second(self) -> float:
        return self.schedules_run / self.elapsed if self.elapsed > 0 else 0.0

    def report(self) -> str:
        bound = f"{self.preemptions} preemption{'' if self.preemptions == 1 else 's'}"
        head = f"{self.scenario} [{self.port} port, {self.mode}, {bound}]: "
        stats = (
            f"{self.schedules_run} schedules in {self.elapsed:.2f} s "
            f"({self.schedules_per_second:.0f}/s), {self.points} preemption points"
        )
        if self.ok:
            return head + "SAFE\n  " + stats
        assert self.failure is not None
        lines = [head + "BROKEN", "  " + stats, "  " + self.failure.text, "  schedule:"]
        for p in self.schedule:
            lines.append("    " + p.describe().replace("\n", "\n    "))
        lines.append(f"  replay: {self.replay}")
        if self.failure.detail:
            lines.append("  " + self.failure.detail.rstrip().replace("\n", "\n  "))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return "<Result {} {}>".format(self.scenario, "ok" if self.ok else "BROKEN")


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
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Explore `scenario` (a `@scenario` function).

    preemptions: how many contexts a schedule may place at points (default: the scenario's).
    mode: "exhaustive" (every schedule within the bound), "random" (`runs` schedules drawn
        with `seed`), or "replay" (the one schedule `replay`, a handle from a failed Result).
    progress: called as progress(done, total_estimate) now and then.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(f"explore() takes a @scenario function, got {scenario!r}")
    if replay is not None and mode == "exhaustive":
        mode = "replay"
    if mode not in MODES:
        raise ValueError("mode must be one of {}".format(", ".join(MODES)))
    bound = scenario.preemptions if preemptions is None else preemptions
    result = Result(scenario, mode, bound)
    engine = Engine(scenario)
    result.backend = engine.tracer.backend
    # One untraced run first: imports and other first-time work must not shift the points.
    engine.run([], leaf=True)
    engine.runs = 0
    gc_was_enabled = gc.isenabled()
    gc.disable()  # collection runs finalizers at arbitrary points: keep runs deterministic
    t0 = time.perf_counter()
    try:
        if mode == "replay":
            if replay is None:
                raise ValueError("mode='replay' needs replay='name@point,...'")
            placements = parse_schedule(replay)
            out = engine.run(placements, leaf=True)
            _finish(result, out, placements)
        elif mode == "exhaustive":
            _exhaustive(engine, result, bound, progress)
        else:
            _random(engine, result, bound, seed, runs or 1000, progress)
    finally:
        result.elapsed = time.perf_counter() - t0
        result.schedules_run = engine.runs
        engine.close()
        if gc_was_enabled:
            gc.enable()
        with quiet_abandoned_coroutines():
            gc.collect()  # the runs' cycles, now, rather than at some later allocation
    return result


def _finish(result: Result, out: Outcome, placements: list[tuple[int, str]]) -> bool:
    """Record a run; True if it failed."""
    if not result.contexts:
        result.contexts = out.context_names
    if out.failure is None:
        return False
    result.ok = False
    result.failure = out.failure
    result.schedule = out.fired
    result.replay = format_schedule(placements)
    return True


def _exhaustive(
    engine: Engine, result: Result, bound: int, progress: Callable[[int, int], None] | None
) -> None:
    root = engine.run([], leaf=bound == 0)
    result.points = root.horizon
    if _finish(result, root, []) or bound == 0:
        return
    names = root.context_names
    threads = set(root.threads)
    # Rough total for progress: one level of placements (deeper levels are counted as met).
    estimate = 1 + len(names) * root.horizon

    def visit(prefix: list[tuple[int, str]], horizon: int) -> bool:
        free = _free(prefix, names, threads)
        start = prefix[-1][0] + 1 if prefix else 0
        for point in range(start, horizon):
            for name in free:
                placements = [*prefix, (point, name)]
                leaf = _is_leaf(placements, free, name, threads, bound)
                out = engine.run(placements, leaf)
                if _finish(result, out, placements):
                    return True
                if progress is not None and engine.runs % 64 == 0:
                    progress(engine.runs, max(estimate, engine.runs))
                if not leaf and visit(placements, _next_horizon(out, name, threads)):
                    return True
        return False

    visit([], root.horizon)
    if progress is not None:
        progress(engine.runs, engine.runs)


def _running_thread(prefix: list[tuple[int, str]], threads: set[str]) -> str | None:
    """The foreign thread holding the CPU after `prefix`, or None when task context has it.
    A thread placed last still runs: deeper placements stop at its end (see `visit`)."""
    running = None
    for _, name in prefix:
        if name in threads:
            running = name
        elif name == TASK:
            running = None
    return running


def _free(prefix: list[tuple[int, str]], names: list[str], threads: set[str]) -> list[str]:
    """The contexts the next placement after `prefix` may be: each not yet placed, plus the
    switches back and forth between task context and a foreign thread."""
    placed = {name for _, name in prefix}
    free = [n for n in names if n not in placed]
    if _running_thread(prefix, threads) is not None:
        free.append(TASK)  # the thread may be preempted back by task context
    else:
        # A thread that task context took the CPU back from is paused, not finished (the
        # take-back was placed before its end): it may resume at any later point.
        free += [n for n in threads if n in placed]
    return free


def _is_leaf(
    placements: list[tuple[int, str]], free: list[str], name: str, threads: set[str], bound: int
) -> bool:
    """No placement can follow: the bound is reached or no context is left to place."""
    # After a thread or a take-back the other side can always switch again.
    more = len(free) - 1 + (name in threads or name == TASK)
    return len(placements) >= bound or more <= 0


def _next_horizon(out: Outcome, name: str, threads: set[str]) -> int:
    """Where the next placement must land before, given the run that placed `name` last."""
    # Task context can take the CPU back only while the thread still runs.
    end = out.thread_end.get(name, out.horizon) if name in threads else out.horizon
    return min(end, out.horizon)


def _random(
    engine: Engine,
    result: Result,
    bound: int,
    seed: int | None,
    runs: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    rng = random.Random(seed)
    root = engine.run([], leaf=bound == 0)
    result.points = root.horizon
    if _finish(result, root, []) or bound == 0:
        return
    names = root.context_names
    threads = set(root.threads)
    # A random walk down the tree `_exhaustive` walks: each step draws one placement among
    # the ones allowed after the prefix (so thread resumes and take-backs are drawn too), with
    # the point range the prefix's own run measured. Every run along the walk is a schedule
    # checked, so a walk of depth k costs k of the `runs` (counted by `engine.runs`, which the
    # root run above made 1).
    while engine.runs < runs:
        depth = rng.randint(1, bound)
        prefix: list[tuple[int, str]] = []
        horizon = root.horizon
        while engine.runs < runs:
            free = _free(prefix, names, threads)
            start = prefix[-1][0] + 1 if prefix else 0
            if not free or start >= horizon:
                break
            name = rng.choice(free)
            prefix = [*prefix, (rng.randrange(start, horizon), name)]
            leaf = len(prefix) >= depth or _is_leaf(prefix, free, name, threads, bound)
            out = engine.run(prefix, leaf)
            if _finish(result, out, prefix):
                return
            if progress is not None and engine.runs % 64 == 0:
                progress(engine.runs, runs)
            if leaf:
                break
            horizon = _next_horizon(out, name, threads)
    if progress is not None:
        progress(runs, runs)


def assert_safe(scenario: Scenario, **options: object) -> Result:
    """For pytest: explore `scenario` (same options as `explore`) and fail with the report."""
    result = explore(scenario, **options)  # type: ignore[arg-type]
    if not result.ok:
        raise AssertionError(result.report())
    return result
