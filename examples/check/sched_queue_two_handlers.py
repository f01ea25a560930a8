"""Two handlers schedule callbacks into one queue: safe only as the controller orders them.

MicroPython's `mp_sched_schedule` (py/scheduler.c,
https://github.com/micropython/micropython/blob/master/py/scheduler.c) appends a callback to a
ring from interrupt context between `MICROPY_BEGIN_ATOMIC_SECTION()` and its end. Without that
section, a second interrupt that nests inside the first, between reading the length and storing
the new one, takes the same slot: one callback is lost. Whether it can nest is the controller's
business: a higher priority preempts, an equal one waits (tail-chains), a critical section masks.

Here the handlers are lines of an `irqio.Controller` (`s.handler(..., priority=...)`): the
explorer pends them at every pair of points, and the controller's own rules decide what runs.

    irqio check examples/check/sched_queue_two_handlers.py    # 1 broken, 2 safe: exits 1
"""

from irqio.check import Setup, scenario


class SchedQueue:
    """The ring of mp_sched_schedule, without the atomic section (a list and a length)."""

    def __init__(self, size: int) -> None:
        self.items: list[str | None] = [None] * size
        self.len = 0

    def schedule(self, callback: str) -> None:  # interrupt context
        i = self.len
        self.items[i] = callback
        self.len = i + 1


def _world(s: Setup, low: int, high: int, critical: bool = False) -> None:
    q = SchedQueue(4)
    ctl = s.controller()
    work = {"turns": 0}

    def schedule(callback: str) -> None:
        if critical:
            with ctl.critical():  # MICROPY_BEGIN_ATOMIC_SECTION()
                q.schedule(callback)
        else:
            q.schedule(callback)

    def task() -> None:  # task context: the VM running bytecode between interrupts
        for _ in range(3):
            work["turns"] += 1

    s.task(task)
    s.handler(lambda: schedule("uart"), "uart_isr", priority=low)
    s.handler(lambda: schedule("timer"), "timer_isr", priority=high)
    s.at_end(
        lambda: sorted(c for c in q.items[: q.len] if c) == ["timer", "uart"],
        "both callbacks are in the queue",
    )


@scenario(preemptions=2, modules=["@scenario"])
def without_atomic_section(s: Setup) -> None:
    """The timer interrupt (priority 2) nests inside the UART's (priority 1): a lost callback."""
    _world(s, low=1, high=2)


@scenario(preemptions=2, modules=["@scenario"])
def same_priority(s: Setup) -> None:
    """Equal priorities never preempt each other: the second waits and tail-chains."""
    _world(s, low=2, high=2)


@scenario(preemptions=2, modules=["@scenario"])
def with_atomic_section(s: Setup) -> None:
    """`controller.critical()` masks every line while the ring is updated: SAFE."""
    _world(s, low=1, high=2, critical=True)
