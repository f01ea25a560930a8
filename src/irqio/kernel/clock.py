"""The kernel's clocks: virtual (deterministic) and real.

A clock answers `ticks()` (see `irqio.kernel.ticks`) and `now()` (seconds), and implements the
idle step: `wait(dt, kernel)` returns when the kernel has been alerted (`kernel.alerted`) or
`dt` ticks have passed (`dt is None`: no deadline). The alert is sticky, like a CPU's event
register under WFE: an alert that lands after the kernel's last look but before the sleep still
ends the sleep, so no wake is lost between checking and sleeping.
"""

from irqio._compat import TYPE_CHECKING
from irqio.kernel.idle import make_idle
from irqio.kernel.io import IOQueue
from irqio.kernel.ticks import PER_SECOND, ticks, ticks_add, to_seconds
from irqio.runtime.alert_channel import AlertChannel

if TYPE_CHECKING:
    from collections.abc import Callable

    from irqio.kernel.core import Kernel
    from irqio.kernel.idle import Idle


class Deadlock(Exception):
    """The virtual kernel is idle with no deadline and nothing left that could wake it."""


class VirtualClock:
    """Time that moves only when the kernel sleeps: runs are deterministic and instant.

    `on_idle(dt)` is called whenever the kernel is about to sleep (`dt` in seconds, None: no
    deadline); it stands for the outside world (interrupt lines that may fire while the CPU
    sleeps) and returns True if an interrupt fired. As on a CPU in WFI, any interrupt ends the
    sleep, even one that did not alert the kernel (the loop looks at its queue again). The
    explorer uses it to fire the handlers that have not fired yet. If nothing fired and
    `dt is None`, nothing can ever wake the kernel: `wait` raises `Deadlock`.
    """

    io: "IOQueue | None" = None  # no streams on virtual time

    def __init__(self, on_idle: "Callable[[float | None], bool] | None" = None) -> None:
        self._ticks = 0
        self._elapsed = 0  # ticks since the start (never wraps, unlike _ticks on MicroPython)
        self.on_idle = on_idle
        self.sleeps = 0  # idle steps that advanced time

    def ticks(self) -> int:
        return self._ticks

    def now(self) -> float:
        """Seconds of virtual time since the clock was made."""
        return self._elapsed / PER_SECOND

    def alert(self) -> None:
        pass  # nothing sleeps for real: `wait` reads `kernel.alerted` itself

    def wait(self, dt: int | None, kernel: "Kernel") -> None:
        if kernel.alerted:
            return
        on_idle = self.on_idle
        if on_idle is not None:
            fired = on_idle(None if dt is None else to_seconds(dt))
            if fired or kernel.alerted:
                return  # an interrupt arrived while asleep: wake without advancing time
        if dt is None:
            raise Deadlock("every task is waiting and nothing is left that could wake one")
        self.sleeps += 1
        self._ticks = ticks_add(self._ticks, dt)
        self._elapsed += dt


class RealClock:
    """Wall-clock time; the idle step is one wait for the next deadline or any alert.

    `idle` chooses how the CPU waits (see `irqio.kernel.idle`): "poll" (`select.poll` on the
    alert channel and on the streams tasks wait for: the unix port, CPython, any port), "wfe"
    (`machine.idle()` until alerted or due), "lightsleep" (`machine.lightsleep(dt)`), or an
    `Idle` object. While a task waits on a stream the idle step polls whatever the mode.
    """

    #: The kernel's time source (a C function: ticks_ms on MicroPython, monotonic_ns).
    ticks: "Callable[[], int]"
    #: Interrupt side: make the idle step end (one write or store; see AlertChannel).
    alert: "Callable[[], None]"

    def __init__(self, idle: "str | Idle" = "poll") -> None:
        self.channel = AlertChannel()
        self.io = IOQueue(self.channel)
        self.alert = self.channel.alert
        self.ticks = ticks
        self.idle = make_idle(idle)
        self.idle.attach(self.io, self.channel)

    def now(self) -> float:
        return to_seconds(ticks())

    def wait(self, dt: int | None, kernel: "Kernel") -> None:
        if kernel.alerted:
            return
        # An alert from here on is in the channel (poll) or ends the CPU's wait (WFE): the
        # sleep below returns at once, so nothing is lost between this look and the sleep.
        self.idle.wait(dt, kernel)
