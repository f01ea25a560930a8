# The interrupt side allocates nothing, not even its call frames, on the unix port. A function
# whose locals and stack pass 11 words gets its frame from the heap on every call (py/objfun.c,
# VM_MAX_STATE_ON_STACK): under heap_lock() that silently falls back to the C stack, so only the
# allocation counter (micropython.mem_total, every byte ever allocated) shows it. Measured from
# task context, from a soft IRQ and from another _thread, with the primitives bound to the loop
# (their set() rings the doorbell), and the consumer's per-item get_nowait().
import _thread
import asyncio
import time

import irqio
import micropython

mem_total = micropython.mem_total
REPEAT = 20


def per_call(call, arg):
    call(arg)  # a thread's first item makes its ring: not measured
    before = mem_total()
    for _ in range(REPEAT):
        call(arg)
    return (mem_total() - before) // REPEAT


def calls(prims):
    flag, event, msg, q, slots, producer = prims
    return [
        ("Flag.set", lambda _: flag.set()),
        ("Event.set", lambda _: event.set()),
        ("Message.set", msg.set),
        ("Queue.offer", q.offer),
        ("Queue.put_nowait", q.put_nowait),
        ("Slots.signal", slots.signal),
        ("Producer.offer", producer.offer if producer is not None else q.offer),
    ]


def measure(where, prims, out):
    for name, call in calls(prims):
        out.append((where, name, per_call(call, 0)))


async def main():
    flag, event, msg = irqio.Flag(), irqio.Event(), irqio.Message()
    q = irqio.Queue(1000)
    slots = irqio.Slots(2)
    slots.register(lambda: None)
    # Bind every primitive to this loop: a task waits on each and is woken once.
    waits = [flag.wait(), event.wait(), msg.wait(), q.get()]
    tasks = [asyncio.create_task(w) for w in waits]
    await asyncio.sleep_ms(5)
    flag.set()
    event.set()
    msg.set(1)
    q.offer(1)
    for t in tasks:
        await t
    results = []
    lambdas_cost = per_call(lambda _: None, 0)  # the harness's own cost: 0 expected too
    measure("task", (flag, event, msg, q, slots, q.producer()), results)

    soft = []
    micropython.schedule(lambda _: measure("soft-irq", (flag, event, msg, q, slots, None), soft), 0)
    await asyncio.sleep_ms(20)
    results += soft

    done = []

    def thread():
        measure("thread", (flag, event, msg, q, slots, q.producer()), done)
        done.append(None)

    _thread.start_new_thread(thread, ())
    while not done or done[-1] is not None:
        time.sleep_ms(5)  # the loop stands still: nothing else allocates meanwhile
    results += done[:-1]

    taken = [q.get_nowait() for _ in range(3)]  # warm
    before = mem_total()
    for _ in range(REPEAT):
        q.get_nowait()
    results.append(("task", "Queue.get_nowait", (mem_total() - before) // REPEAT))
    print("harness", lambdas_cost, "taken", len(taken))
    for where, name, nbytes in results:
        print("bytes", where, name, nbytes)


asyncio.run(main())
print("MICROPYTHON-OK")
