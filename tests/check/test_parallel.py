"""`-j N` and Ray split the search and give the serial result: same verdict, same schedules
counted, same counterexample."""

import naive_event_5795
import pytest
import sched_queue_two_handlers as sq
import signal_before_publish_queue as sbp

from irqio.check import Result, Scenario, explore


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
    ],
    ids=[
        "exhaustive-safe",
        "exhaustive-nested",
        "exhaustive-thread",
        "random",
        "pct",
        "random-safe",
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
