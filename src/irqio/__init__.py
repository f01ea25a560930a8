"""irqio: interrupt-driven async code, safe and fast, and proven so.

Interrupt → task primitives (any context may set / put / signal; tasks wait):
`Flag`, `Event`, `Message`, `Queue`, `Slots`, and `wait_any` to wait on many at once.
"""

from irqio.controller.core import Controller, Line
from irqio.controller.errors import (
    CeilingViolation,
    ControllerClosed,
    ControllerError,
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
from irqio.runtime.errors import NoScheduler, QueueEmpty, QueueFull, WrongScheduler
from irqio.runtime.primitives import Event, Flag, Message, Producer, Queue, Slots
from irqio.runtime.wait_any import wait_any

__version__ = "0.1.0"

__all__ = [
    "CeilingViolation",
    "Controller",
    "ControllerClosed",
    "ControllerError",
    "Event",
    "Flag",
    "HeldAcrossAwait",
    "InvalidPriority",
    "Line",
    "LineExists",
    "Message",
    "NoScheduler",
    "NotHeld",
    "OutOfOrderRelease",
    "Producer",
    "Queue",
    "QueueEmpty",
    "QueueFull",
    "Resource",
    "SignalInUse",
    "Slots",
    "UnusedResource",
    "WrongScheduler",
    "WrongThread",
    "__version__",
    "wait_any",
]
