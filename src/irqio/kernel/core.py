"""The kernel: a small MicroPython-style scheduler, deterministic on a virtual clock.

The loop, in task context::

    while the main task is not done:
        if alerted: alerted = False; run the services  # an alert from interrupt context
        t = earliest task in the queue
        if t is not due: wait_for_event_or_timeout(t's wake time - now)   # the idle step
        else: pop t and run one step of it

The only thing interrupt context may touch is `alert()`: one store (`alerted = True`) and the
clock's `alert()`. Everything else (the task queue, tasks, services) is task context only.
"""

from irqio._compat import TYPE_CHECKING

try:
    from _thread import get_ident
except ImportError:  # MicroPython without threads

    def get_ident() -> int:
        return 0


from irqio.kernel.clock import VirtualClock
from irqio.kernel.heap import TaskQueue
from irqio.kernel.task import CancelledError, Task

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Generator
    from typing import Any, TypeVar

    from irqio.kernel.clock import RealClock

    T = TypeVar("T")

_current: "Kernel | None" = None  # the kernel running in this process, if any


class StepLimit(Exception):
    """`run(..., max_steps=n)` ran n task steps without the main task finishing."""


class Kernel:
    """One scheduler: a task queue, a clock, and the ring from interrupt context."""

    def __init__(self, clock: "VirtualClock | RealClock | None" = None) -> None:
        self.clock = clock if clock is not None else VirtualClock()
        self.queue = TaskQueue()  # ready and sleeping tasks, by wake time
        self.cur_task: Task | None = None
        self.alerted = False  # stored by alert() from any context; cleared by the loop
        self.services: list[Callable[[], None]] = []  # run in task context after a ring
        self.steps = 0  # task steps run
        self.thread = 0  # thread running the loop (0: not running)
        self.errors: list[tuple[Task, BaseException]] = []  # unawaited task failures
        self.max_steps: int | None = None  # run() raises StepLimit past this many steps

    # -- any context ---------------------------------------------------------------------

    def alert(self) -> None:
        """Make the loop run its services soon. Interrupt-safe: a store and the clock's alert."""
        self.alerted = True  # before the clock's alert: the idle step checks `alerted` after waking
        self.clock.alert()

    # -- task context ----------------------------------------------------------------------

    def create_task(self, coro: "Coroutine[Any, Any, Any]", name: str = "") -> "Task":
        task = Task(coro, self, name)
        self.ready(task)
        return task

    def ready(self, task: "Task", value: "Any" = None) -> None:
        """Put a parked task back on the queue, to resume with `value`."""
        task.send_value = value
        self.queue.push(task, self.clock.now())
        task.parked_in = self.queue

    def sleep(self, seconds: float) -> "_Sleep":
        return _Sleep(self, seconds)

    def sleep_ms(self, ms: float) -> "_Sleep":
        return _Sleep(self, ms / 1000)

    def park(self) -> "_Park":
        """Await this to suspend the current task until someone calls `ready()` on it."""
        return _Park(self)

    def run(self, coro: "Coroutine[Any, Any, T]", max_steps: int | None = None) -> "T":
        """Run `coro` as the main task until it finishes; return its result."""
        main = self.create_task(coro, "main")
        self.run_until_complete(main, max_steps if max_steps is not None else self.max_steps)
        result: T = main.result()
        return result

    def run_until_complete(self, main: "Task", max_steps: int | None = None) -> None:
        global _current
        _attach_port()
        previous, _current = _current, self
        self.thread = get_ident()
        queue = self.queue
        clock = self.clock
        try:
            while not main.finished:
                if self.alerted:
                    self.alerted = False  # before servicing: a ring from now on is seen next turn
                    for service in self.services:
                        service()
                    continue
                task = queue.peek()
                if task is None:
                    self.wait_for_event_or_timeout(None)
                    continue
                dt = task.ph_key - clock.now()
                if dt > 0:
                    self.wait_for_event_or_timeout(dt)
                    continue
                queue.pop()
                self._step(task)
                if max_steps is not None and self.steps >= max_steps:
                    raise StepLimit(f"{self.steps} steps and the main task has not finished")
        finally:
            _current = previous
            self.thread = 0

    def wait_for_event_or_timeout(self, dt: float | None) -> None:
        """The idle step: return when alerted or after `dt` seconds. No polling of any source."""
        self.clock.wait(dt, self)

    def _step(self, task: "Task") -> None:
        self.steps += 1
        self.cur_task = task
        task.parked_in = None
        try:
            error = task.throw
            if error is not None:
                task.throw = None
                task.coro.throw(error)
            else:
                value = task.send_value
                task.send_value = None
                task.coro.send(value)
        except StopIteration as stop:
            task._finish(stop.value, None)
        except CancelledError as error:
            task._finish(None, error)
        except Exception as error:
            task._finish(None, error)
            if task.name != "main":
                self.errors.append((task, error))
        finally:
            self.cur_task = None


class _Sleep:
    """Awaitable: requeue the current task at now + seconds, then suspend."""

    def __init__(self, kernel: "Kernel", seconds: float) -> None:
        self.kernel = kernel
        self.seconds = seconds

    def __await__(self) -> "Generator[None, Any, None]":
        kernel = self.kernel
        task = kernel.cur_task
        assert task is not None, "sleep() outside a kernel task"
        kernel.queue.push(task, kernel.clock.now() + max(0.0, self.seconds))
        task.parked_in = kernel.queue
        yield None

    __iter__ = __await__  # MicroPython's await calls __iter__


class _Park:
    """Awaitable: suspend the current task until `kernel.ready(task, value)`; return value."""

    def __init__(self, kernel: "Kernel") -> None:
        self.kernel = kernel

    def __await__(self) -> "Generator[None, Any, Any]":
        value = yield None
        return value

    __iter__ = __await__  # MicroPython's await calls __iter__


def _attach_port() -> None:
    # irqio's primitives find a running kernel through the kernel port; make sure it is loaded.
    try:
        import irqio.runtime.ports.kernel  # noqa: F401
    except ImportError:  # the kernel alone, without the rest of irqio
        pass


# -- module-level API, as in MicroPython's asyncio ---------------------------------------------


def current() -> "Kernel | None":
    """The kernel running in the calling thread, if any."""
    kernel = _current
    if kernel is not None and kernel.thread == get_ident():
        return kernel
    return None


def _need() -> "Kernel":
    kernel = current()
    if kernel is None:
        raise RuntimeError("no irqio kernel is running in this thread")
    return kernel


def create_task(coro: "Coroutine[Any, Any, Any]") -> "Task":
    return _need().create_task(coro)


def sleep(seconds: float) -> "_Sleep":
    return _Sleep(_need(), seconds)


def sleep_ms(ms: float) -> "_Sleep":
    return _Sleep(_need(), ms / 1000)


def run(
    coro: "Coroutine[Any, Any, T]",
    clock: "VirtualClock | RealClock | None" = None,
    max_steps: int | None = None,
) -> "T":
    """Run `coro` on a new kernel (virtual clock unless given one) and return its result."""
    return Kernel(clock).run(coro, max_steps)
