"""The kernel's clocks: virtual (deterministic) and real.

A clock answers `now()` and implements the idle step's sleep: `wait(dt, kernel)` returns when the
kernel has been alerted (`kernel.alerted`) or `dt` seconds have passed (`dt is None`: no
deadline). The alert is sticky, like a CPU's event register under WFE: an alert that lands after
the kernel's last look but before the sleep still ends the sleep, so no wake is lost between
checking and sleeping.
"""

import os
import select
import time

from irqio._compat import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from irqio.kernel.core import Kernel


class Deadlock(Exception):
    """The virtual kernel is idle with no deadline and nothing left that could ring it."""


class VirtualClock:
    """Time that moves only when the kernel sleeps: runs are deterministic and instant.

    `on_idle(dt)` is called whenever the kernel is about to sleep; it stands for the outside
    world (interrupt lines that may fire while the CPU sleeps) and returns True if an interrupt
    fired. As on a CPU in WFI, any interrupt ends the sleep, even one that did not ring the
    kernel (the loop looks at its queue again). The explorer uses it to fire the handlers that
    have not fired yet. If nothing fired and `dt is None`, nothing can ever wake the kernel:
    `wait` raises `Deadlock`.
    """

    def __init__(self, on_idle: "Callable[[float | None], bool] | None" = None) -> None:
        self.t = 0.0
        self.on_idle = on_idle
        self.sleeps = 0  # idle steps that advanced time

    def now(self) -> float:
        return self.t

    def alert(self) -> None:
        pass  # nothing sleeps for real: `wait` reads `kernel.alerted` itself

    def wait(self, dt: float | None, kernel: "Kernel") -> None:
        if kernel.alerted:
            return
        on_idle = self.on_idle
        if on_idle is not None and (on_idle(dt) or kernel.alerted):
            return  # an interrupt arrived while asleep: wake without advancing time
        if dt is None:
            raise Deadlock("every task is waiting and nothing is left that could wake one")
        self.sleeps += 1
        self.t += dt


class RealClock:
    """Wall-clock time; the idle step sleeps in `select()` on a pipe that a ring writes to."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)

    def now(self) -> float:
        return time.monotonic()

    def alert(self) -> None:
        # Interrupt-safe: one write, never blocks. A full pipe already holds an alert.
        try:
            os.write(self._w, b"\0")
        except OSError:
            pass

    def wait(self, dt: float | None, kernel: "Kernel") -> None:
        if kernel.alerted:
            return
        if dt is None or dt > 0:
            # The pipe holds any ring made since the kernel last drained it, so a ring between
            # the check above and this call still ends the sleep at once.
            select.select([self._r], [], [], dt)
        try:
            while os.read(self._r, 512):
                pass
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
