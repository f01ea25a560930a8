# A stand-in for a board's `machine.Pin` on the unix port, for the examples' tests: `irq()`
# stores the handler, then a timer thread delivers 50 edges, 1 ms apart, the way a hard IRQ on
# the other core does: the handler runs there at once, with that thread's heap locked. (A
# micropython.schedule from a thread would wait: the unix port's poll() does not end for it.)
import _thread
import time

import micropython


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    IRQ_FALLING = 2
    IRQ_RISING = 1

    def __init__(self, pin_id, mode=IN, pull=None):
        self.id = pin_id
        self._handler = None
        self._hard = False

    def value(self):
        return 0

    def irq(self, handler=None, trigger=IRQ_FALLING, hard=False):
        self._handler = handler
        self._hard = hard
        _thread.start_new_thread(self._edges, ())

    def _edges(self):
        for _ in range(50):
            time.sleep_ms(1)
            if self._hard:
                micropython.heap_lock()
            try:
                self._handler(self)
            finally:
                if self._hard:
                    micropython.heap_unlock()
