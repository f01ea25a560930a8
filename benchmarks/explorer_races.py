"""Four thread races, each written in the idiom of every explorer `bench_explorer.py` compares.

Each program has two workers that share some state, an invariant checked when both are done,
a *buggy* version (the race) and a *fixed* one (the racy step made one atomic step: a single C
call such as `dict.setdefault`, or a lock where the tool only sees its own operations).

* lost update: both workers read a counter, then store it plus one;
* check-then-act: both test a `done` flag, then claim the win and set the flag;
* publish-after-signal: a foreign thread raises `ready` before it stores the data; the reader
  takes the data once it sees `ready`;
* two preemptions: each worker stores an intermediate value, reads the other's, then stores
  its final one; both reading the other's *intermediate* value needs the first worker
  preempted, and the second preempted in turn before it ends (no single preemption does it).

irqio runs the first worker as task context and the second as a foreign thread (`s.thread`):
its model of another core, which it interleaves both ways at every preemption point. The
other tools run both as threads. Each tool explores up to two preemptions.

`python explorer_races.py TOOL PROGRAM VARIANT` runs one case and prints its result as JSON
(`bench_explorer.py` runs each in a fresh process, so no tool's patches leak into another's).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

PROGRAMS = ("lost_update", "check_then_act", "publish_after_signal", "two_preemptions")
TOOLS = ("irqio", "frontrun", "interleave-test", "ploom")
BOUND = 2  # preemptions, for every tool


class State:
    """The shared state of every program (plain Python objects)."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.done = False
        self.won_a = False
        self.won_b = False
        self.claims: dict[str, str] = {}
        self.ready = False
        self.data: int | None = None
        self.got: object = "unset"
        self.seen1: int | None = None
        self.seen2: int | None = None
        self.log: list[int] = []


# -- plain Python workers: irqio, frontrun, interleave-test ---------------------------------


def lost_update(s: State) -> None:
    tmp = s.x
    s.x = tmp + 1


def lost_update_fixed(s: State) -> None:
    s.log.append(1)  # one C call


def claim_a(s: State) -> None:
    if not s.done:
        s.won_a = True
        s.done = True


def claim_b(s: State) -> None:
    if not s.done:
        s.won_b = True
        s.done = True


def claim_a_fixed(s: State) -> None:
    if s.claims.setdefault("win", "a") == "a":  # test-and-set in one C call
        s.won_a = True


def claim_b_fixed(s: State) -> None:
    if s.claims.setdefault("win", "b") == "b":
        s.won_b = True


def reader(s: State) -> None:
    s.got = s.data if s.ready else "not ready"


def producer(s: State) -> None:
    s.ready = True  # signal ...
    s.data = 42  # ... then publish: the wrong order


def producer_fixed(s: State) -> None:
    s.data = 42
    s.ready = True


def first(s: State) -> None:
    s.x = 1
    s.seen1 = s.y
    s.x = 2


def second(s: State) -> None:
    s.y = 1
    s.seen2 = s.x
    s.y = 2


def first_fixed(s: State) -> None:
    s.x = 2
    s.seen1 = s.y


def second_fixed(s: State) -> None:
    s.y = 2
    s.seen2 = s.x


Worker = Callable[[State], None]
Check = Callable[[State], bool]
PLAIN: dict[str, dict[str, tuple[Worker, Worker, Check]]] = {
    "lost_update": {
        "buggy": (lost_update, lost_update, lambda s: s.x == 2),
        "fixed": (lost_update_fixed, lost_update_fixed, lambda s: len(s.log) == 2),
    },
    "check_then_act": {
        "buggy": (claim_a, claim_b, lambda s: not (s.won_a and s.won_b)),
        "fixed": (claim_a_fixed, claim_b_fixed, lambda s: not (s.won_a and s.won_b)),
    },
    "publish_after_signal": {
        "buggy": (reader, producer, lambda s: s.got is not None),
        "fixed": (reader, producer_fixed, lambda s: s.got is not None),
    },
    "two_preemptions": {
        "buggy": (first, second, lambda s: not (s.seen1 == 1 and s.seen2 == 1)),
        "fixed": (first_fixed, second_fixed, lambda s: not (s.seen1 == 1 and s.seen2 == 1)),
    },
}


# -- the tools ------------------------------------------------------------------------------


def run_irqio(program: str, variant: str) -> dict[str, Any]:
    from irqio.check import Scenario, Setup, explore

    one, two, ok = PLAIN[program][variant]

    def build(s: Setup) -> None:
        st = State()
        s.task(lambda: one(st))
        s.thread(lambda: two(st), "t2")
        s.at_end(lambda: ok(st), "the invariant")

    sc = Scenario(build, f"{program}_{variant}", BOUND, modules=["@scenario"])
    t0 = time.perf_counter()
    result = explore(sc, shrink_failures=False)
    seconds = time.perf_counter() - t0
    # Every run of the program counts: the race-directed first run and the warm-up too.
    return {"found": not result.ok, "schedules": result.executions, "seconds": seconds,
            "searched": result.schedules_run, "pruned": result.pruned}  # fmt: skip


