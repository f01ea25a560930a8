"""Exhaustive search: every schedule up to a preemption bound, with a partial-order reduction.

The tree: a node is a list of placements; its children place one more context, at every point
from just after the last placement up to the horizon of the node's run, every context that may
go next *at that point* (`free_contexts`): each context not yet placed, plus the switches back
and forth with a foreign thread. Task context takes the CPU back only while the thread holds
it, so only at points before the thread's end in the node's run; after that end anything else
may still be placed (a handler, another thread, a paused thread resumed), up to the horizon
(`thread_ends`, `segments`). Depth first, in (point, context) order, stopping at the first
failure.

The reduction. Place context c at point k of a node's run, and call its *window* everything
that runs from its firing until the context it preempted runs again. Placing c at k + 1
instead only moves the preempted context's instruction at k (and whatever untraced code runs
before point k + 1) from after the window to before it. If that instruction touches nothing
the window touches (no write of something the other reads or writes), the two orders give
the same state, so the same run from there on: c at k + 1 is c at k again. The engine records
the window's footprint and then scans the preempted context's next points until the first
that conflicts, m (`Outcome.scans`): c at k + 1 ... c at m are all the same run, and the
search goes on at m + 1. Deeper placements (a second handler nested inside c's window, one
after it) are covered too: the subtree of c at j is the subtree of c at k with the same
instructions moved across, so m is the least over every run in c's subtree, each scanning
until its own next placement (a scan cut short by a later placement constrains nothing: the
schedules it stands for are not in the pruned subtrees). The argument is the classic one for
persistent/sleep sets (Godefroid, "Partial-Order Methods for the Verification of Concurrent
Systems", LNCS 1032, 1996), here with the scan measured in the run itself so object
identities are comparable. A class never spans a thread's end: before it, c preempts the
thread (and a take-back may follow in c's subtree); after it, c preempts task context, with
the other contexts free to follow. Those subtrees do not map onto each other, so the children
of a node are walked in *segments* cut at the thread ends of its run, every chain starting
afresh in each (two placements on the same side of an end, in the same node, give runs whose
thread ends lie on the same side of their children: the subtrees still map).

`irqio.check.explore` makes the race-directed first runs (`irqio.check.race_probe`) before
this search; they place contexts as they run and leave the search as it is.

`explore_range` runs the top level over a range of first placements only (of one context, if
asked); the results of the ranges merge into exactly the serial search (`merge`): the chain
of representatives in a range that starts inside a class re-joins the serial chain after one
extra run, since a placement inside a class has the class's own m. A split below the top
level (`explore_children`, `merge_children`) takes the node's horizon and `thread_ends` of
the node's run, so every part cuts the same segments.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from irqio.check.engine import UNCONSTRAINED, Engine
from irqio.check.outcome import TASK, Outcome

INF = 1 << 62

# progress(first placements done, first placements in all, schedules run)
Progress = Callable[[int, int, int], None]


@dataclass
class Found:
    """A failing run and the placements that made it."""

    outcome: Outcome
    placements: list[tuple[int, str]]


@dataclass
class Rep:
    """One first placement the search ran (with its whole subtree)."""

    point: int
    name: str
    runs: int  # schedules run in its subtree, itself included (up to the failure, if any)
    pruned: int  # schedules its subtree pruned (estimated: see `Search.pruned`)
    limit: int  # the last point equivalent to it (its class ends here)
    found: Found | None = None
    # the least scan, per depth above its own, over its subtree (for the classes up there)
    above: list[int] = field(default_factory=list)


@dataclass
class Root:
    outcome: Outcome
    names: list[str]
    threads: set[str]
    horizon: int


@dataclass
class Search:
    """The result of an exhaustive search."""

    runs: int = 0  # schedules run
    above: list[int] = field(default_factory=list)  # see Rep.above, over all the runs
    # Schedules not run because an equivalent one was: each pruned placement counts the
    # schedules (run or pruned) of the subtree of the one it is equivalent to, so `runs +
    # pruned` estimates the schedules of the search without reduction (exact at one level).
    pruned: int = 0
    found: Found | None = None
    root: Root | None = None
    reps: list[Rep] = field(default_factory=list)


def root_run(engine: Engine, bound: int) -> Root:
    out = engine.run([], leaf=bound == 0, to_end=True)
    return Root(out, out.context_names, set(out.threads), out.horizon)


def free_contexts(
    prefix: list[tuple[int, str]], names: list[str], threads: set[str], ended: Collection[str] = ()
) -> list[str]:
    """The contexts the next placement after `prefix` may be, at a point where the threads in
    `ended` have finished: each not yet placed, plus the switches back and forth between task
    context and a foreign thread. (A thread that has ended, placed or run by a spin step,
    cannot be placed: that would be the run of `prefix` again.)"""
    placed = {name for _, name in prefix}
    free = [n for n in names if n not in placed and n not in ended]
    running = running_thread(prefix, threads)
    if running is not None and running not in ended:
        free.append(TASK)  # the thread may be preempted back by task context
    else:
        # A thread that task context took the CPU back from is paused, not finished (the
        # take-back was placed before its end): it may resume at any later point. (In the
        # order of `names`: a set's order differs between processes.)
        free += [n for n in names if n in threads and n in placed and n not in ended]
    return free


def running_thread(prefix: list[tuple[int, str]], threads: set[str]) -> str | None:
    """The foreign thread holding the CPU after `prefix` (until it ends), or None when task
    context has it."""
    running = None
    for _, name in prefix:
        if name in threads:
            running = name
        elif name == TASK:
            running = None
    return running


def thread_ends(out: Outcome) -> dict[str, int]:
    """The threads that finished before the horizon of `out`, each with the point count when
    it did: in the children of the node whose run is `out`, a point from there on comes after
    that end (the runs agree up to their last placement)."""
    return {name: end for name, end in out.thread_end.items() if end < out.horizon}


def segments(
    start: int, horizon: int, ends: Mapping[str, int]
) -> list[tuple[int, int, frozenset[str]]]:
    """`[start, horizon)` cut at each thread end: (first point, stop, threads ended there).
    Within a segment the contexts that may be placed are the same at every point."""
    cuts = sorted({end for end in ends.values() if start < end < horizon})
    return [
        (lo, hi, frozenset(name for name, end in ends.items() if end <= lo))
        for lo, hi in pairwise([start, *cuts, horizon])
        if hi > lo
    ]


def choices(
    prefix: list[tuple[int, str]],
    names: list[str],
    threads: set[str],
    horizon: int,
    ends: Mapping[str, int],
) -> dict[str, list[range]]:
    """Every context the next placement after `prefix` may name, with the points where it
    may (a node's children, for a random walk: in the order the search tries them)."""
    start = prefix[-1][0] + 1 if prefix else 0
    out: dict[str, list[range]] = {}
    for lo, hi, ended in segments(start, horizon, ends):
        for name in free_contexts(prefix, names, threads, ended):
            ranges = out.setdefault(name, [])
            if ranges and ranges[-1].stop == lo:
                ranges[-1] = range(ranges[-1].start, hi)  # free on both sides of an end
            else:
                ranges.append(range(lo, hi))
    return out


def is_leaf(
    placements: list[tuple[int, str]], free: list[str], name: str, threads: set[str], bound: int
) -> bool:
    """No placement can follow: the bound is reached or no context is left to place."""
    # After a thread or a take-back the other side can always switch again.
    more = len(free) - 1 + (name in threads or name == TASK)
    return len(placements) >= bound or more <= 0


class _Stop(Exception):
    pass


def limit_of(scan: int | None, point: int) -> int:
    """The last point equivalent to a placement at `point`, by one run's scan."""
    if scan == UNCONSTRAINED:
        return INF  # cut short by a later placement: this run constrains nothing
    if scan is None:
        return point  # not measured (the run stopped counting first): prune nothing
    return scan


class _Walker:
    def __init__(
        self, engine: Engine, root: Root, bound: int, reduce: bool, progress: Progress | None
    ) -> None:
        self.engine = engine
        self.root = root
        self.bound = bound
        self.reduce = reduce
        self.progress = progress
        self.runs = 0
        self.pruned = 0
        self.found: Found | None = None

    def child(self, prefix: list[tuple[int, str]], point: int, name: str, free: list[str]
              ) -> tuple[list[int], int]:  # fmt: skip
        """Run the child (point, name) of `prefix` and its subtree. Returns the least scan
        per depth over the subtree (INF: unconstrained) and the subtree's size (its
        schedules, run or pruned)."""
        placements = [*prefix, (point, name)]
        threads = self.root.threads
        leaf = is_leaf(placements, free, name, threads, self.bound)
        out = self.engine.run(placements, leaf, reduce=self.reduce)
        self.runs += 1
        if out.failure is not None:
            self.found = Found(out, placements)
            raise _Stop
        limits = [limit_of(m, placements[d][0]) for d, m in enumerate(out.scans)]
        size = 1
        if not leaf:
            pruned_before = self.pruned
            below, sub = self.visit(placements, out.horizon, thread_ends(out))
            size += sub + (self.pruned - pruned_before)
            limits = [min(a, b) for a, b in zip(limits, below, strict=False)]
        return limits, size

    def visit(
        self, prefix: list[tuple[int, str]], horizon: int, ends: Mapping[str, int]
    ) -> tuple[list[int], int]:
        """Every child of `prefix` (and their subtrees), `horizon` and `ends` from the run of
        `prefix`. Returns the least scan per depth of `prefix` over all runs below, and how
        many schedules ran below (pruned apart)."""
        d = len(prefix)
        acc = [INF] * d
        start = prefix[-1][0] + 1 if prefix else 0
        total = 0
        for lo, hi, ended in segments(start, horizon, ends):
            # Every chain starts afresh in a segment: a class never spans a thread's end.
            free = free_contexts(prefix, self.root.names, self.root.threads, ended)
            limit = dict.fromkeys(free, -1)
            size_of = dict.fromkeys(free, 0)
            for point in range(lo, hi):
                for name in free:
                    if point <= limit[name]:
                        self.pruned += size_of[name]
                        continue
                    runs_before = self.runs
                    limits, size = self.child(prefix, point, name, free)
                    total += self.runs - runs_before
                    limit[name] = limits[d] if self.reduce else point
                    size_of[name] = size
                    acc = [min(a, b) for a, b in zip(acc, limits, strict=False)]
        return acc, total


def explore_children(
    engine: Engine,
    root: Root,
    bound: int,
    prefix: list[tuple[int, str]],
    horizon: int,
    points: range,
    *,
    ends: Mapping[str, int],
    reduce: bool = True,
    progress: Progress | None = None,
    only: str | None = None,
) -> Search:
    """The children of `prefix` placed at `points` (each context's chain starting at its
    start, and afresh at each thread end; of one context if `only` names it), each with its
    whole subtree. `horizon` and `ends` are those of the run of `prefix` (`Outcome.horizon`,
    `thread_ends`). Records every child it ran (`Search.reps`)."""
    d = len(prefix)
    result = Search(root=root, above=[INF] * d)
    walker = _Walker(engine, root, bound, reduce, None)
    parts = []
    for lo, hi, ended in segments(prefix[-1][0] + 1 if prefix else 0, horizon, ends):
        lo, hi = max(lo, points.start), min(hi, points.stop)
        if hi > lo:
            free = free_contexts(prefix, root.names, root.threads, ended)
            parts.append((range(lo, hi), free, [n for n in free if only is None or n == only]))
    total = sum(len(span) * len(names) for span, _, names in parts)
    done = 0
    try:
        for span, free, names in parts:
            limit = dict.fromkeys(names, -1)
            size_of = dict.fromkeys(names, 0)
            for point in span:
                for name in names:
                    done += 1
                    if point <= limit[name]:
                        walker.pruned += size_of[name]
                        continue
                    runs_before, pruned_before = walker.runs, walker.pruned
                    try:
                        limits, size = walker.child(prefix, point, name, free)
                    except _Stop:
                        result.reps.append(
                            Rep(point, name, walker.runs - runs_before,
                                walker.pruned - pruned_before, -1, walker.found)
                        )  # fmt: skip
                        raise
                    limit[name] = limits[d] if reduce else point
                    size_of[name] = size
                    above = limits[:d]
                    result.above = [min(a, b) for a, b in zip(result.above, above, strict=False)]
                    result.reps.append(
                        Rep(point, name, walker.runs - runs_before, walker.pruned - pruned_before,
                            limit[name], None, above)
                    )  # fmt: skip
                    if progress is not None:
                        progress(done, total, walker.runs)
    except _Stop:
        pass
    result.runs = walker.runs
    result.pruned = walker.pruned
    result.found = walker.found
    if progress is not None:
        progress(total if result.found is None else done, total, walker.runs)
    return result


def explore_range(
    engine: Engine,
    root: Root,
    bound: int,
    first: range,
    *,
    reduce: bool = True,
    progress: Progress | None = None,
    only: str | None = None,
) -> Search:
    """The search restricted to first placements in `first` (see `explore_children`)."""
    return explore_children(engine, root, bound, [], root.horizon, first,
                            ends=thread_ends(root.outcome), reduce=reduce, progress=progress,
                            only=only)  # fmt: skip


def exhaustive(
    engine: Engine, bound: int, *, reduce: bool = True, progress: Progress | None = None
) -> Search:
    """Every schedule up to `bound` placements (the serial search)."""
    root = root_run(engine, bound)
    if root.outcome.failure is not None or bound == 0:
        return Search(runs=1, found=Found(root.outcome, []) if root.outcome.failure else None,
                      root=root)  # fmt: skip
    result = explore_range(engine, root, bound, range(0, root.horizon), reduce=reduce,
                           progress=progress)  # fmt: skip
    result.runs += 1  # the root run
    return result


def merge(root: Root, parts: list[Search], run_missing: Callable[[int, str], Rep]) -> Search:
    """The serial search, from searches of ranges of first placements (`merge_children`)."""
    merged = merge_children(root, [], root.horizon, parts, run_missing,
                            ends=thread_ends(root.outcome))  # fmt: skip
    merged.runs += 1  # the root run
    return merged


def merge_children(
    root: Root,
    prefix: list[tuple[int, str]],
    horizon: int,
    parts: list[Search],
    run_missing: Callable[[int, str], Rep],
    *,
    ends: Mapping[str, int],
) -> Search:
    """The serial search of the children of `prefix`, from searches of ranges of them
    (`horizon` and `ends` of the run of `prefix`, as `explore_children` took them).

    Walks the serial order of the children: one inside the class of its context's last
    representative is pruned; any other is a representative, found in the records of the
    range that holds it (`run_missing` runs it if no range did, which the argument in the
    module docstring says does not happen)."""
    reps: dict[tuple[int, str], Rep] = {}
    for part in parts:
        for rep in part.reps:
            reps[(rep.point, rep.name)] = rep
    d = len(prefix)
    result = Search(root=root, above=[INF] * d)
    start = prefix[-1][0] + 1 if prefix else 0
    for lo, hi, ended in segments(start, horizon, ends):
        names = free_contexts(prefix, root.names, root.threads, ended)
        limit = dict.fromkeys(names, -1)
        size_of = dict.fromkeys(names, 0)
        for point in range(lo, hi):
            for name in names:
                if point <= limit[name]:
                    result.pruned += size_of[name]
                    continue
                rep = reps.get((point, name)) or run_missing(point, name)
                result.runs += rep.runs
                result.pruned += rep.pruned
                result.reps.append(rep)
                if rep.found is not None:
                    result.found = rep.found
                    return result
                limit[name] = rep.limit
                size_of[name] = rep.runs + rep.pruned
                result.above = [min(a, b) for a, b in zip(result.above, rep.above, strict=False)]
    return result
