"""`-j N` and Ray split the search and give the serial result: same verdict, same schedules
counted, same counterexample."""

import itertools

import naive_event_5795
import pytest
import sched_queue_two_handlers as sq
import seqlock_spin
import signal_before_publish_queue as sbp

from irqio.check import Result, Scenario, explore
from irqio.check.clock import virtual_controller_clock
from irqio.check.engine import Engine
from irqio.check.parallel import even_atoms, split_points
from irqio.check.search import root_run


def _same(a: Result, b: Result) -> None:
    assert (a.verdict, a.replay, a.found_as) == (b.verdict, b.replay, b.found_as)
    assert (a.schedules_run, a.pruned, a.points) == (b.schedules_run, b.pruned, b.points)


@pytest.mark.parametrize(
    ("sc", "options"),
    [
        (sq.same_priority, {}),  # SAFE, two levels of placements
        (sq.without_atomic_section, {}),  # BROKEN in a nested placement
        (sbp.signal_before_publish, {}),  # BROKEN with a foreign thread
        (
            naive_event_5795.naive_event_set_during_task_queue_update,
            {"mode": "random", "seed": 3, "runs": 3000},
        ),
        (
            naive_event_5795.naive_event_set_during_task_queue_update,
            {"mode": "pct", "seed": 3, "runs": 3000},
        ),
        (sq.same_priority, {"mode": "random", "seed": 2, "runs": 400}),  # SAFE, budget cut
        # three levels: the master cuts the children of each first placement at the ones
        # the serial search runs (one run each), the workers take the pieces
        (sq.same_priority, {"preemptions": 3}),
        (sq.same_priority, {"reduce": False}),  # ranges of first placements, all of them
        # a spin: runs after it count to their end (trace_to_end), which only the process
        # that saw it knows; a run's outcome must not depend on it
        (seqlock_spin.read_on_another_core, {"preemptions": 3}),
    ],
    ids=[
        "exhaustive-safe",
        "exhaustive-nested",
        "exhaustive-thread",
        "random",
        "pct",
        "random-safe",
        "exhaustive-three-levels",
        "exhaustive-unreduced",
        "exhaustive-after-a-spin",
    ],
)
def test_two_processes_give_the_serial_result(sc: Scenario, options: dict[str, object]) -> None:
    serial = explore(sc, **options)  # type: ignore[arg-type]
    split = explore(sc, jobs=2, **options)  # type: ignore[arg-type]
    _same(serial, split)
    assert split.jobs == 2


def test_a_local_ray_cluster_gives_the_serial_result() -> None:
    ray = pytest.importorskip("ray")
    serial = explore(sq.without_atomic_section)
    try:
        split = explore(sq.without_atomic_section, ray="local", jobs=2)
    finally:
        ray.shutdown()
    _same(serial, split)


def test_a_run_does_not_depend_on_an_earlier_spin() -> None:
    """`trace_to_end` (set once any run spun) makes runs count past their horizon; the scans
    the reduction uses must stay those of a run that stopped there."""
    schedule = [(0, "core1"), (5, "task")]  # a take-back whose window ends after the horizon
    with virtual_controller_clock():
        engine = Engine(seqlock_spin.read_on_another_core, record_untraced=True)
        try:
            root_run(engine, 3)
            assert not engine.trace_to_end  # the root run does not spin
            plain = engine.run(schedule, False, reduce=True)
            engine.trace_to_end = True
            counted = engine.run(schedule, False, reduce=True)
        finally:
            engine.close()
    assert [f.context for f in plain.fired] == ["core1", "task", "core1"]
    assert (counted.scans, counted.horizon) == (plain.scans, plain.horizon)


@pytest.mark.parametrize("pieces", [1, 3, 32])
def test_split_points_cover_each_range_once(pieces: int) -> None:
    ranges = [(1, 9), (4, 5), (0, 30)]
    atoms = [[(1, 5.0), (3, 1.0), (6, 9.0)], [(4, 1.0)], even_atoms(0, 30, 2)]
    cuts = split_points(ranges, atoms, pieces)
    weights = [w for *_, w in cuts]
    assert weights == sorted(weights, reverse=True)  # handed out heaviest first
    assert sum(weights) == pytest.approx(sum(w for row in atoms for _, w in row))
    for i, (start, stop) in enumerate(ranges):
        mine = sorted((a, b) for j, a, b, _ in cuts if j == i)
        assert mine[0][0] == start and mine[-1][1] == stop
        assert all(b == c for (_, b), (c, _) in itertools.pairwise(mine))
        assert all(a in {p for p, _ in atoms[i]} for a, _ in mine)  # cut at atoms only
    if pieces >= 32:
        assert len(cuts) > len(ranges)  # the heavy range was cut
