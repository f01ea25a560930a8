"""irqio's kernel: an event loop in MicroPython's asyncio shape, for MicroPython and CPython.

`import irqio.kernel as asyncio` runs a program written for MicroPython's asyncio: `run`,
`create_task`, `sleep`, `sleep_ms`, `gather`, `wait_for`, `wait_for_ms`, `TimeoutError`,
`CancelledError`, `Event`, `Lock`, `ThreadSafeFlag`, `current_task`, `get_event_loop`,
`new_event_loop`, `Task.cancel`, and TCP / pipe streams. What differs:

* `Event` and `ThreadSafeFlag` are irqio's `Event` and `Flag`: safe to set from any context
  (an interrupt handler, another thread, a `micropython.schedule` callback), and any number of
  tasks may wait on a `ThreadSafeFlag`.
* The loop never exits while the main task waits (MicroPython #5843); its idle step is one
  wait for the next deadline or any event, in a power mode of your choice
  (`run(main, idle="poll" | "wfe" | "lightsleep")`).

Standard library only, in the subset MicroPython runs. Underneath: `Kernel` (a pairing-heap
task queue, `wait_for_event_or_timeout(dt)` as the idle step) on a `RealClock` or a
`VirtualClock` (deterministic, instant: the explorer's, and tests'). See docs/kernel.md.
`irqio.kernel.naive_event.NaiveEvent` is MicroPython's naive Event, the unsafe reference.
"""

from irqio.kernel.clock import Deadlock, RealClock, VirtualClock
from irqio.kernel.core import (
    Kernel,
    StepLimit,
    current,
    sleep,
    sleep_ms,
)
from irqio.kernel.funcs import TimeoutError, gather, wait_for, wait_for_ms
from irqio.kernel.heap import TaskQueue
from irqio.kernel.idle import Idle, LightsleepIdle, PollIdle, WfeIdle
from irqio.kernel.lock import Lock
from irqio.kernel.loop import (
    Loop,
    create_task,
    current_task,
    get_event_loop,
    new_event_loop,
    run,
)
from irqio.kernel.stream import (
    Server,
    Stream,
    StreamReader,
    StreamWriter,
    open_connection,
    start_server,
)
from irqio.kernel.task import CancelledError, Task
from irqio.runtime.primitives import Event
from irqio.runtime.primitives import Flag as ThreadSafeFlag

__all__ = [
    "CancelledError",
    "Deadlock",
    "Event",
    "Idle",
    "Kernel",
    "LightsleepIdle",
    "Lock",
    "Loop",
    "PollIdle",
    "RealClock",
    "Server",
    "StepLimit",
    "Stream",
    "StreamReader",
    "StreamWriter",
    "Task",
    "TaskQueue",
    "ThreadSafeFlag",
    "TimeoutError",
    "VirtualClock",
    "WfeIdle",
    "create_task",
    "current",
    "current_task",
    "gather",
    "get_event_loop",
    "new_event_loop",
    "open_connection",
    "run",
    "sleep",
    "sleep_ms",
    "start_server",
    "wait_for",
    "wait_for_ms",
]
