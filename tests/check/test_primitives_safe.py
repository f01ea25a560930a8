"""irqio's primitives pass the explorer on both ports: exhaustively with one preemption, and with
two preemptions on small scenarios (asyncio's own Python code is traced on the asyncio port)."""

import irqio_primitives as p
import pytest

from irqio.check import Scenario, assert_safe

ONE = [
    p.flag_two_waiters,
    p.event_two_waiters,
    p.message_latest_value,
    p.queue_items_arrive,
    p.slots_callback_runs,
]
FOREIGN = [
    p.flag_foreign_setter,
    p.event_foreign_setter,
    p.message_foreign_setter,
    p.queue_foreign_producer,
    p.slots_foreign_signal,
]
TWO = [
    p.flag_two_waiters,
    p.flag_two_handlers,
    p.event_two_handlers,
    p.message_two_handlers,
    p.queue_two_handlers,
    p.slots_two_handlers,
]


def _cases(scenarios: list[Scenario]) -> list[Scenario]:
    return [v for sc in scenarios for v in sc.variants()]


@pytest.mark.parametrize("sc", _cases(ONE), ids=lambda sc: sc.name)
def test_one_preemption_exhaustive(sc: Scenario) -> None:
    result = assert_safe(sc, preemptions=1)
    # every point was tried, or pruned as equivalent to one that was
    assert result.schedules_run + result.pruned > result.points > 100


def _doorbell_only(sc: Scenario) -> Scenario:
    # The hand-over itself (schedule / service) at every pair of points: small enough to be
    # exhaustive in the suite. `irqio check examples/check/irqio_primitives.py` runs the same
    # scenarios exhaustively over all of irqio.runtime.primitives and irqio.runtime.doorbell
    # (minutes).
    return Scenario(sc.build, sc.name, 2, sc.port, None, ["irqio.runtime.doorbell"])


@pytest.mark.parametrize("sc", _cases(TWO), ids=lambda sc: sc.name)
def test_two_preemptions_exhaustive_in_the_doorbell(sc: Scenario) -> None:
    result = assert_safe(_doorbell_only(sc), preemptions=2)
    assert result.schedules_run + result.pruned > result.points


@pytest.mark.parametrize("sc", _cases(TWO), ids=lambda sc: sc.name)
def test_two_preemptions_random_in_primitives_and_doorbell(sc: Scenario) -> None:
    assert_safe(sc, preemptions=2, mode="random", seed=1, runs=300)


def test_asyncio_port_traces_asyncio_itself() -> None:
    from irqio.check.engine import Engine

    engine = Engine(p.event_two_waiters.on("asyncio"))
    try:
        out = engine.run([(200, "isr")], leaf=True)
    finally:
        engine.close()
    assert out.failure is None
    (fired,) = [f for f in out.fired if f.placed]
    assert "asyncio" in fired.filename  # point 200 lies inside asyncio's own code


@pytest.mark.parametrize(
    "sc", _cases([p.flag_two_handlers, p.event_two_handlers]), ids=lambda sc: sc.name
)
def test_two_preemptions_exhaustive_in_primitives_and_doorbell(sc: Scenario) -> None:
    # The two cheapest two-handler scenarios, every pair of points over all of
    # irqio.runtime.primitives and irqio.runtime.doorbell (a few seconds each); the rest run
    # exhaustively in `irqio check`.
    result = assert_safe(sc, preemptions=2)
    assert result.schedules_run + result.pruned > result.points


@pytest.mark.parametrize("sc", p.queue_foreign_producer.variants(), ids=lambda sc: sc.name)
def test_queue_with_a_foreign_producer_thread_two_switches(sc: Scenario) -> None:
    result = assert_safe(sc)
    assert result.preemptions == 2
    # every pair of switch points was tried, or pruned as equivalent to one that was
    assert result.schedules_run + result.pruned > result.points > 20


@pytest.mark.parametrize("sc", p.queue_foreign_producer.variants(), ids=lambda sc: sc.name)
def test_queue_with_a_foreign_producer_thread_three_switches_random(sc: Scenario) -> None:
    # Exhaustive at 3 switches takes minutes (980,137 schedules on the kernel port, SAFE);
    # random walks reach thread in, task back, thread resumed, in a second or two.
    result = assert_safe(sc, preemptions=3, mode="random", seed=1, runs=2000)
    assert result.schedules_run == 2000


@pytest.mark.parametrize("sc", _cases(FOREIGN), ids=lambda sc: sc.name)
def test_a_setter_on_another_core_exhaustive(sc: Scenario) -> None:
    # Every primitive's interrupt side from a foreign thread, both ports, two switches.
    result = assert_safe(sc, preemptions=2)
    assert result.schedules_run + result.pruned > result.points > 20
