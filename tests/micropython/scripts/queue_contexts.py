# Every kind of producer into one Queue(1024) at once, on the unix port (no GIL): a _thread through
# Queue.offer, a _thread through its Producer handle, a task through its Producer handle, soft
# IRQs (micropython.schedule callbacks, run on the main thread between the task's bytecodes, so
# inside its offers) and simulated hard IRQs (scheduled callbacks that lock the heap). Every
# accepted item arrives once, in order per producer; attempts = accepted + overruns.
import _thread
import asyncio
import sys

import irqio
import micropython

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
SOFT, HARD = 2, 3  # tags of the callback producers; 0, 1: threads; 4: the task
# An item is tag << 20 | sequence number: a small int, which a hard IRQ can make without the heap.


async def run_once():
    q = irqio.Queue(1024)
    accepted = [0] * 5
    attempts = [0] * 5
    done = [False, False]
    cb_next = [0, 0]  # the next item of the soft and the hard callback

    def soft_irq(_):
        i = cb_next[0]
        cb_next[0] = i + 1
        attempts[SOFT] += 1
        if q.offer(SOFT << 20 | i):
            accepted[SOFT] += 1

    def hard_irq(_):
        micropython.heap_lock()
        i = cb_next[1]
        if i < N:
            cb_next[1] = i + 1
            attempts[HARD] += 1
            if q.offer(HARD << 20 | i):
                accepted[HARD] += 1
        micropython.heap_unlock()

    def thread(tag):
        offer = q.offer if tag == 0 else q.producer().offer
        tries = 0
        for i in range(N):
            tries += 1
            while not offer(tag << 20 | i):
                tries += 1
            if tag == 1 and i % 2 == 0:  # ask the main thread for soft and hard IRQs
                try:
                    micropython.schedule(soft_irq if i % 4 else hard_irq, None)
                except RuntimeError:  # the schedule queue is full: no IRQ this time
                    pass
        attempts[tag] = tries
        accepted[tag] = N
        done[tag] = True

    async def task_producer():
        offer = q.producer().offer
        for i in range(N):
            attempts[4] += 1
            while not offer(4 << 20 | i):
                attempts[4] += 1
                await asyncio.sleep_ms(0)
            accepted[4] += 1
            if i % 128 == 0:
                await asyncio.sleep_ms(0)

    _thread.start_new_thread(thread, (0,))
    _thread.start_new_thread(thread, (1,))
    producing = asyncio.create_task(task_producer())
    last = [-1] * 5
    got = [0] * 5
    in_order = True
    while not (done[0] and done[1] and producing.done()) or len(q):
        if not len(q):
            await asyncio.sleep_ms(1)  # the producers may all have finished
            continue
        for item in await q.get_batch(4096):
            tag, i = item >> 20, item & 0xFFFFF
            if i <= last[tag] or (tag in (0, 1, 4) and i != last[tag] + 1):
                in_order = False
            last[tag] = i
            got[tag] += 1
    await asyncio.sleep_ms(20)  # callbacks still in the schedule queue run now
    for item in await q.get_batch(1000) if len(q) else ():
        got[item >> 20] += 1
    conserved = got == accepted and sum(attempts) == sum(accepted) + q.overruns and not len(q)
    print("run in-order", in_order, "conserved", conserved, "callbacks", cb_next, got, accepted)


for _ in range(RUNS):
    asyncio.run(run_once())
print("MICROPYTHON-OK")
