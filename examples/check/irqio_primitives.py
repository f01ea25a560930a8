"""irqio's own primitives under the explorer: every one must pass, on both ports.

Each scenario runs on the kernel port and on the asyncio port (a selector loop with asyncio's
pure-Python Task and Future, so asyncio's own bytecodes are preemption points too). The
`*_two_handlers` scenarios have two handlers and are explored with two preemptions: every pair of
points, including the second handler nesting inside the first.

    irqio check examples/check/irqio_primitives.py      # all SAFE, exits 0
"""

from typing import Any

import irqio
from irqio.check import Setup, scenario

BOTH = ("kernel", "asyncio")


async def _gather(s: Setup, *coros: Any) -> None:
    tasks = [s.create_task(c) for c in coros]
    for t in tasks:
        await t


@scenario(ports=BOTH)
def flag_two_waiters(s: Setup) -> None:
    """Every task waiting when set() happens wakes (MicroPython's ThreadSafeFlag keeps one).

    Two handlers set the flag, each noting first how many tasks are parked (that set owes
    each of them a wake). A set with nobody parked is spent by the next task to wait, so
    a later waiter may legitimately wait on: once both handlers have fired and their wakes had
    their turn, task context counts who woke, then sets the flag once more to end the run.
    """
    flag = irqio.Flag()
    woke: list[int] = []
    owed: list[int] = []  # tasks parked at each handler's set
    woke_after_sets: list[int] = []

    async def waiter(i: int) -> None:
        await flag.wait()
        woke.append(i)

    both_fired = irqio.Event()

    def setter() -> None:
        owed.append(flag.waiting)  # a read: how many tasks this set() must wake
        flag.set()
        if len(owed) == 2:
            both_fired.set()

    async def main() -> None:
        tasks = [s.create_task(waiter(0)), s.create_task(waiter(1))]
        await both_fired.wait()  # a handler not placed fires when task context idles
        await s.sleep(0.001)  # the wakes the last set owed run before this sleep ends
        woke_after_sets.append(len(woke))
        flag.set()  # whoever still waits was owed nothing: let it go
        for t in tasks:
            await t

    s.run(main)
    # Two handlers that may nest: one that splits the other's count and set only sets sooner.
    s.handler(setter, "isr")
    s.handler(setter, "release")
    s.at_end(
        lambda: woke_after_sets[0] >= max(owed),
        "every task parked when a handler set the flag woke from that set",
    )


@scenario(ports=BOTH)
def event_two_waiters(s: Setup) -> None:
    """The latched broadcast: both waiters wake and the event stays set."""
    event = irqio.Event()
    woke: list[int] = []

    async def waiter(i: int) -> None:
        await event.wait()
        woke.append(i)

    async def main() -> None:
        await _gather(s, waiter(0), waiter(1))

    s.run(main)
    s.handler(event.set, "isr")
    s.at_end(lambda: sorted(woke) == [0, 1], "both waiters woke")
    s.at_end(event.is_set, "the event is still set")


@scenario(ports=BOTH)
def message_latest_value(s: Setup) -> None:
    """The waiter gets the value the handler set."""
    msg: irqio.Message[int] = irqio.Message()
    got: list[int] = []

    async def main() -> None:
        got.append(await msg.wait())

    s.run(main)
    s.handler(lambda: msg.set(7), "isr")
    s.at_end(lambda: got == [7], "the waiter received 7")


@scenario(ports=BOTH)
def queue_items_arrive(s: Setup) -> None:
    """Items offered from a handler reach the consumer in order; nothing is lost."""
    q: irqio.Queue[int] = irqio.Queue(4)
    got: list[int] = []

    def isr() -> None:
        q.offer(1)
        q.offer(2)

    async def main() -> None:
        got.append(await q.get())
        got.append(await q.get())

    s.run(main)
    s.handler(isr, "isr")
    s.at_end(lambda: got == [1, 2], "the consumer got 1 then 2")
    s.at_end(lambda: q.overruns == 0, "no overrun")


