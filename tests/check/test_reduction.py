"""The partial-order reduction prunes schedules, never verdicts: every example and test scenario
gets the same verdict, and the same counterexample, with and without it."""

from pathlib import Path

import pytest

from irqio.check import Scenario, explore
from irqio.check.collect import collect

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "examples" / "check").glob("*.py")) + [
    ROOT / "tests" / "check" / name
    for name in ("test_found_bugs.py", "test_threads_both_ways.py", "test_spinning.py",
                 "test_interrupts.py")
]  # fmt: skip


def _scenarios() -> list[Scenario]:
    out = []
    for path in FILES:
        for sc in collect(str(path), required=False):
            if sc.run_seconds < 5:
                continue  # the watchdog test: slow on purpose, nothing to prune
            out.append(sc)
    return out


PRIMITIVES, DOORBELL = "irqio.runtime.primitives", "irqio.runtime.doorbell"


def _cheap(sc: Scenario) -> Scenario:
    """Two-handler scenarios without reduction take seconds over all of the primitives: the
    suite compares them with the doorbell traced (every pair of points still)."""
    if sc.preemptions >= 2 and sc.modules is not None and PRIMITIVES in sc.modules:
        return Scenario(sc.build, sc.name, sc.preemptions, sc.port, None, [DOORBELL])
    return sc


@pytest.mark.parametrize("sc", _scenarios(), ids=lambda sc: sc.name)
def test_same_verdict_and_counterexample_without_reduction(sc: Scenario) -> None:
    sc = _cheap(sc)
    reduced = explore(sc)
    if reduced.schedules_run + reduced.pruned > 20_000:
        # tens of thousands of runs without the reduction (the MicroPython ring at three
        # switches: 58,512, 15 s): compare one switch lower, where it is a few hundred
        bound = sc.preemptions - 1
        reduced = explore(sc, preemptions=bound)
        full = explore(sc, preemptions=bound, reduce=False)
    else:
        full = explore(sc, reduce=False)
    assert reduced.verdict == full.verdict
    assert reduced.found_as == full.found_as  # the same first failing schedule
    assert reduced.schedules_run <= full.schedules_run


def test_the_reduction_prunes_the_two_waiter_event() -> None:
    import irqio_primitives as p

    sc = p.event_two_waiters.on("kernel")
    reduced, full = explore(sc), explore(sc, reduce=False)
    assert reduced.ok and full.ok
    assert reduced.pruned > 0 and reduced.schedules_run < full.schedules_run
    # at one preemption the estimate is exact: every schedule was run or pruned
    assert reduced.schedules_run + reduced.pruned == full.schedules_run
