# Runs under MicroPython (unix and WebAssembly): irqio's primitives and doorbell through the real
# `import irqio`, with a minimal port, and the interrupt side under a locked heap.
import sys

import irqio
import micropython
from irqio.runtime.doorbell import Doorbell

print("impl", sys.implementation.name)


class Waiter:
    def __init__(self):
        self.done = False
        self.on_cancel = None
        self.value = None

    def wake(self, value):
        if not self.done:
            self.done = True
            self.value = value


class Bell(Doorbell):
    alerts = 0

    def _alert(self):
        Bell.alerts += 1

    def new_waiter(self):
        return Waiter()


bell = Bell()
flag = irqio.Flag()
flag._doorbell = bell
waiters = [flag._park(bell, None) for _ in range(3)]
micropython.heap_lock()  # the interrupt side allocates nothing (a hard IRQ's heap is locked)
flag.set()
flag.set()
micropython.heap_unlock()
print("alerts", Bell.alerts, "pending", len(bell.pending))
bell.service()
print("woken", [w.done for w in waiters], "set", flag.is_set())

q = irqio.Queue(2)
results = [None, None, None]  # preallocated: the test itself must not allocate either
micropython.heap_lock()
results[0] = q.offer(1)
results[1] = q.offer(2)
results[2] = q.offer(3)
micropython.heap_unlock()
print("queue", results, q.overruns, q.get_nowait(), len(q))
m = irqio.Message()
micropython.heap_lock()
m.set(1)
m.set(2)
micropython.heap_unlock()
print("message", m.overwrites, m.value())
slots = irqio.Slots(2)
slots._doorbell = bell
calls = []
slot = slots._callbacks.index(None)
slots._callbacks[slot] = lambda: calls.append(slot)
micropython.heap_lock()
slots.signal(slot)
micropython.heap_unlock()
bell.service()
print("slots", calls)
print("MICROPYTHON-OK")