@scenario(ports=BOTH, preemptions=2, modules=["irqio.runtime.primitives", "irqio.runtime.doorbell"])
def queue_foreign_producer(s: Setup) -> None:
    """A producer on another core (a foreign thread, not a nested handler): it and task context
    interleave both ways, each switch one preemption. Two switches here; with three (thread
    in, task back, thread resumes) the kernel port ran 980,137 schedules, all SAFE, in 4.5 min;
    the suite runs 2000 random walks at three switches on each port instead.
    """
    q: irqio.Queue[int] = irqio.Queue(2)
    got: list[int] = []

    def core1() -> None:
        q.put_nowait(1)
        q.put_nowait(2)

    async def main() -> None:
        got.append(await q.get())
        got.append(await q.get())

    s.run(main)
    s.thread(core1, "core1")
    s.at_end(lambda: got == [1, 2], "the consumer got 1 then 2")
    s.at_end(lambda: q.overruns == 0, "no overrun")


# -- a setter on another core: a foreign thread, not a nested handler. It and task context
# interleave both ways (each switch one preemption), so a setter can stop between any two of
# its steps while a task waits, binds, parks or is serviced. Two switches each.


@scenario(ports=BOTH, preemptions=2, modules=["irqio.runtime.primitives"])
def flag_foreign_setter(s: Setup) -> None:
    """A task waiting while another core sets the flag wakes, and takes the set."""
    flag = irqio.Flag()
    woke: list[int] = []

    async def main() -> None:
        await flag.wait()
        woke.append(1)

    s.run(main)
    s.thread(flag.set, "core1")
    s.at_end(lambda: woke == [1] and not flag.is_set(), "the waiter woke and took the set")


@scenario(ports=BOTH, preemptions=2, modules=["irqio.runtime.primitives"])
def event_foreign_setter(s: Setup) -> None:
    """A task waiting while another core sets the event wakes; the event stays set."""
    event = irqio.Event()
    woke: list[int] = []

    async def main() -> None:
        await event.wait()
        woke.append(1)

    s.run(main)
    s.thread(event.set, "core1")
    s.at_end(lambda: woke == [1] and event.is_set(), "the waiter woke; the event is set")


@scenario(ports=BOTH, preemptions=2, modules=["irqio.runtime.primitives"])
def message_foreign_setter(s: Setup) -> None:
    """A task waiting while another core sets the message gets the value (irqio 0.1 lost this
    wake: set() stored the waiters' token before `_value = True`, and a task that read the new
    token and the old state parked as if it came after the set)."""
    msg: irqio.Message[int] = irqio.Message()
    got: list[int] = []

    async def main() -> None:
        got.append(await msg.wait())

    s.run(main)
    s.thread(lambda: msg.set(7), "core1")
    s.at_end(lambda: got == [7], "the waiter received 7")
    s.at_end(lambda: msg.overwrites == 0, "nothing counted as overwritten")


@scenario(ports=BOTH, preemptions=2, modules=["irqio.runtime.primitives"])
def slots_foreign_signal(s: Setup) -> None:
    """A slot signalled from another core runs its callback in task context."""
    _slots_world(s, 0, thread=True)


def _slots_world(s: Setup, handlers: int, thread: bool = False) -> None:
    slots = irqio.Slots(2)
    ran: list[int] = []
    done = irqio.Event()
    box: list[int] = []  # the slot, once registered
    early: list[int] = []  # handlers that fired before there was a slot

    def callback() -> None:
        ran.append(1)
        done.set()

    def isr() -> None:
        if box:
            slots.signal(box[0])
        else:
            early.append(1)

    async def main() -> None:
        box.append(slots.register(callback))
        if early:  # the line fired before registration: signal what it could not
            slots.signal(box[0])
        await done.wait()

    s.run(main)
    for i in range(handlers):
        s.handler(isr, f"isr{i + 1}" if handlers > 1 else "isr")
    if thread:
        s.thread(isr, "core1")
    s.at_end(lambda: len(ran) >= 1, "the callback ran after its signal")


@scenario(ports=BOTH)
def slots_callback_runs(s: Setup) -> None:
    """A signalled slot's callback runs in task context after the signal."""
    _slots_world(s, 1)


