"""How a real-time kernel's CPU waits: the idle step's power modes.

`run(main, idle=...)` chooses one; each waits for "the next deadline or any event" once per
idle step, and none looks at a primitive or a waiting task (its cost does not grow with them).

* **"poll"** (the default): `select.poll` on the alert channel (`irqio.runtime.alert_channel`)
  and on the streams tasks wait for, with the deadline as timeout. On the unix port and
  CPython the process sleeps in `poll()`; an alert from a thread, a signal handler or a
  `micropython.schedule` callback writes the channel and ends it. MicroPython's `poll` runs
  pending scheduled callbacks when it starts (and after a signal interrupts it), so callbacks
  scheduled before the kernel went idle run inside the idle step, and their alerts end it at
  once. A callback another thread schedules while the process sleeps in `poll()` waits for
  the sleep to end (nothing wakes `poll()` for it): set a primitive from that thread instead
  (its alert ends the sleep), or bound each sleep with `PollIdle(max_ms=...)`. On bare metal
  MicroPython's poller waits with WFE between looks at the channel (a store from the IRQ):
  the interrupt ends that wait, and its scheduled callbacks run before the next look.
* **"wfe"**: `machine.idle()` (WFI/WFE: the clock to the CPU is gated, peripherals run, any
  interrupt resumes it) in a loop until the kernel is alerted or the deadline comes. Between
  two `machine.idle()` calls the VM runs pending scheduled callbacks. An interrupt that lands
  between the kernel's last look and `machine.idle()` is seen at the next wake: at once where
  the port waits with WFE (its event register remembers the interrupt, rp2), within the next
  SysTick (1 ms) where it uses WFI. Lowest latency of the three on bare metal; on the unix port
  `machine.idle()` only yields the thread, so this mode spins there (tests only).
* **"lightsleep"**: `machine.lightsleep(dt)` (clocks and PLLs off, RAM kept): the lowest power
  between events. It needs the interrupts the program waits on to be wake sources of the port's
  light sleep (rp2: any enabled IRQ ends it; others: see the port's `machine` docs). An
  interrupt that lands in the few bytecodes between the kernel's last look and the call is
  seen when the sleep ends, at the deadline or after `max_ms` (the longest single sleep,
  1000 ms by default; with no deadline the kernel sleeps in steps of it): use "wfe" where that
  bound is too long. Not on the unix port or CPython (there is no `machine.lightsleep`).

While a task waits on a stream, "wfe" and "lightsleep" poll instead (the poller is what sees
the socket). Every mode drains the alert channel when an alert ended its wait.
"""

from irqio._compat import TYPE_CHECKING
from irqio.kernel.ticks import PER_MS, ticks, ticks_add, ticks_diff

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from irqio.kernel.core import Kernel
    from irqio.kernel.io import IOQueue
    from irqio.runtime.alert_channel import AlertChannel

MODES = ("poll", "wfe", "lightsleep")


class Idle:
    """A power mode: `wait(dt, kernel)` returns once `kernel.alerted` is set or `dt` ticks
    (None: no deadline) have passed, and may return early (the loop looks again)."""

    name = "idle"

    def __init__(self) -> None:
        self.io: Any = None
        self.channel: Any = None

    def attach(self, io: "IOQueue", channel: "AlertChannel") -> None:
        self.io = io
        self.channel = channel

    def wait(self, dt: int | None, kernel: "Kernel") -> None:
        raise NotImplementedError


class PollIdle(Idle):
    """`select.poll` on the alert channel and the waited-on streams (see the module).

    `max_ms`: the longest single `poll()` (None: up to the deadline, or for ever). Bounding it
    lets MicroPython run callbacks another thread schedules while the kernel sleeps (nothing
    can wake a `poll()` for them on the unix port) at least that often, as MicroPython's own
    `select.poll` does every millisecond for objects without a file descriptor."""

    name = "poll"

    def __init__(self, max_ms: int | None = None) -> None:
        super().__init__()
        if max_ms is not None and (not isinstance(max_ms, int) or max_ms < 1):
            raise ValueError(f"max_ms must be None or whole milliseconds >= 1, got {max_ms!r}")
        self.max_ms = max_ms
        self._max = -1 if max_ms is None else max_ms * PER_MS  # in ticks

    def wait(self, dt: int | None, kernel: "Kernel") -> None:
        bound = self._max
        if bound >= 0 and (dt is None or dt > bound):
            dt = bound
        self.io.poll(dt)


class WfeIdle(Idle):
    """`machine.idle()` until alerted or due (see the module)."""

    name = "wfe"

    def __init__(self, idle: "Callable[[], Any] | None" = None) -> None:
        super().__init__()
        if idle is None:
            idle = _machine("idle", "wfe")
        self._idle = idle

    def wait(self, dt: int | None, kernel: "Kernel") -> None:
        if self.io.active:
            self.io.poll(dt)
            return
        idle = self._idle
        if dt is None:
            while not kernel.alerted:
                idle()
        else:
            deadline = ticks_add(ticks(), dt)
            while not kernel.alerted and ticks_diff(deadline, ticks()) > 0:
                idle()
        if kernel.alerted:
            self.channel.drain()


class LightsleepIdle(Idle):
    """`machine.lightsleep(ms)`, at most `max_ms` at a time (see the module)."""

    name = "lightsleep"

    def __init__(
        self, lightsleep: "Callable[[int], Any] | None" = None, max_ms: int = 1000
    ) -> None:
        super().__init__()
        if lightsleep is None:
            lightsleep = _machine("lightsleep", "lightsleep")
        if not isinstance(max_ms, int) or max_ms < 1:
            raise ValueError(f"max_ms must be a whole number of milliseconds >= 1, got {max_ms!r}")
        self._lightsleep = lightsleep
        self.max_ms = max_ms

    def wait(self, dt: int | None, kernel: "Kernel") -> None:
        if self.io.active:
            self.io.poll(dt)
            return
        ms = self.max_ms
        if dt is not None:
            due = -(-dt // PER_MS)  # whole ms, rounded up: an early wake would spin
            if due < ms:
                ms = due
        if not kernel.alerted:
            self._lightsleep(ms)
        if kernel.alerted:
            self.channel.drain()


def _machine(name: str, mode: str) -> "Callable[..., Any]":
    try:
        import machine  # type: ignore[import-not-found]
    except ImportError:
        machine = None
    fn = getattr(machine, name, None)
    if fn is None:
        raise ValueError(
            f"idle={mode!r} needs machine.{name}(), which this interpreter does not have "
            "(CPython and MicroPython's unix port have none): use idle='poll'"
        )
    return fn  # type: ignore[no-any-return]


def make_idle(idle: "str | Idle") -> "Idle":
    """The power mode named `idle` ("poll", "wfe", "lightsleep"), or `idle` itself."""
    if isinstance(idle, Idle):
        return idle
    if idle == "poll":
        return PollIdle()
    if idle == "wfe":
        return WfeIdle()
    if idle == "lightsleep":
        return LightsleepIdle()
    raise ValueError(f"idle must be one of {', '.join(MODES)} (or an Idle object), got {idle!r}")
