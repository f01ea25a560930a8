"""Sampled search: random walks down the exhaustive tree, and PCT.

Every run draws from a generator seeded by `(seed, run index)` alone, so run i is the same
whichever process runs it: `-j N` splits the runs by index and merges them into exactly the
serial result (`irqio.check.parallel`).

* **random**: walk i draws a depth from 1 to the bound, then one placement at a time among
  those allowed after the ones before (any context not yet placed at any point of the run so
  far, including points inside an earlier handler, and the switches back and forth with a
  foreign thread): a context among those the search's tree offers there, then a point among
  those where it may go (`search.choices`: up to the horizon of the run that placed the
  previous one; a take-back by task context only while the thread holds the CPU). Every run along a
  walk is a checked schedule, so a walk of depth k costs k runs.
* **pct**: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, "A
  Randomized Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010). Each
  context (task context, every handler, every thread) gets a random priority; d - 1 change
  points are drawn among the k points of a run; the highest-priority context that can run
  runs, and at the i-th change point the running context drops to priority i (below every
  starting one). A bug of depth d (d ordering constraints) is found with probability at least
  1 / (n * k^(d-1)) per run, n the number of contexts. Handlers keep their interrupt
  semantics: one that fires runs to completion unless a higher-priority handler nests in it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from irqio.check.engine import Engine
from irqio.check.outcome import TASK
from irqio.check.search import (
    Found,
    Root,
    choices,
    cpu_at,
    free_contexts,
    is_leaf,
    switches_of,
)

# progress(runs done, runs in all)
Progress = Callable[[int, int], None]


@dataclass
class Walks:
    runs: int = 0
    found: Found | None = None
    found_at: int = -1  # index of the walk (or PCT run) that failed


def rng_for(seed: int, index: int, salt: str = "") -> random.Random:
    """The generator of run (or walk) `index`: the same in every process."""
    return random.Random(f"irqio.check:{salt}{seed}:{index}")


def random_walk(
    engine: Engine, root: Root, bound: int, seed: int, index: int, budget: int
) -> tuple[int, Found | None]:
    """Walk `index`: at most `budget` runs. Returns (runs made, failure)."""
    rng = rng_for(seed, index)
    names, threads = root.names, root.threads
    depth = rng.randint(1, bound)
    prefix: list[tuple[int, str]] = []
    horizon, switches = root.horizon, switches_of(root.outcome)
    runs = 0
    while runs < budget:
        allowed = choices(prefix, names, threads, horizon, switches)
        if not allowed:
            break
        # A context, then a point among those where it may go: one range (the whole run
        # after the last placement) unless a thread's end cuts task context's take-back off.
        name = rng.choice(list(allowed))
        ranges = allowed[name]
        point = _nth(ranges, rng.randrange(sum(len(r) for r in ranges)))
        free = free_contexts(prefix, names, threads, cpu_at(prefix, threads, switches, point))
        prefix = [*prefix, (point, name)]
        leaf = len(prefix) >= depth or is_leaf(prefix, free, name, threads, bound)
        out = engine.run(prefix, leaf)
        runs += 1
        if out.failure is not None:
            return runs, Found(out, prefix)
        if leaf:
            break
        horizon, switches = out.horizon, switches_of(out)
    return runs, None


def _nth(ranges: list[range], i: int) -> int:
    """The i-th point of `ranges`, taken in order."""
    for span in ranges:
        if i < len(span):
            return span[i]
        i -= len(span)
    raise IndexError(i)


def random_walks(
    engine: Engine,
    root: Root,
    bound: int,
    seed: int,
    runs: int,
    progress: Progress | None = None,
    first: int = 0,
    done: int = 1,
) -> Walks:
    """Walks `first`, `first + 1`, ... until `runs` runs in all (`done` already made)."""
    result = Walks(runs=done)
    index = first
    while result.runs < runs:
        made, found = random_walk(engine, root, bound, seed, index, runs - result.runs)
        result.runs += made
        if found is not None:
            result.found, result.found_at = found, index
            break
        if made == 0:
            break  # nothing to place at all
        index += 1
        if progress is not None and index % 16 == 0:
            progress(result.runs, runs)
    return result


# -- PCT ------------------------------------------------------------------------------------------


class PCT:
    """One PCT run's schedule, made as the run goes (an engine policy)."""

    def __init__(self, names: list[str], steps: int, depth: int, rng: random.Random) -> None:
        contexts = [TASK, *names]
        order = contexts[:]
        rng.shuffle(order)
        # Starting priorities depth .. depth + n - 1; change point i drops to depth - 1 - i.
        self.priority = {name: depth + i for i, name in enumerate(order)}
        self.changes = sorted(rng.randrange(max(1, steps)) for _ in range(depth - 1))
        self._i = 0
        self._next = 0  # decide at the very first point
        self.depth = depth

    def next_point(self) -> int:
        return self._next

    def changed(self, engine: Engine) -> None:
        """A context ended (or fired at idle): decide again at the next point."""
        self._next = engine.tracer.count()

    def choose(self, point: int, engine: Engine) -> str | None:
        running = engine.running()
        while self._i < len(self.changes) and self.changes[self._i] <= point:
            self.priority[running] = self.depth - 1 - self._i
            self._i += 1
        self._next = self.changes[self._i] if self._i < len(self.changes) else -1
        best = running
        best_p = self.priority.get(running, -1)
        for name in engine.placeable():
            p = self.priority.get(name, -1) if name != TASK else self.priority[TASK]
            if p > best_p:
                best, best_p = name, p
        if best == running:
            return None
        if best == TASK and engine.running() == TASK:
            return None
        return best


def pct_bound(contexts: int, steps: int, depth: int) -> float:
    """PCT's lower bound on the chance that one run finds a given bug of depth `depth`."""
    return 1.0 / float(contexts * max(1, steps) ** (depth - 1))


def pct_run(
    engine: Engine, root: Root, depth: int, seed: int, index: int
) -> tuple[Any, list[tuple[int, str]]]:
    policy = PCT(root.names, root.outcome.points or root.horizon, depth,
                 rng_for(seed, index, "pct"))  # fmt: skip
    out = engine.run([], leaf=True, policy=policy)
    return out, out.placed


def pct_runs(
    engine: Engine,
    root: Root,
    depth: int,
    seed: int,
    runs: int,
    progress: Progress | None = None,
    first: int = 0,
    done: int = 1,
) -> Walks:
    result = Walks(runs=done)
    index = first
    while result.runs < runs:
        out, placed = pct_run(engine, root, depth, seed, index)
        result.runs += 1
        if out.failure is not None:
            result.found, result.found_at = Found(out, placed), index
            break
        index += 1
        if progress is not None and index % 16 == 0:
            progress(result.runs, runs)
    return result
