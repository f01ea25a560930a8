"""irqio's software interrupt controller: lines, priorities, preemption, tail-chaining, and
resources under the immediate priority-ceiling protocol. See docs/controller.md.

* `irqio.controller.core`: `Line` and `Controller`, the dispatch core (CPython and MicroPython).
* `irqio.controller.resource`: `Resource`, its derived ceiling, `critical()`.
* `irqio.controller.errors`, `irqio.controller.samples`: errors and interrupt-side recording.
* `irqio.controller.profiler`: who delayed whom (task context, CPython).
* `irqio.controller.sources`: a periodic `Timer` and `FdReady` (CPython, Linux).
* `irqio.controller.signal_source`: `SignalSource`, signals taken by a thread with
  `sigwaitinfo` into a line or a queue, so a flood cannot nest a handler (CPython, Linux).
* `irqio.controller.delivery`, `irqio.controller.debug` (CPython) and
  `irqio.controller.micropython`: how foreign pends reach the controller's thread; imported by
  the core only when a controller is created.
"""

from irqio.controller.core import CRITICAL, MAX_PRIORITY, Controller, Line
from irqio.controller.errors import (
    CeilingViolation,
    ControllerClosed,
    ControllerError,
    HandlerFailure,
    HeldAcrossAwait,
    InvalidPriority,
    LineExists,
    NotHeld,
    OutOfOrderRelease,
    SignalInUse,
    UnusedResource,
    WrongThread,
)
from irqio.controller.resource import Resource
from irqio.controller.samples import Samples

__all__ = [
    "CRITICAL",
    "MAX_PRIORITY",
    "CeilingViolation",
    "Controller",
    "ControllerClosed",
    "ControllerError",
    "HandlerFailure",
    "HeldAcrossAwait",
    "InvalidPriority",
    "Line",
    "LineExists",
    "NotHeld",
    "OutOfOrderRelease",
    "Resource",
    "Samples",
    "SignalInUse",
    "UnusedResource",
    "WrongThread",
]
