"""The kernel: scheduling order, virtual time, cancellation, the idle step, the real clock."""

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqio.kernel import (
    CancelledError,
    Deadlock,
    Kernel,
    RealClock,
    StepLimit,
    Task,
    TaskQueue,
    VirtualClock,
    run,
)
from irqio.kernel.naive_event import NaiveEvent as Event


def test_run_returns_the_main_result() -> None:
    async def main() -> int:
        return 42

    assert run(main()) == 42


def test_sleeps_wake_in_deadline_order_on_the_virtual_clock() -> None:
    k = Kernel()
    log: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await k.sleep(seconds)
        log.append((name, k.clock.now()))

    async def main() -> None:
        tasks = [k.create_task(sleeper(n, d)) for n, d in [("c", 3), ("a", 1), ("b", 2), ("a2", 1)]]
        for t in tasks:
            await t

    k.run(main())
    assert log == [("a", 1.0), ("a2", 1.0), ("b", 2.0), ("c", 3.0)]
    assert k.clock.now() == 3.0  # virtual: no wall time passed


def test_sleep_zero_round_robins() -> None:
    k = Kernel()
    log: list[str] = []

    async def worker(name: str) -> None:
        for _ in range(3):
            log.append(name)
            await k.sleep(0)

    async def main() -> None:
        a, b = k.create_task(worker("a")), k.create_task(worker("b"))
        await a
        await b

    k.run(main())
    assert log == ["a", "b", "a", "b", "a", "b"]


def test_sleep_ms_and_module_functions() -> None:
    from irqio.kernel import create_task, current, sleep_ms

    async def child() -> float:
        await sleep_ms(250)
        k = current()
        assert k is not None
        return k.clock.now()

    async def main() -> float:
        return float(await create_task(child()))

    assert run(main(), clock=VirtualClock()) == 0.25


def test_awaiting_a_failed_task_raises_its_error() -> None:
    k = Kernel()

    async def bad() -> None:
        raise ValueError("boom")

    async def main() -> None:
        await k.create_task(bad())

    with pytest.raises(ValueError, match="boom"):
        k.run(main())


def test_cancel_a_sleeping_task() -> None:
    k = Kernel()
    log: list[str] = []

    async def sleeper() -> None:
        try:
            await k.sleep(10)
        except CancelledError:
            log.append("cancelled")
            raise

    async def main() -> None:
        t = k.create_task(sleeper())
        await k.sleep(1)
        assert t.cancel()
        with pytest.raises(CancelledError):
            await t
        assert not t.cancel()  # already done

    k.run(main())
    assert log == ["cancelled"]
    assert k.clock.now() == 1.0  # the cancelled sleep did not hold the clock
    assert len(k.queue) == 0


def test_cancel_a_task_parked_on_the_naive_event() -> None:
    k = Kernel()
    ev = Event(k)

    async def waiter() -> None:
        await ev.wait()

    async def main() -> None:
        t = k.create_task(waiter())
        await k.sleep(0)
        assert len(ev.waiting) == 1
        t.cancel()
        with pytest.raises(CancelledError):
            await t
        assert len(ev.waiting) == 0

    k.run(main())


def test_a_task_cannot_cancel_itself() -> None:
    k = Kernel()

    async def main() -> None:
        me = k.cur_task
        assert me is not None
        with pytest.raises(RuntimeError):
            me.cancel()

    k.run(main())


def test_naive_event_wakes_waiters_in_task_context() -> None:
    k = Kernel()
    ev = Event(k)
    woke: list[int] = []

    async def waiter(i: int) -> None:
        await ev.wait()
        woke.append(i)

    async def main() -> None:
        tasks = [k.create_task(waiter(i)) for i in range(3)]
        await k.sleep(0.5)
        ev.set()
        for t in tasks:
            await t
        assert ev.is_set()

    k.run(main())
    assert woke == [0, 1, 2]


def test_idle_with_nothing_to_wake_is_a_deadlock_on_the_virtual_clock() -> None:
    k = Kernel()

    async def main() -> None:
        await k.park()

    with pytest.raises(Deadlock):
        k.run(main())


