# A button on a GPIO: a hard IRQ timestamps each edge into an irqio.Queue; a task drains it.
# Copy to the board beside irqio (see docs/micropython.md) and run it.
import asyncio
import time

from machine import Pin

import irqio

edges = irqio.Queue(64)  # 64 places for the IRQ's own context: a busy thread cannot take them


def on_edge(pin):
    # Hard IRQ: the heap is locked. offer() allocates nothing; ticks_us() is a small int. A
    # full queue is refused and counted in edges.overruns, never a silent drop.
    edges.offer(time.ticks_us())


async def main(count=10):
    button = Pin(2, Pin.IN, Pin.PULL_UP)
    button.irq(on_edge, Pin.IRQ_FALLING, hard=True)
    last = None
    for _ in range(count):  # a real program would loop forever: `async for t in edges:`
        t = await edges.get()
        if last is not None:
            print("edge, %d us after the last" % time.ticks_diff(t, last))
        last = t
    print("edges", count, "overruns", edges.overruns)


asyncio.run(main())
