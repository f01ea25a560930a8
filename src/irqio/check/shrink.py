"""Counterexamples that explain themselves: shrink a failing schedule, name the racing pair.

Shrinking (delta debugging over placements, as Hypothesis shrinks examples): drop placements
one at a time, keeping each drop after which the run still fails the same way (fewest
preemptions); then move each placement, last first, to the earliest point where it still
fails (the shortest prefix to read). Every candidate is a real run; the result is a failing
schedule, never a guess.

Explaining: replay the schedule logging every access. The last placement's window is what
the placed context did; the *conflicting pair* is the first access of the context it
preempted, after the window, that touches something the window wrote or writes something the
window read (the order of those two decides the outcome), and the last such access before the
placement. Each is named with its file:line.
"""

from __future__ import annotations

import linecache
from dataclasses import dataclass
from types import CodeType
from typing import Any

from irqio.check.engine import Engine
from irqio.check.footprint import Footprint, describe_key
from irqio.check.outcome import TASK, Failure, Outcome, short_path

MAX_SHRINK_RUNS = 2000


def same_failure(a: Failure | None, b: Failure | None) -> bool:
    if a is None or b is None:
        return False
    if a.kind != b.kind:
        return False
    if a.kind == "exception":
        return a.text.split(":")[0] == b.text.split(":")[0]
    return a.text == b.text


def shrink(
    engine: Engine, placements: list[tuple[int, str]], failure: Failure, settle: bool = False
) -> tuple[list[tuple[int, str]], Outcome | None, int]:
    """(smaller failing placements, its outcome or None if unchanged, runs spent). `settle`:
    repeat the moves until none moves (a later placement may move further once an earlier
    one did), toward the first failing schedule in the exhaustive search's order."""
    runs = 0
    best = list(placements)
    best_out: Outcome | None = None

    def fails(candidate: list[tuple[int, str]]) -> Outcome | None:
        nonlocal runs
        if runs >= MAX_SHRINK_RUNS:
            return None
        runs += 1
        out = engine.run(candidate, leaf=True)
        return out if same_failure(out.failure, failure) else None

    # Fewest placements: drop each one that is not needed (last first: a take-back or a resume
    # refers to the thread placed before it, so drop those before the thread's start).
    changed = True
    while changed and len(best) > 0:
        changed = False
        for i in reversed(range(len(best))):
            candidate = best[:i] + best[i + 1 :]
            out = fails(candidate)
            if out is not None:
                best, best_out, changed = candidate, out, True
                break
    # Earliest points, last placement first (an earlier move renumbers what comes after).
    moved = True
    while moved:
        moved = False
        for i in reversed(range(len(best))):
            low = best[i - 1][0] + 1 if i else 0
            point, name = best[i]
            for p in range(low, point):
                if runs >= MAX_SHRINK_RUNS:
                    break
                candidate = [*best[:i], (p, name), *best[i + 1 :]]
                out = fails(candidate)
                if out is not None:
                    best, best_out, moved = candidate, out, settle
                    break
    return best, best_out, runs


@dataclass
class Access:
    context: str
    what: str  # "reads .heap", ...
    where: str  # file:line
    function: str
    source: str

    def text(self) -> str:
        who = "task context" if self.context == TASK else self.context
        return f"{who} {self.what} at {self.where} in {self.function}(): {self.source}"


@dataclass
class Conflict:
    """The racing accesses of a failing schedule, in the order of the failing run: what the
    preempted context did just before the placement, what the placed context did that
    conflicts with it, and what the preempted context did after."""

    placed: str
    steps: list[Access]

    def lines(self) -> list[str]:
        return ["conflict (the racing accesses, in run order):"] + [
            "  " + step.text() for step in self.steps
        ]


def explain(engine: Engine, placements: list[tuple[int, str]]) -> Conflict | None:
    """The racing pair of the last placement of a failing schedule (None if none is found,
    e.g. a last placement whose window touches nothing the preempted context touches)."""
    if not placements:
        return None
    out = engine.run(placements, leaf=True, explain=True)
    log = out.log or []
    depth = len(placements) - 1
    window = out.windows.get(depth)
    if not isinstance(window, Footprint) or window.empty:
        return None
    point, name = placements[-1]
    fired = [p for p in out.fired if p.point == point and p.kind in ("handler", "thread", TASK)]
    preempted = _preempted(fired[0].inside) if fired else TASK
    placed = name
    before = [e for e in log if e[1] == preempted and e[0] <= point and e[2][0] != "*"]
    after = [e for e in log if e[1] == preempted and e[0] > point and e[2][0] != "*"]
    inside = [e for e in log if e[0] > point and e[1] != preempted]
    steps: list[Access] = []
    # An access just before the placement that the window makes stale (the classic
    # read-preempt-write), with the window's access to the same location.
    stale = next((e for e in reversed(before) if window.touches(e[2], e[3], e[4])), None)
    if stale is not None:
        steps.append(_access(stale))
        hit = _first_on(inside, stale, window)
        if hit is not None:
            steps.append(_access(hit))
    # The first access after the window that conflicts with it.
    late = next((e for e in after if window.touches(e[2], e[3], e[4])), None)
    if late is not None:
        hit = _first_on(inside, late, window)
        if hit is not None and (not steps or _access(hit) != steps[-1]):
            steps.append(_access(hit))
        steps.append(_access(late))
    if not steps:
        return None
    return Conflict(placed, steps)


def _first_on(inside: list[Any], other: Any, window: Footprint) -> Any:
    """The window's first access to the location of `other` that conflicts with it."""
    _, _, key, ident, write, _, _ = other
    for e in inside:
        if e[2] == key and (e[4] or write) and (e[3] is None or ident is None or e[3] == ident):
            return e
    return None


def _preempted(inside: str) -> str:
    if inside == "task context":
        return TASK
    return inside.split(" ", 1)[1] if " " in inside else inside


def _access(entry: tuple[int, str, tuple[str, str], int | None, bool, CodeType | None, int]
            ) -> Access:  # fmt: skip
    _, who, key, _, write, code, offset = entry
    verb = "writes" if write else "reads"
    where, function, source = "?", "?", ""
    if code is not None:
        line = code.co_firstlineno
        for start, end, lineno in code.co_lines():
            if start <= offset < end and lineno is not None:
                line = lineno
                break
        where = f"{short_path(code.co_filename)}:{line}"
        function = code.co_qualname
        source = linecache.getline(code.co_filename, line).strip()
    return Access(who, f"{verb} {describe_key(key)}", where, function, source)