def test_idle_step_returns_on_a_ring_without_advancing_time() -> None:
    rings: list[float | None] = []
    clock = VirtualClock()
    k = Kernel(clock)
    served: list[float] = []
    box: list[Task] = []

    def on_idle(dt: float | None) -> bool:
        rings.append(dt)
        k.alert()  # an interrupt while asleep alerts the kernel
        return True

    clock.on_idle = on_idle

    def service() -> None:
        served.append(k.clock.now())
        k.ready(box[0], "hello")

    k.services.append(service)

    async def main() -> str:
        box.append(k.cur_task)  # type: ignore[arg-type]
        return str(await k.park())

    assert k.run(main()) == "hello"
    assert rings == [None]  # one idle step, with no deadline
    assert served == [0.0]


def test_step_limit_stops_a_runaway_loop() -> None:
    k = Kernel()

    async def spin() -> None:
        while True:
            await k.sleep(0)

    with pytest.raises(StepLimit):
        k.run(spin(), max_steps=100)


def test_real_clock_sleeps_and_is_woken_from_another_thread() -> None:
    clock = RealClock()
    k = Kernel(clock)
    box: list[Task] = []

    def service() -> None:
        if box:
            k.ready(box.pop(), "rung")

    k.services.append(service)

    async def main() -> tuple[str, float]:
        t0 = time.monotonic()
        await k.sleep(0.02)
        slept = time.monotonic() - t0
        me = k.cur_task
        assert me is not None
        box.append(me)
        threading.Timer(0.02, k.alert).start()  # a foreign thread alerts
        return str(await k.park()), slept

    value, slept = k.run(main())
    assert value == "rung"
    assert slept >= 0.015


# -- the pairing heap ----------------------------------------------------------------------


class _Node(Task):
    def __init__(self, name: int) -> None:
        self.name = str(name)
        self.ph_key = 0.0
        self.ph_seq = 0
        self.ph_child = None
        self.ph_next = None
        self.ph_prev = None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["push", "pop", "remove"]), st.integers(0, 20))))
def test_pairing_heap_pops_in_key_then_push_order(ops: list[tuple[str, int]]) -> None:
    heap = TaskQueue()
    model: list[tuple[int, int, _Node]] = []  # (key, push order, node)
    order = 0
    for op, value in ops:
        if op == "push":
            node = _Node(value)
            order += 1
            heap.push(node, value)
            model.append((value, order, node))
        elif op == "pop" and model:
            model.sort(key=lambda e: (e[0], e[1]))
            expected = model.pop(0)[2]
            assert heap.pop() is expected
        elif op == "remove" and model:
            victim = model.pop(value % len(model))[2]
            assert heap.remove(victim)
        assert len(heap) == len(model)
    model.sort(key=lambda e: (e[0], e[1]))
    for _key, _order, node in model:
        assert heap.pop() is node
    assert heap.peek() is None


def _ran_kernel() -> Kernel:
    """A kernel that ran a task waking another through an irqio Flag, then a sleep."""
    import irqio

    kernel = Kernel(VirtualClock())
    flag = irqio.Flag()

    async def waits() -> None:
        await flag.wait()

    async def main() -> None:
        kernel.create_task(waits())
        await kernel.sleep(0.001)
        flag.set()
        await kernel.sleep(0.001)

    kernel.run_until_complete(kernel.create_task(main()))
    return kernel


@pytest.mark.parametrize("close", [True, False])
def test_close_lets_refcounting_free_the_kernel_and_its_world(close: bool) -> None:
    import gc
    import weakref

    kernel = _ran_kernel()
    gc.collect()
    gone = weakref.ref(kernel)
    gc.disable()
    try:
        if close:
            kernel.close()
            with pytest.raises(RuntimeError, match="closed"):
                kernel.run_until_complete(None)
        del kernel
        # closed: freed at once; not closed: its cycles wait for the collector
        assert (gone() is None) is close
    finally:
        gc.enable()
        gc.collect()
