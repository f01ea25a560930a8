# Every interrupt-side call under micropython.heap_lock() (a hard IRQ's heap is locked), from a
# simulated hard IRQ: a scheduled callback that locks the heap, as mp_irq_handler does around a
# hard handler. The calls succeed, allocate nothing, and wake the tasks.
import asyncio

import irqio
import micropython

flag, event, msg = irqio.Flag(), irqio.Event(), irqio.Message()
q = irqio.Queue(4)
slots = irqio.Slots(2)
ran = []
results = []
PAYLOAD = ("preallocated",)  # a hard IRQ passes objects that exist already


def hard_irq(_arg):
    micropython.heap_lock()
    try:
        flag.set()
        event.set()
        msg.set(PAYLOAD)
        ok1 = q.offer(1)
        q.put_nowait(2)  # not full: no exception to allocate
        slots.signal(0)
        errors = 0
    except MemoryError:
        errors = 1
        ok1 = False
    depth = micropython.heap_unlock()
    results.append((ok1, errors, depth))


async def main():
    slots.register(lambda: ran.append("slot0"))
    got = []

    async def waiter(name, aw):
        got.append((name, await aw))

    tasks = [
        asyncio.create_task(waiter("flag", flag.wait())),
        asyncio.create_task(waiter("event", event.wait())),
        asyncio.create_task(waiter("msg", msg.wait())),
        asyncio.create_task(waiter("q1", q.get())),
    ]
    await asyncio.sleep_ms(5)
    micropython.schedule(hard_irq, None)
    for t in tasks:
        await t
    got.append(("q2", await q.get()))
    await asyncio.sleep_ms(5)  # the slot's callback runs in the service
    return got


got = asyncio.run(main())
print("results", results)
print("got", sorted(got))
print("slots", ran)
print("MICROPYTHON-OK")
