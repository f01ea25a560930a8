# Runs under MicroPython: irqio.kernel, its port, and primitives set from a soft-IRQ handler.
import irqio.runtime.ports.kernel  # noqa: F401 - registers the kernel port with the doorbell
import micropython
from irqio import kernel
from irqio.kernel import Kernel, VirtualClock
from irqio.runtime import primitives

# 1. The kernel alone: tasks run in the order of their sleeps, on the virtual clock.
order = []


async def sleeper(i, dt):
    await kernel.sleep(dt)
    order.append(i)


async def sleepers():
    kernel.create_task(sleeper(1, 0.3))
    kernel.create_task(sleeper(2, 0.1))
    await kernel.sleep(0.5)
    return "done"


print("sleepers", Kernel(VirtualClock()).run(sleepers()), order)

# 2. A soft-IRQ handler (micropython.schedule: it runs at a bytecode boundary of whatever the VM
#    is doing) feeds a Queue and sets a Flag while kernel tasks run; every waiter wakes.
flag = primitives.Flag()
queue = primitives.Queue(4)
woke = []
ran = []


def isr(arg):
    ran.append(arg)
    queue.offer(arg)
    flag.set()


async def waiter(i):
    await flag.wait()
    woke.append(i)


async def busy():
    for n in range(2000):
        if n == 500:
            micropython.schedule(isr, 42)
        await kernel.sleep(0)


async def main():
    for i in range(3):
        kernel.create_task(waiter(i))
    kernel.create_task(busy())
    item = await queue.get()
    await kernel.sleep(0.01)
    return item


print("isr", Kernel(VirtualClock()).run(main()), "woke", sorted(woke), "ran", ran)
print("left waiting", flag.waiting)
print("MICROPYTHON-OK")
