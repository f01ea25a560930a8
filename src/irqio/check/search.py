"""Exhaustive search: every schedule up to a preemption bound, with a partial-order reduction.

The tree: a node is a list of placements; its children place one more context, at every point
from just after the last placement up to the horizon of the node's run, every context that may
go next *at that point* (`free_contexts`): each context not yet placed, plus the switches back
and forth with a foreign thread. Who holds the CPU at a point follows from the placements and
from the switches the node's run made besides them (`Outcome.switches`: a thread's end, a spin
step that gave a thread's CPU back to task context, a thread run unplaced by one): task
context takes the CPU back only while a thread holds it, so a thread's take-back lands before
its end; after the end (or the spin step) anything else may still be placed, a paused thread
resumed among them, up to the horizon (`switches_of`, `cpu_at`, `segments`). Depth first, in
(point, context) order, stopping at the first failure.

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
identities are comparable. A class never spans a switch: before a thread's end, c preempts
the thread (and a take-back may follow in c's subtree); after it, c preempts task context,
with the other contexts free to follow. Those subtrees do not map onto each other, so the
children of a node are walked in *segments* cut at the switches of its run, every chain
starting afresh in each (two placements on the same side of a switch, in the same node, give
runs whose switches lie on the same side of their children: the subtrees still map).

`irqio.check.explore` makes the race-directed first runs (`irqio.check.race_probe`) before
this search; they place contexts as they run and leave the search as it is.

`explore_range` runs the top level over a range of first placements only (of one context, if
asked); the results of the ranges merge into exactly the serial search (`merge`): the chain
of representatives in a range that starts inside a class re-joins the serial chain after one
extra run, since a placement inside a class has the class's own m. A split below the top
level (`explore_children`, `merge_children`) takes the node's horizon and `switches_of` the
node's run, so every part cuts the same segments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


Switch = tuple[int, int, str, str]  # see `Outcome.switches`


@dataclass(frozen=True)
class CPU:
    """Who holds the CPU at a point, as the tree sees it: the foreign thread that runs (None:
    task context, perhaps inside a handler) and the threads that have ended."""

    running: str | None
    ended: frozenset[str] = frozenset()


def free_contexts(
    prefix: list[tuple[int, str]], names: list[str], threads: set[str], cpu: CPU | None = None
) -> list[str]:
    """The contexts the next placement after `prefix` may be, at a point where `cpu` holds
    (default: as the placements alone say, no switch besides them): each not yet placed,
    plus the switches back and forth between task context and a foreign thread. A thread
    that has ended cannot be placed (that would be the run of `prefix` again), nor the one
    that runs; task context takes the CPU back only from a thread that runs."""
    if cpu is None:
        cpu = CPU(running_thread(prefix, threads))
    placed = {name for _, name in prefix}
    free = [n for n in names if n not in placed and n not in cpu.ended and n != cpu.running]
    if cpu.running is not None:
        free.append(TASK)  # the thread may be preempted back by task context
    else:
        # A thread that task context took the CPU back from (a take-back, or a spin step) is
        # paused, not finished: it may resume at any later point. (In the order of `names`:
        # a set's order differs between processes.)
        free += [n for n in names if n in threads and n in placed and n not in cpu.ended]
    return free


def running_thread(prefix: list[tuple[int, str]], threads: set[str]) -> str | None:
    """The foreign thread holding the CPU after `prefix` by its placements alone, or None
    when task context has it (`cpu_at` adds the switches the run made besides)."""
    running = None
    for _, name in prefix:
        if name in threads:
            running = name
        elif name == TASK:
            running = None
    return running


def switches_of(out: Outcome) -> tuple[Switch, ...]:
    """The switches of `out` before its horizon (`Outcome.switches`): with the placements,
    they say who holds the CPU at each point of the children of the node whose run is `out`
    (the runs agree up to their last placement; a switch at point count c comes before a
    placement at point c or later)."""
    return tuple(sw for sw in out.switches if sw[0] < out.horizon)


def cpu_at(
    prefix: list[tuple[int, str]], threads: set[str], switches: tuple[Switch, ...], point: int
) -> CPU:
    """Who holds the CPU at `point` (after the last placement) of the run of `prefix`."""
    running: str | None = None
    ended: set[str] = set()
    events = iter(switches)
    event = next(events, None)
    for made in range(len(prefix) + 1):
        while event is not None and event[1] == made and (made < len(prefix) or event[0] <= point):
            _, _, thread, what = event
            if what == "end":
                ended.add(thread)
            if what == "run":
                running = thread
            elif running == thread:
                running = None  # it ended, or a spin step gave the CPU back to task context
            event = next(events, None)
        if made < len(prefix):
            name = prefix[made][1]
            if name in threads:
                running = name
            elif name == TASK:
                running = None
    return CPU(running, frozenset(ended))


def segments(
    prefix: list[tuple[int, str]], threads: set[str], horizon: int, switches: tuple[Switch, ...]
) -> list[tuple[int, int, CPU]]:
    """The points of the children of `prefix` (after its last placement, before `horizon`),
    cut at each switch of its run after that placement: (first point, stop, who holds the
    CPU there). Within a segment the contexts that may be placed are the same at every point."""
    start = prefix[-1][0] + 1 if prefix else 0
    cuts = sorted({c for c, made, _, _ in switches if made == len(prefix) and start < c < horizon})
    return [
        (lo, hi, cpu_at(prefix, threads, switches, lo))
        for lo, hi in pairwise([start, *cuts, horizon])
        if hi > lo
    ]


def choices(
    prefix: list[tuple[int, str]],
    names: list[str],
    threads: set[str],
    horizon: int,
    switches: tuple[Switch, ...],
) -> dict[str, list[range]]:
    """Every context the next placement after `prefix` may name, with the points where it
    may (a node's children, for a random walk: in the order the search tries them)."""
    out: dict[str, list[range]] = {}
    for lo, hi, cpu in segments(prefix, threads, horizon, switches):
        for name in free_contexts(prefix, names, threads, cpu):
            ranges = out.setdefault(name, [])
            if ranges and ranges[-1].stop == lo:
                ranges[-1] = range(ranges[-1].start, hi)  # free on both sides of a switch
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


class Children:
    """A node's children in the search's serial order, pruned by the reduction's chains.

    Iterating yields each representative, (point, name, free); the caller runs it and then
    tells `mark` where its class ends and how many schedules it holds. A later child of the
    same context inside that class is not yielded: its size is added to `pruned`. Each
    context's chain starts afresh in a segment: a class never spans a switch. `points` and
    `only` restrict the walk to some points, or to one context (the chains still start at a
    segment's start, or at `points.start`)."""

    def __init__(
        self,
        prefix: list[tuple[int, str]],
        root: Root,
        horizon: int,
        switches: tuple[Switch, ...],
        points: range | None = None,
        only: str | None = None,
    ) -> None:
        self.parts: list[tuple[range, list[str], list[str]]] = []
        for lo, hi, cpu in segments(prefix, root.threads, horizon, switches):
            if points is not None:
                lo, hi = max(lo, points.start), min(hi, points.stop)
            if hi > lo:
                free = free_contexts(prefix, root.names, root.threads, cpu)
                names = [n for n in free if only is None or n == only]
                self.parts.append((range(lo, hi), free, names))
        self.total = sum(len(span) * len(names) for span, _, names in self.parts)
        self.done = 0  # children passed so far, run or pruned
        self.pruned = 0
        self._limit: dict[str, int] = {}
        self._size: dict[str, int] = {}

    def __iter__(self) -> Iterator[tuple[int, str, list[str]]]:
        for span, free, names in self.parts:
            self._limit = dict.fromkeys(names, -1)
            self._size = dict.fromkeys(names, 0)
            for point in span:
                for name in names:
                    self.done += 1
                    if point <= self._limit[name]:
                        self.pruned += self._size[name]
                        continue
                    yield point, name, free

    def mark(self, name: str, limit: int, size: int) -> None:
        """The child just yielded for `name` stands for every later one up to `limit`, each
        holding `size` schedules."""
        self._limit[name] = limit
        self._size[name] = size


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
            below, sub = self.visit(placements, out.horizon, switches_of(out))
            size += sub + (self.pruned - pruned_before)
            limits = [min(a, b) for a, b in zip(limits, below, strict=False)]
        return limits, size

    def visit(
        self, prefix: list[tuple[int, str]], horizon: int, switches: tuple[Switch, ...]
    ) -> tuple[list[int], int]:
        """Every child of `prefix` (and their subtrees), `horizon` and `switches` from the run
        of `prefix`. Returns the least scan per depth of `prefix` over all runs below, and how
        many schedules ran below (pruned apart)."""
        d = len(prefix)
        acc = [INF] * d
        total = 0
        children = Children(prefix, self.root, horizon, switches)
        try:
            for point, name, free in children:
                runs_before = self.runs
                limits, size = self.child(prefix, point, name, free)
                total += self.runs - runs_before
                children.mark(name, limits[d] if self.reduce else point, size)
                acc = [min(a, b) for a, b in zip(acc, limits, strict=False)]
        finally:  # a failure below still counts what this node pruned so far
            self.pruned += children.pruned
        return acc, total


def explore_children(
    engine: Engine,
    root: Root,
    bound: int,
    prefix: list[tuple[int, str]],
    horizon: int,
    points: range,
    *,
    switches: tuple[Switch, ...],
    reduce: bool = True,
    progress: Progress | None = None,
    only: str | None = None,
) -> Search:
    """The children of `prefix` placed at `points` (each context's chain starting at its
    start, and afresh at each switch; of one context if `only` names it), each with its
    whole subtree. `horizon` and `switches` are those of the run of `prefix`
    (`Outcome.horizon`, `switches_of`). Records every child it ran (`Search.reps`)."""
    d = len(prefix)
    result = Search(root=root, above=[INF] * d)
    walker = _Walker(engine, root, bound, reduce, None)
    children = Children(prefix, root, horizon, switches, points, only)
    try:
        for point, name, free in children:
            runs_before, pruned_before = walker.runs, walker.pruned
            try:
                limits, size = walker.child(prefix, point, name, free)
            except _Stop:
                result.reps.append(
                    Rep(point, name, walker.runs - runs_before,
                        walker.pruned - pruned_before, -1, walker.found)
                )  # fmt: skip
                raise
            limit = limits[d] if reduce else point
            children.mark(name, limit, size)
            above = limits[:d]
            result.above = [min(a, b) for a, b in zip(result.above, above, strict=False)]
            result.reps.append(
                Rep(point, name, walker.runs - runs_before, walker.pruned - pruned_before,
                    limit, None, above)
            )  # fmt: skip
            if progress is not None:
                progress(children.done, children.total, walker.runs)
    except _Stop:
        pass
    walker.pruned += children.pruned
    result.runs = walker.runs
    result.pruned = walker.pruned
    result.found = walker.found
    if progress is not None:
        done = children.total if result.found is None else children.done
        progress(done, children.total, walker.runs)
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
                            switches=switches_of(root.outcome), reduce=reduce, progress=progress,
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
                            switches=switches_of(root.outcome))  # fmt: skip
    merged.runs += 1  # the root run
    return merged


def merge_children(
    root: Root,
    prefix: list[tuple[int, str]],
    horizon: int,
    parts: list[Search],
    run_missing: Callable[[int, str], Rep],
    *,
    switches: tuple[Switch, ...],
) -> Search:
    """The serial search of the children of `prefix`, from searches of ranges of them
    (`horizon` and `switches` of the run of `prefix`, as `explore_children` took them).

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
    children = Children(prefix, root, horizon, switches)
    for point, name, _ in children:
        rep = reps.get((point, name)) or run_missing(point, name)
        result.runs += rep.runs
        result.pruned += rep.pruned
        result.reps.append(rep)
        if rep.found is not None:
            result.found = rep.found
            break
        children.mark(name, rep.limit, rep.runs + rep.pruned)
        result.above = [min(a, b) for a, b in zip(result.above, rep.above, strict=False)]
    result.pruned += children.pruned
    return result
