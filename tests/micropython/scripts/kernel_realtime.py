# irqio's real-time kernel on MicroPython's unix port: what wakes the idle step (a GIL-less
# _thread, a micropython.schedule callback, with and without a bounded poll), the idle step's
# cost with 1000 tasks parked, and the power modes ("wfe" with machine.idle, "lightsleep" with
# a stand-in for machine.lightsleep, which the unix port has not).
import _thread
import time

import irqio.kernel as asyncio
import micropython


def after_ms(ms, fn):
    def run():
        time.sleep_ms(ms)
        fn()

    _thread.start_new_thread(run, ())


# 1. A thread's set ends the idle step; nothing else is running (MicroPython #5843).
async def thread_wake():
    flag = asyncio.ThreadSafeFlag()
    after_ms(30, flag.set)
    t0 = time.ticks_ms()
    await flag.wait()
    return time.ticks_diff(time.ticks_ms(), t0) >= 20


print("thread-wake", asyncio.run(thread_wake()))


# 2. A callback scheduled just before the kernel goes idle runs in (or before) the idle step;
#    its set ends the sleep at once (the main task is the only task).
async def soft_irq_wake():
    flag = asyncio.ThreadSafeFlag()
    ran = []

    def isr(arg):
        ran.append(arg)
        flag.set()

    micropython.schedule(isr, 7)
    await flag.wait()
    return ran


print("soft-irq-wake", asyncio.run(soft_irq_wake()))


# 3. A callback another thread schedules while the kernel sleeps in poll(): it runs once the
#    poll ends, so a bounded poll (max_ms) lets it run (MicroPython's poll cannot be woken).
async def thread_scheduled():
    flag = asyncio.ThreadSafeFlag()

    def isr(_):
        flag.set()

    after_ms(20, lambda: micropython.schedule(isr, None))
    await flag.wait()
    return True


print("thread-scheduled", asyncio.run(thread_scheduled(), idle=asyncio.PollIdle(max_ms=10)))


# 4. The idle step with 1000 tasks parked on 1000 flags: one wait per sleep, whatever waits.
class CountingIdle(asyncio.PollIdle):
    def __init__(self):
        super().__init__()
        self.waits = 0

    def wait(self, dt, kernel):
        self.waits += 1
        super().wait(dt, kernel)


async def idle_cost(n):
    flags = [asyncio.ThreadSafeFlag() for _ in range(n)]

    async def parked(f):
        await f.wait()

    tasks = [asyncio.create_task(parked(f)) for f in flags]
    await asyncio.sleep_ms(5)  # every task parks
    idle = asyncio.get_event_loop().kernel.clock.idle
    before = idle.waits
    await asyncio.sleep_ms(100)
    waits = idle.waits - before
    for f in flags:
        f.set()
    for t in tasks:
        await t
    return waits


counting = CountingIdle()
waits_1 = asyncio.run(idle_cost(1), idle=counting)
waits_1000 = asyncio.run(idle_cost(1000), idle=counting)
print("idle-waits", waits_1, waits_1000, "flat", waits_1 <= 3 and waits_1000 <= 3)


# 5. idle="wfe": machine.idle() until alerted or due (on the unix port it only yields).
async def wfe():
    flag = asyncio.ThreadSafeFlag()
    after_ms(20, flag.set)
    await flag.wait()
    t0 = time.ticks_ms()
    await asyncio.sleep_ms(15)
    return time.ticks_diff(time.ticks_ms(), t0) >= 15


print("wfe", asyncio.run(wfe(), idle="wfe"))
asyncio.new_event_loop()  # back to a "poll" loop for the rest

# 6. idle="lightsleep": the unix port has no machine.lightsleep, and says so ...
try:
    asyncio.run(wfe(), idle="lightsleep")
    print("lightsleep-missing", "no error")
except ValueError as error:
    print("lightsleep-missing", "machine.lightsleep" in str(error))

# ... so a stand-in that sleeps until the deadline or an "interrupt" (a thread's store) shows
# what the kernel asks of it: the time to the next deadline, at most max_ms, and no sleep
# when an alert is already in.
interrupt = [0]
asked = []


def lightsleep(ms):
    asked.append(ms)
    t0 = time.ticks_ms()
    while not interrupt[0] and time.ticks_diff(time.ticks_ms(), t0) < ms:
        time.sleep_ms(1)
    interrupt[0] = 0


async def light():
    await asyncio.sleep_ms(30)
    deadline_asks = list(asked)
    flag = asyncio.ThreadSafeFlag()

    def irq():
        flag.set()
        interrupt[0] = 1  # the IRQ that set the flag also ends the light sleep

    after_ms(40, irq)
    t0 = time.ticks_ms()
    await flag.wait()
    waited = time.ticks_diff(time.ticks_ms(), t0)
    return deadline_asks, waited < 200, max(asked) <= 50


sleeper = asyncio.LightsleepIdle(lightsleep=lightsleep, max_ms=50)
asks, woke_early, bounded = asyncio.run(light(), idle=sleeper)
print("lightsleep first-ask", 0 < asks[0] <= 30, "woken", woke_early, "bounded", bounded)
print("MICROPYTHON-OK")
