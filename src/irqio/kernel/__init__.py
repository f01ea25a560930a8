"""irqio's kernel: a small deterministic scheduler modelled on MicroPython's asyncio.

Standard library only, in the subset MicroPython runs. A pairing-heap task queue, tasks with
cancellation, `sleep`/`sleep_ms`, `run`, and `wait_for_event_or_timeout(dt)` as the idle step,
on a virtual clock (deterministic, instant) or a real one. `irqio.runtime.ports.kernel` binds
irqio's primitives to it; `irqio.kernel.naive_event.NaiveEvent` is MicroPython's naive Event,
the unsafe reference.
"""

from irqio.kernel.clock import Deadlock, RealClock, VirtualClock
from irqio.kernel.core import (
    Kernel,
    StepLimit,
    create_task,
    current,
    run,
    sleep,
    sleep_ms,
)
from irqio.kernel.heap import TaskQueue
from irqio.kernel.task import CancelledError, Task

__all__ = [
    "CancelledError",
    "Deadlock",
    "Kernel",
    "RealClock",
    "StepLimit",
    "Task",
    "TaskQueue",
    "VirtualClock",
    "create_task",
    "current",
    "run",
    "sleep",
    "sleep_ms",
]
