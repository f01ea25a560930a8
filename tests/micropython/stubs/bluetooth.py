# A stand-in for `bluetooth.BLE` on the unix port, for the examples' tests: gap_scan() delivers
# 20 scan results through the registered callback, then _IRQ_SCAN_DONE, from a thread (on a
# board they come from the stack's own context; either way, not the asyncio task's).
import _thread
import time


class BLE:
    def __init__(self):
        self._handler = None

    def active(self, on=None):
        return True

    def irq(self, handler):
        self._handler = handler

    def gap_scan(self, duration_ms, interval_us=0, window_us=0):
        def scan():
            buf = bytearray(6)
            for i in range(20):
                time.sleep_ms(2)
                buf[5] = i
                self._handler(5, (0, memoryview(buf), 0, -40 - i, b""))
            time.sleep_ms(5)
            self._handler(6, ())

        _thread.start_new_thread(scan, ())