# -- two handlers, two preemptions: every pair of points. Small worlds: the points are in
# irqio's primitives and doorbell only (the scheduler's own code is covered above).

SMALL = ["irqio.runtime.primitives", "irqio.runtime.doorbell"]


@scenario(ports=BOTH, preemptions=2, modules=SMALL)
def flag_two_handlers(s: Setup) -> None:
    flag = irqio.Flag()
    woke: list[int] = []

    async def main() -> None:
        await flag.wait()
        woke.append(1)

    s.run(main)
    s.handler(flag.set, "isr1")
    s.handler(flag.set, "isr2")
    s.at_end(lambda: woke == [1], "the waiter woke")


@scenario(ports=BOTH, preemptions=2, modules=SMALL)
def event_two_handlers(s: Setup) -> None:
    event = irqio.Event()
    woke: list[int] = []

    async def main() -> None:
        await event.wait()
        woke.append(1)

    s.run(main)
    s.handler(event.set, "isr1")
    s.handler(event.set, "isr2")
    s.at_end(lambda: woke == [1] and event.is_set(), "the waiter woke; the event is set")


@scenario(ports=BOTH, preemptions=2, modules=SMALL)
def message_two_handlers(s: Setup) -> None:
    msg: irqio.Message[int] = irqio.Message()
    got: list[int] = []

    async def main() -> None:
        got.append(await msg.wait())

    s.run(main)
    s.handler(lambda: msg.set(1), "isr1")
    s.handler(lambda: msg.set(2), "isr2")
    s.at_end(lambda: len(got) == 1 and got[0] in (1, 2), "the waiter got one of the values")


@scenario(ports=BOTH, preemptions=2, modules=SMALL)
def queue_two_handlers(s: Setup) -> None:
    q: irqio.Queue[int] = irqio.Queue(4)
    got: list[int] = []

    async def main() -> None:
        got.append(await q.get())
        got.append(await q.get())

    s.run(main)
    s.handler(lambda: q.offer(1), "isr1")
    s.handler(lambda: q.offer(2), "isr2")
    s.at_end(lambda: sorted(got) == [1, 2], "both items arrived")


@scenario(ports=BOTH, preemptions=2, modules=SMALL)
def slots_two_handlers(s: Setup) -> None:
    _slots_world(s, 2)


# -- MicroPython's ring, explored on CPython: `_Cell` is plain Python, one per producer context
# there (irqio.runtime.contexts). Its producer on another core against the consumer's take and
# pop, at every step of both.


@scenario(ports=("kernel",), preemptions=3, modules=["@scenario", "irqio.runtime.rings"])
def micropython_ring_foreign_producer(s: Setup) -> None:
    """A thread puts 1, 2, 3, 4 into a ring of 2 places while a task takes a batch, then one
    item: every item put arrives once and in order, every refusal is counted, and no place but
    the free one keeps an item once all are taken."""
    from irqio.runtime.rings import _Cell

    micropython_ring_world(s, _Cell(2))


def micropython_ring_world(s: Setup, cell: Any) -> None:
    """The world of `micropython_ring_foreign_producer`, around any ring with `_Cell`'s methods
    (tests/check/test_micropython_ring.py gives it broken ones)."""
    from irqio.runtime.rings import EMPTY

    got: list[int] = []
    refused: list[int] = []

    def core1() -> None:
        for item in (1, 2, 3, 4):
            if not cell.put(item):
                refused.append(item)

    async def main() -> None:
        got.extend(cell.take(2))
        item = cell.pop()
        if item is not EMPTY:
            got.append(item)

    def conserved() -> bool:
        taken = got + cell.take(10)
        kept = [v for i, v in enumerate(cell.buf) if i != cell.tail]
        return (
            taken == [x for x in (1, 2, 3, 4) if x not in refused]
            and cell.refused == len(refused)
            and kept == [None, None]
        )

    s.run(main)
    s.thread(core1, "core1")
    s.at_end(conserved, "every item put arrives once, in order; refusals counted; none kept")
