"""MicroPython #5795: the naive `Event.set()` called from a handler loses waiting tasks.

`irqio.kernel.naive_event.NaiveEvent` behaves like MicroPython's `asyncio.Event`: `set()` pops every
waiting task and pushes it onto the scheduler's task queue. Two tasks wait on the event while a
third sleeps in a loop, so task context keeps pushing and popping the task queue. A handler
calls `set()` once. If it lands while task context is half-way through relinking the heap, a
woken task falls out of it and never runs.

    irqio check examples/check/naive_event_5795.py     # finds both, exits 1
"""

from collections.abc import Callable

from irqio.check import Setup, scenario
from irqio.kernel import Kernel, Task
from irqio.kernel.naive_event import NaiveEvent as Event


def _world(s: Setup) -> tuple[Kernel, Event, list[Task], Callable[[], bool]]:
    k = s.kernel()
    event = Event(k)
    woke: list[int] = []

    async def waiter(i: int) -> None:
        await event.wait()
        woke.append(i)

    async def ticker() -> None:
        for _ in range(3):
            await k.sleep_ms(1)

    tasks = [k.create_task(waiter(0)), k.create_task(waiter(1)), k.create_task(ticker())]
    s.handler(event.set, "isr")
    s.at_end(lambda: sorted(woke) == [0, 1], "every task waiting on the event woke")
    return k, event, tasks, lambda: len(event.waiting) == 2


@scenario
def naive_event_set_during_task_queue_update(s: Setup) -> None:
    """#5795 as reported: both tasks already wait; the handler's set() lands while task
    context relinks the kernel's task queue."""
    k, _event, tasks, both_parked = _world(s)

    async def settle() -> None:
        await k.sleep(0)

    k.run(settle())  # while the scenario is built: untraced, no handler can fire yet
    assert both_parked()

    async def main() -> None:
        for t in tasks:
            await t

    s.task(lambda: k.run(main()))


@scenario
def naive_event_set_while_a_task_starts_waiting(s: Setup) -> None:
    """The same Event, another face: `wait()` reads the state, the handler sets it and finds
    nobody waiting yet, then the task parks for good (check-then-act)."""
    k, _event, tasks, _ = _world(s)

    async def main() -> None:
        for t in tasks:
            await t

    s.task(lambda: k.run(main()))
