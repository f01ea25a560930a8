# Runs under MicroPython: irqio's core primitives and doorbell, with a minimal port.
import sys

from irqio.runtime import doorbell, primitives

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


class Bell(doorbell.Doorbell):
    rings = 0

    def _alert(self):
        Bell.rings += 1

    def new_waiter(self):
        return Waiter()


bell = Bell()
flag = primitives.Flag()
flag._doorbell = bell
waiters = [flag._park(bell, flag._token) for _ in range(3)]
flag.set()
flag.set()
print("rings", Bell.rings, "pending", len(bell.pending))
bell.service()
print("woken", [w.done for w in waiters], "set", flag.is_set())

q = primitives.Queue(2)
print("queue", q.offer(1), q.offer(2), q.offer(3), q.overruns, q.get_nowait(), len(q))
m = primitives.Message()
m.set(1)
m.set(2)
print("message", m.overwrites, m.value())
slots = primitives.Slots(2)
slots._doorbell = bell
calls = []
s = slots._callbacks.index(None)
slots._callbacks[s] = lambda: calls.append(s)
slots.signal(s)
bell.service()
print("slots", calls)
print("MICROPYTHON-OK")
