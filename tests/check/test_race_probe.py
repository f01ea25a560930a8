"""The race-directed first runs: a race inside one window is found by the first runs, where the
search in point order needs many schedules; they never report what the bound excludes; and
when they find nothing the search is exactly the search without them."""

from pathlib import Path
from typing import Any

import pytest

from irqio.check import Result, Scenario, Setup, explore, scenario
from irqio.check.bytecode import info
from irqio.check.collect import collect
from irqio.check.engine import include_filter
from irqio.check.race_probe import _Names, access_of, conflicts, shape_of, under_construction

FIRST = "the race-directed first run"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "check"


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.log: list[int] = []

    def bump(self) -> None:  # the handler: one atomic step
        self.n += 1
        self.log.append(self.n)


def _deep_lost_update(s: Setup) -> None:
    c = Counter()

    def task() -> None:
        for i in range(12):
            c.log.append(-i)  # each conflicts with the handler's append: a class of its own
        n = c.n  # read ...
        c.n = n + 1  # ... write: a handler in between is lost

    s.task(task)
    s.handler(c.bump, "isr")
    s.at_end(lambda: c.n == 2, "no increment lost")


deep_lost_update = scenario(modules=["@scenario"])(_deep_lost_update)


def test_a_race_deep_in_task_context_costs_the_first_runs_not_a_walk() -> None:
    found = explore(deep_lost_update)
    walked = explore(deep_lost_update, first_runs=False)
    assert not found.ok and not walked.ok
    assert found.strategy == FIRST
    assert found.executions <= 2  # one run (two if it first imported something)
    assert walked.schedules_run > 10  # every earlier append is a placement of its own
    # the counterexample shown is a real one, and the search's own first one
    assert found.replay == walked.replay
    assert not explore(deep_lost_update, replay=found.replay).ok


class Mailbox:
    def __init__(self) -> None:
        self.ready = False
        self.data: int | None = None


@scenario(preemptions=2, modules=["@scenario"])
def signal_before_publish(s: Setup) -> None:
    box = Mailbox()
    got: list[object] = []

    def reader() -> None:
        got.append(box.data if box.ready else "not ready")

    def producer() -> None:
        box.ready = True  # signal ...
        box.data = 42  # ... then publish

    s.task(reader)
    s.thread(producer, "producer")
    s.at_end(lambda: got != [None], "the reader never sees ready without the data")


def test_a_window_in_the_thread_is_split_by_the_second_first_run() -> None:
    # The reader has no window (it reads `ready` once); the producer has one: placed before
    # the reader's read, it is taken back between its two writes.
    result = explore(signal_before_publish)
    assert not result.ok and result.strategy == FIRST
    assert len(result.replay.split(",")) == 2  # the thread in, task context back
    assert explore(signal_before_publish, first_runs=False).replay == result.replay


@scenario(preemptions=2, modules=["@scenario"])
def two_windows(s: Setup) -> None:
    st = {"x": 0, "y": 0}
    seen: list[int] = []

    def first() -> None:
        st["x"] = 1
        seen.append(st["y"])
        st["x"] = 2

    def second() -> None:
        st["y"] = 1
        seen.append(st["x"])
        st["y"] = 2

    s.task(first)
    s.thread(second, "t2")
    s.at_end(lambda: seen != [1, 1], "not both intermediate values")


def test_the_first_runs_keep_to_the_bound() -> None:
    # Both intermediate values need two switches: at one, the first runs must not find it.
    assert explore(two_windows, preemptions=1).ok
    assert not explore(two_windows).ok


def _safe_examples() -> list[Scenario]:
    out = [sc for sc in collect(str(EXAMPLES / "irqio_primitives.py")) if sc.port == "kernel"]
    return out[:6]


@pytest.mark.parametrize("sc", _safe_examples(), ids=lambda sc: sc.name)
def test_when_they_find_nothing_the_search_is_unchanged(sc: Scenario) -> None:
    with_first = explore(sc)
    alone = explore(sc, first_runs=False)
    assert with_first.ok and alone.ok
    assert (with_first.schedules_run, with_first.pruned, with_first.points) == (
        alone.schedules_run,
        alone.pruned,
        alone.points,
    )
    # the first runs are counted as runs, beside the search's schedules
    assert alone.schedules_run < with_first.executions <= alone.schedules_run + 3


def test_split_runs_agree_with_one_process_when_the_first_run_finds_it() -> None:
    serial = explore(deep_lost_update)
    split = explore(deep_lost_update, jobs=2)
    assert (split.verdict, split.replay, split.strategy, split.schedules_run) == (
        serial.verdict,
        serial.replay,
        serial.strategy,
        serial.schedules_run,
    )


def test_footprints_name_the_object_a_bound_method_runs_on() -> None:
    sc = Scenario(_deep_lost_update, "deep", 1, modules=["@scenario"])
    include = include_filter(sc)
    a, b = Counter(), Counter()
    shape = shape_of(a.bump, include, _Names(include), keep := [])
    assert keep  # the objects named stay alive while the shape is used
    assert shape[("a", "n")] == {(id(a), True), (id(a), False)}
    assert conflicts(("a", "n", id(a), False), shape)  # a read against its write
    assert not conflicts(("a", "n", id(b), True), shape)  # another counter's n
    assert conflicts(("a", "n", None, False), shape)  # an unnamed object may be it
    assert not conflicts(("a", "log", id(a), False), {("a", "log"): {(id(a), False)}})


