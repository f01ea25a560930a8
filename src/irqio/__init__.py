"""irqio: interrupt-driven async code, safe and fast, and proven so.

Interrupt → task primitives (any context may set / put / signal; tasks wait):
`Flag`, `Event`, `Message`, `Queue`, `Slots`, and `wait_any` to wait on many at once.
"""

from irqio.controller import (
    CeilingViolation,
    Controller,
    ControllerClosed,
    ControllerError,
    HeldAcrossAwait,
    InvalidPriority,
    Line,
    LineExists,
    SignalInUse,
    UnusedResource,
    WrongThread,
)
from irqio.errors import NoScheduler, QueueEmpty, QueueFull, WrongScheduler
from irqio.primitives import Event, Flag, Message, Queue, Slots
from irqio.resource import Resource
from irqio.waiter import wait_any

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
