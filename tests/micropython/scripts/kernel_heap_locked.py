# The real-time kernel's hot path with MicroPython's heap locked: task switches (sleep_ms(0)),
# real sleeps (the idle step polls the alert channel with a timeout), and a thread -> task wake
# (another thread's alert ends the idle step, the kernel's service puts the sleeping task back
# on the queue, as a primitive's service does). Any allocation raises MemoryError. Then the
# same switches with the heap unlocked and the collector off: the bytes allocated per switch.
import _thread
import gc
import sys
import time

import irqio.kernel as asyncio
import micropython

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 500


async def spinner(stop):
    while not stop[0]:
        await asyncio.sleep_ms(0)


async def sleeper(stop, ms):
    while not stop[0]:
        await asyncio.sleep_ms(ms)


def alerter(kernel, rounds, n):
    for i in range(1, n + 1):
        while rounds[0] < i:  # round i: the task parks, then we alert
            time.sleep_ms(1)
        time.sleep_ms(2)
        kernel.alert()  # interrupt side: what a primitive's ring does to end the idle step


async def locked_rounds(kernel, rounds, waiting, wake_rounds, wakes):
    # Nothing here may allocate: locals only, the kernel's one sleep awaitable.
    switches = 0
    sleeps = 0
    woken_early = 0
    error = 0
    micropython.heap_lock()
    try:
        for _ in range(rounds):
            await asyncio.sleep_ms(0)
            switches += 1
        for _ in range(20):
            await asyncio.sleep_ms(3)
            sleeps += 1
        for _ in range(wakes):
            t0 = time.ticks_ms()
            waiting[0] = kernel.cur_task
            wake_rounds[0] += 1
            await asyncio.sleep_ms(5000)  # ended by the thread's alert, not the deadline
            if time.ticks_diff(time.ticks_ms(), t0) < 4000:
                woken_early += 1
    except MemoryError:
        error = 1
    depth = micropython.heap_unlock()
    return switches, sleeps, woken_early, error, depth


async def main():
    kernel = asyncio.get_event_loop().kernel
    stop = [False]
    tasks = [asyncio.create_task(spinner(stop))]
    tasks.append(asyncio.create_task(sleeper(stop, 2)))
    tasks.append(asyncio.create_task(sleeper(stop, 7)))
    for _ in range(50):  # every path once before the lock (first-time growth of dicts, ...)
        await asyncio.sleep_ms(0)
    await asyncio.sleep_ms(10)
    waiting = [None]
    queue = kernel.queue

    def service():  # task context, after an alert: wake the parked task (allocates nothing)
        task = waiting[0]
        if task is not None and task.parked_in is queue and queue.remove(task):
            waiting[0] = None
            kernel.ready(task)

    kernel.services.append(service)
    wakes = 20
    wake_rounds = [0]
    _thread.start_new_thread(alerter, (kernel, wake_rounds, wakes))
    coro = locked_rounds(kernel, ROUNDS, waiting, wake_rounds, wakes)  # made before the lock
    gc.collect()
    switches, sleeps, early, error, depth = await coro
    print("locked switches", switches, "sleeps", sleeps, "thread-wakes", early)
    print("memory-error", error, "depth", depth)
    kernel.services.remove(service)

    # Unlocked, collector off: what the same switches allocate (the mem_alloc calls aside).
    gc.collect()
    gc.disable()
    n = 1000
    before = gc.mem_alloc()
    for _ in range(n):
        await asyncio.sleep_ms(0)
    after = gc.mem_alloc()
    gc.enable()
    print("bytes per switch", (after - before) // n)
    stop[0] = True
    for t in tasks:
        await t
    return "done"


print("main", asyncio.run(main()))
print("MICROPYTHON-OK")