def test_an_object_under_construction_is_not_shared() -> None:
    code = Counter.__init__.__code__
    ops = list(info(code).ops.values())
    writes = [op for op in ops if op.kind == "wa"]
    assert writes and all(under_construction(op, code) for op in writes)
    bump = Counter.bump.__code__
    assert not any(under_construction(op, bump) for op in info(bump).ops.values())
    assert access_of(writes[0], lambda src: None, None) is not None


def test_a_hint_that_fails_never_fails_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from irqio.check import race_probe
    from irqio.check.clock import virtual_controller_clock
    from irqio.check.engine import Engine

    real = race_probe.RaceProbe._choose
    calls = [0]

    def fails_later(self: race_probe.RaceProbe, engine: Engine) -> str | None:
        if self.made:  # after the thread is placed: inside the run, not before it
            calls[0] += 1
            raise RuntimeError("cannot read this operand")
        return real(self, engine)

    monkeypatch.setattr(race_probe.RaceProbe, "_choose", fails_later)
    with virtual_controller_clock():
        engine = Engine(signal_before_publish)
        try:
            out, _ = race_probe.first_run(engine, signal_before_publish, 2, early=True)
        finally:
            engine.close()
    assert calls[0] == 1  # asked once more, then never again
    assert out.placed  # it had placed the thread when the hint failed
    assert out.failure is None or out.failure.kind != "exception"
    # and explore, which replays a first run's failure before it believes it, agrees
    assert (
        explore(signal_before_publish).replay
        == explore(signal_before_publish, first_runs=False).replay
    )


class Pair:
    def __init__(self) -> None:
        self.a = 0
        self.b = 0


@scenario(preemptions=2, modules=["@scenario"])
def after_a_thread_ends(s: Setup) -> None:
    box = Pair()

    def task() -> None:
        n = box.a
        box.a = n + 1  # the thread's store in between is lost
        m = box.b
        box.b = m + 1  # and the handler's here

    def thread() -> None:
        box.a = 10

    def isr() -> None:
        box.b += 1

    s.task(task)
    s.thread(thread, "t")
    s.handler(isr, "isr")
    s.at_end(lambda: not (box.a == 1 and box.b == 1), "not both lost")


def _lands_after_the_thread_ended(result: Result) -> bool:
    """Does the failing schedule place the thread, then the handler in task context with no
    take-back between them (so after the thread ended: inside it, it preempts "thread t")?"""
    kinds = [(p.context, p.kind, p.inside) for p in result.schedule if p.placed]
    return kinds == [("t", "thread", "task context"), ("isr", "handler", "task context")]


def test_the_search_places_a_handler_after_a_placed_thread_ended() -> None:
    # Both losses need the thread's store between task context's read and write of `a`, and
    # the handler's between those of `b`, after the thread has ended (t@2,isr@9): every
    # placement after a thread's end is in the tree, only task context's take-back is not.
    assert explore(after_a_thread_ends, replay="t@2,isr@9").verdict == "BROKEN"
    for bound in (2, 3):
        alone = explore(after_a_thread_ends, preemptions=bound, first_runs=False)
        every = explore(after_a_thread_ends, preemptions=bound, first_runs=False, reduce=False)
        assert alone.verdict == every.verdict == "BROKEN"
        assert alone.replay == every.replay  # the reduction keeps the first counterexample
        assert _lands_after_the_thread_ended(alone)
        assert explore(after_a_thread_ends, replay=alone.replay).verdict == "BROKEN"
    # one preemption cannot lose both
    assert explore(after_a_thread_ends, preemptions=1, first_runs=False).ok


def test_random_walks_place_a_handler_after_a_placed_thread_ended() -> None:
    walked = explore(after_a_thread_ends, mode="random", seed=0, runs=1000)
    assert walked.verdict == "BROKEN"
    assert walked.schedules_run <= 1000
    assert _lands_after_the_thread_ended(walked)
    assert explore(after_a_thread_ends, replay=walked.replay).verdict == "BROKEN"


def test_the_first_runs_agree_with_the_search_after_a_thread_ended() -> None:
    # The first runs keep to the search's tree, which now holds the handler after the end.
    with_first = explore(after_a_thread_ends)
    alone = explore(after_a_thread_ends, first_runs=False)
    assert with_first.verdict == alone.verdict == "BROKEN"
    assert with_first.strategy == FIRST
    assert with_first.replay == alone.replay


@pytest.mark.parametrize(
    "options",
    [{"first_runs": False}, {"mode": "random", "seed": 0, "runs": 1000}],
    ids=["exhaustive", "random"],
)
def test_two_processes_agree_with_serial_after_a_thread_ended(options: dict[str, Any]) -> None:
    serial = explore(after_a_thread_ends, **options)
    split = explore(after_a_thread_ends, jobs=2, **options)
    assert split.jobs == 2
    assert (split.verdict, split.replay, split.found_as) == (
        serial.verdict,
        serial.replay,
        serial.found_as,
    )
    assert (split.schedules_run, split.pruned) == (serial.schedules_run, serial.pruned)
    assert serial.verdict == "BROKEN"