def run_frontrun(program: str, variant: str) -> dict[str, Any]:
    import frontrun

    one, two, ok = PLAIN[program][variant]
    t0 = time.perf_counter()
    result = frontrun.explore(
        setup=State,
        workers=[one, two],
        invariant=ok,
        preemption_bound=BOUND,
        reproduce_on_failure=0,
        detect_io=False,
        stop_on_first=True,
        max_executions=100_000,
    )
    seconds = time.perf_counter() - t0
    return {"found": result.property_holds is False, "schedules": result.num_explored,
            "seconds": seconds}  # fmt: skip


def run_interleave_test(program: str, variant: str) -> dict[str, Any]:
    import interleave_test as it

    one, two, ok = PLAIN[program][variant]

    def model() -> None:
        st = State()
        t1 = it.spawn(one, st)
        t2 = it.spawn(two, st)
        t1.join()
        t2.join()
        assert ok(st)

    t0 = time.perf_counter()
    result = it.explore(model, strategy="dfs", max_preemptions=BOUND, iterations=200_000,
                        raise_on_failure=False, include=[__file__])  # fmt: skip
    seconds = time.perf_counter() - t0
    found = result.failure is not None
    schedules = result.failure.iteration + 1 if found else result.schedules_run
    return {"found": found, "schedules": schedules, "seconds": seconds,
            "exhausted": result.exhausted}  # fmt: skip


# ploom sees only its own operations: SharedCell reads and writes, ploom.Lock.


def _ploom_program(program: str, variant: str) -> Callable[[], None]:
    import ploom

    fixed = variant == "fixed"

    def scenario() -> None:
        cells = {
            n: ploom.SharedCell(v)
            for n, v in vars(State()).items()
            if not isinstance(v, (list, dict))
        }
        lock = ploom.Lock()
        c = cells

        def lost() -> None:
            if fixed:
                with lock:
                    c["x"].write(c["x"].read() + 1)
            else:
                c["x"].write(c["x"].read() + 1)

        def claim(won: str) -> Callable[[], None]:
            def run() -> None:
                if fixed:
                    with lock:
                        if not c["done"].read():
                            c[won].write(True)
                            c["done"].write(True)
                elif not c["done"].read():
                    c[won].write(True)
                    c["done"].write(True)

            return run

        def read() -> None:
            c["got"].write(c["data"].read() if c["ready"].read() else "not ready")

        def produce() -> None:
            if fixed:
                c["data"].write(42)
                c["ready"].write(True)
            else:
                c["ready"].write(True)
                c["data"].write(42)

        def one() -> None:
            if not fixed:
                c["x"].write(1)
            c["seen1"].write(c["y"].read())
            c["x"].write(2)

        def two() -> None:
            if not fixed:
                c["y"].write(1)
            c["seen2"].write(c["x"].read())
            c["y"].write(2)

        workers: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
            "lost_update": (lost, lost),
            "check_then_act": (claim("won_a"), claim("won_b")),
            "publish_after_signal": (read, produce),
            "two_preemptions": (one, two),
        }
        a, b = workers[program]
        threads = [ploom.Thread(target=a), ploom.Thread(target=b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if program == "lost_update":
            assert c["x"].read() == 2
        elif program == "check_then_act":
            assert not (c["won_a"].read() and c["won_b"].read())
        elif program == "publish_after_signal":
            assert c["got"].read() is not None
        else:
            assert not (c["seen1"].read() == 1 and c["seen2"].read() == 1)

    return scenario


def run_ploom(program: str, variant: str) -> dict[str, Any]:
    import ploom

    scenario = _ploom_program(program, variant)
    config = ploom.Config(max_preemptions=BOUND, max_executions=5000, timeout=300.0,
                          minimize_executions=0)  # fmt: skip
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as traces:
        try:
            stats = ploom.check(scenario, config=config, trace_dir=__import__("pathlib").Path(
                traces), on_failure=lambda *a: None)  # fmt: skip
        except (ploom.ModelCheckError, ploom.DeadlockError) as error:
            return {"found": True, "schedules": error.statistics.executions,
                    "seconds": time.perf_counter() - t0}  # fmt: skip
    return {"found": False, "schedules": stats.executions, "seconds": time.perf_counter() - t0}


RUNNERS = {
    "irqio": run_irqio,
    "frontrun": run_frontrun,
    "interleave-test": run_interleave_test,
    "ploom": run_ploom,
}


def main(argv: list[str]) -> int:
    tool, program, variant = argv
    try:
        data = RUNNERS[tool](program, variant)
    except Exception as error:  # a peer that cannot run this case: said in the table
        data = {"error": f"{type(error).__name__}: {error}"[:200]}
    data.update(tool=tool, program=program, variant=variant)
    print(json.dumps(data))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main(sys.argv[1:]))
