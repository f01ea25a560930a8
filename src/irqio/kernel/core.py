"""The kernel: a small MicroPython-style scheduler, on a virtual clock or in real time.

The loop, in task context::

    while the main task is not done:
        if alerted: alerted = False; run the services  # an alert from interrupt context
        t = earliest task in the queue
        if t is not due: wait_for_event_or_timeout(t's wake time - now)   # the idle step
        else: pop t and run one step of it

The idle step is one wait for "the next deadline or any event" (dpgeorge in MicroPython #5795):
the clock's `wait()` (a `select.poll` on the alert channel, `machine.lightsleep`, WFE; see
`irqio.kernel.clock`). It looks at no primitive and no waiting task: its cost does not grow with
them. The loop does not end while the main task waits, even if nothing is ready and no deadline
is pending (MicroPython #5843): an interrupt may still set what it waits on, so it sleeps.

The only thing interrupt context may touch is `alert()`: one store (`alerted = True`) and the
clock's alert. Everything else (the task queue, tasks, services) is task context only.

The hot path allocates nothing on MicroPython (checked under `micropython.heap_lock()`): ticks
are small ints, tasks are their own heap nodes, `sleep_ms` returns the kernel's one reusable
awaitable (`_Sleep`, in the way of MicroPython's `SingletonGenerator`), the idle step polls
with `ipoll` and drains into a buffer it owns.
"""

from irqio._compat import MICROPYTHON, TYPE_CHECKING
from irqio.kernel.clock import VirtualClock
from irqio.kernel.heap import TaskQueue
from irqio.kernel.task import CancelledError, Task
from irqio.kernel.ticks import from_ms, from_seconds, ticks_add, ticks_diff

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Generator
    from typing import Any, TypeVar

    from irqio.kernel.clock import RealClock

    T = TypeVar("T")

#: `kernel.errors` keeps the first this many task failures (a long run must not grow it).
MAX_ERRORS = 64


class StepLimit(Exception):
    """`run(..., max_steps=n)` ran n task steps without the main task finishing."""


class _Running:
    """The kernel running in this thread (CPython: one per thread; MicroPython: one per
    process, as its asyncio, because `_thread.get_ident()` allocates there)."""

    kernel: "Kernel | None" = None


if MICROPYTHON:
    _running: "Any" = _Running()
else:
    import threading

    class _PerThread(threading.local):
        kernel: "Kernel | None" = None

    _running = _PerThread()


class Kernel:
    """One scheduler: a task queue, a clock, and the alert from interrupt context."""

    def __init__(self, clock: "VirtualClock | RealClock | None" = None) -> None:
        self.clock = clock if clock is not None else VirtualClock()
        self.queue = TaskQueue()  # ready and sleeping tasks, by wake time
        self.cur_task: Task | None = None
        self.alerted = False  # stored by alert() from any context; cleared by the loop
        self.services: list[Callable[[], None]] = []  # run in task context after an alert
        self.steps = 0  # task steps run (counted while a step limit is set)
        self.running = False
        self.main: Task | None = None  # the task run_until_complete() runs until done
        # Failures of tasks other than the main one, awaited or not (the explorer reports
        # them): the first MAX_ERRORS, and how many more there were.
        self.errors: list[tuple[Task, BaseException]] = []
        self.errors_dropped = 0
        self.max_steps: int | None = None  # run() raises StepLimit past this many steps
        self.stopping = False  # stop() was asked: the loop returns at its next turn
        # Called with (kernel, task, error) for a failure nobody retrieved (see Loop).
        self.unretrieved: Callable[[Kernel, Task, BaseException], None] | None = None
        self._sleep = _Sleep(self)  # the one sleep awaitable (no allocation per sleep)
        self.closed = False  # close() ran
        self.loop: Any = None  # its asyncio-shaped Loop, made by irqio.kernel.loop on demand

    # -- any context ---------------------------------------------------------------------

    def alert(self) -> None:
        """Make the loop run its services soon. Interrupt-safe: a store and the clock's alert."""
        self.alerted = True  # before the clock's alert: the idle step checks `alerted` after waking
        self.clock.alert()

    def stop(self) -> None:
        """Make `run_until_complete` return at the loop's next turn. Any context."""
        self.stopping = True
        self.alert()

    # -- task context ----------------------------------------------------------------------

    def create_task(self, coro: "Coroutine[Any, Any, Any]", name: str = "") -> "Task":
        if isinstance(coro, _Sleep):  # create_task(sleep(1)): a sleep of its own
            coro = _await(_OneSleep(coro.take()))
        if not hasattr(coro, "send"):
            raise TypeError(f"create_task() needs a coroutine, got {coro!r}")
        task = Task(coro, self, name)
        self.ready(task)
        return task

    def ready(self, task: "Task", value: "Any" = None) -> None:
        """Put a parked task back on the queue, to resume with `value`."""
        task.send_value = value
        self.queue.push(task, self.clock.ticks())
        task.parked_in = self.queue

    def sleep(self, seconds: float) -> "_Sleep | _OneSleep":
        """Await this to sleep `seconds` (a float allocates on MicroPython: use sleep_ms)."""
        return self._sleep.arm(from_seconds(seconds))

    def sleep_ms(self, ms: int) -> "_Sleep | _OneSleep":
        """Await this to sleep `ms` milliseconds. No allocation on MicroPython (an int)."""
        return self._sleep.arm(from_ms(ms))

    def park(self) -> "_Park":
        """Await this to suspend the current task until someone calls `ready()` on it."""
        return _Park(self)

    def run(self, coro: "Coroutine[Any, Any, T]", max_steps: int | None = None) -> "T":
        """Run `coro` as the main task until it finishes; return its result."""
        main = self.create_task(coro, "main")
        self.run_until_complete(main, max_steps if max_steps is not None else self.max_steps)
        result: T = main.result()
        return result

    def close(self) -> None:
        """Let go of the tasks, services and port state this kernel holds; it cannot run again.
        A kernel, its tasks, its sleep and its doorbell refer to each other: cut here, they are
        freed as soon as the last outside reference goes, with no cycle for the collector
        (the explorer closes the kernel of every run). `errors` stays, to be read."""
        if self.running:
            raise RuntimeError("close() a kernel that is running: stop() it first")
        self.closed = True
        self.main = self.cur_task = None
        self.services = []
        self.queue = TaskQueue()
        sleep = self._sleep
        sleep.kernel = None  # type: ignore[assignment]
        sleep.stop.__traceback__ = None  # its last raise's frames hold tasks and this kernel
        try:
            del self.irqio_doorbell  # type: ignore[attr-defined]  # the kernel port's doorbell
        except AttributeError:
            pass

    def run_until_complete(self, main: "Task | None", max_steps: int | None = None) -> None:
        """Run until `main` finishes (None: until `stop()`). KeyboardInterrupt and SystemExit
        from inside go through; so does Deadlock from a virtual clock."""
        if self.running:
            raise RuntimeError("this kernel is already running")
        if self.closed:
            raise RuntimeError("this kernel is closed: make a new Kernel")
        _attach_port()
        previous = _running.kernel  # another kernel this one runs inside (tests, the explorer)
        _running.kernel = self
        self.main = main
        self.running = True
        self.stopping = False
        queue = self.queue
        clock = self.clock
        step = self._step
        forever = main is None
        try:
            while forever or not main.finished:  # type: ignore[union-attr]
                if self.alerted:
                    self.alerted = False  # before servicing: an alert from now on is seen next turn
                    for service in self.services:
                        service()
                    if self.stopping:
                        self.stopping = False
                        return
                    continue
                task = queue.heap  # the earliest task (queue.peek(), without the call)
                if task is None:
                    clock.wait(None, self)
                    continue
                dt = ticks_diff(task.ph_key, clock.ticks())
                if dt > 0:
                    clock.wait(dt, self)
                    continue
                queue.pop()
                step(task)
                if max_steps is not None:
                    self.steps += 1
                    if self.steps >= max_steps:
                        raise StepLimit(f"{self.steps} steps and the main task has not finished")
        finally:
            _running.kernel = previous
            self.running = False

    def wait_for_event_or_timeout(self, dt: int | None) -> None:
        """The idle step: return when alerted or after `dt` ticks. No polling of any source."""
        self.clock.wait(dt, self)

    def _step(self, task: "Task") -> None:
        if task.finished:  # back on the queue only to report an unretrieved failure
            self._report(task)
            return
        self.cur_task = task
        task.parked_in = None
        try:
            error = task.throw
            if error is not None:
                task.throw = None
                task.slept = False  # a sleep ended by the throw is over
                task.coro.throw(error)
            else:
                value = task.send_value
                if value is None:
                    task.coro.send(None)
                else:
                    task.send_value = None
                    task.coro.send(value)
        except StopIteration as stop:
            task._finish(stop.value, None)
        except CancelledError as error:
            task._finish(None, error)
        except Exception as error:
            self._failed(task, error)
        else:
            if task.parked_in is None:  # it yielded, and nothing of the kernel's holds it
                self._stray(task)
        finally:
            self.cur_task = None
            self._sleep.delay = -1  # a sleep() made in this step and not awaited is void

    def _stray(self, task: "Task") -> None:
        # Awaiting something that is not the kernel's (asyncio.sleep, an asyncio future, a
        # bare `yield`) would leave the task in no queue for ever: say so in the task instead.
        task.throw = RuntimeError(
            f"task {task.name!r} awaited something irqio.kernel does not run (asyncio.sleep? "
            "an asyncio future?): await irqio.kernel's sleep, tasks, primitives and streams"
        )
        self.ready(task)

    def _failed(self, task: "Task", error: BaseException) -> None:
        task._finish(None, error)
        if task is self.main:
            return  # run() raises it
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((task, error))
        else:
            self.errors_dropped += 1
        if not task.retrieved:
            # Nobody has taken the outcome yet; whoever awaits it before the task comes round
            # again takes it (as MicroPython's asyncio does), else the handler hears of it.
            self.queue.push(task, self.clock.ticks())
            task.parked_in = self.queue

    def _report(self, task: "Task") -> None:
        task.parked_in = None
        if task.retrieved or task.error is None:
            return
        task.retrieved = True
        handler = self.unretrieved
        if handler is not None:
            handler(self, task, task.error)

    def promote(self, aw: "Any") -> "Task":
        """`aw` as a task of this kernel: a task as it is, a coroutine made a task, any other
        awaitable (a sleep included) wrapped in one."""
        if isinstance(aw, Task):
            return aw
        if isinstance(aw, _Sleep):
            aw = _OneSleep(aw.take())  # the shared awaitable must not wait in another task
        if not hasattr(aw, "send"):
            aw = _await(aw)
        return self.create_task(aw)


async def _await(aw: "Any") -> "Any":
    return await aw


class _Sleep:
    """Awaitable: requeue the current task `delay` ticks from now, then suspend.

    One per kernel, armed by each `sleep()` call and consumed by the `await` that follows at
    once, so a sleep allocates nothing: its iterator is itself, and the StopIteration that ends
    the await is made once (its traceback emptied before each raise), in the way of
    MicroPython's `SingletonGenerator`. Made and not awaited at once:

    * a second sleep made while one is armed (`gather(sleep(1), sleep(2))`) is a `_OneSleep` of
      its own, and `gather` / `wait_for` / `create_task` turn an armed one into one too;
    * the kernel voids an armed sleep when the step that made it ends, and awaiting it later
      (`s = sleep(1); await other(); await s`) raises RuntimeError instead of not sleeping."""

    def __init__(self, kernel: "Kernel") -> None:
        self.kernel = kernel
        self.delay = -1  # -1: not armed
        self.stop = StopIteration()

    def arm(self, delay: int) -> "_Sleep | _OneSleep":
        if self.delay >= 0:
            return _OneSleep(delay)  # one is armed already and not yet awaited
        self.delay = delay
        return self

    def take(self) -> int:
        delay = self.delay
        self.delay = -1
        return delay if delay >= 0 else 0

    def __iter__(self) -> "_Sleep":
        return self

    if TYPE_CHECKING:

        def __await__(self) -> "Generator[None, None, None]": ...

    else:
        __await__ = __iter__  # CPython's await asks __await__ for the iterator; this is it

    def __next__(self) -> None:
        delay = self.delay
        if delay >= 0:  # the first step: go to sleep
            self.delay = -1
            kernel = self.kernel
            task = kernel.cur_task
            if task is None:
                raise RuntimeError("sleep() awaited outside a kernel task")
            queue = kernel.queue
            queue.push(task, ticks_add(kernel.clock.ticks(), delay))
            task.parked_in = queue
            task.slept = True
            return None  # yielded to the kernel
        task = self.kernel.cur_task
        if task is None or not task.slept:
            raise RuntimeError(
                "a sleep() awaited after the step that made it: await each sleep() at once"
            )
        task.slept = False
        stop = self.stop
        stop.__traceback__ = None
        raise stop  # woken: the await returns None


class _ByHand:
    """The holder of a task parked with `kernel.park()`: whoever parked it readies it."""

    def remove(self, task: "Task") -> bool:
        return True


_BY_HAND = _ByHand()


class _OneSleep:
    """A sleep of its own (for `gather(sleep(1), ...)`, `wait_for(sleep(1), ...)`)."""

    def __init__(self, delay: int) -> None:
        self.delay = delay

    def __await__(self) -> "Generator[None, None, None]":
        task = _current_task()
        kernel = task.kernel
        kernel.queue.push(task, ticks_add(kernel.clock.ticks(), self.delay))
        task.parked_in = kernel.queue
        yield None

    __iter__ = __await__


class _Park:
    """Awaitable: suspend the current task until `kernel.ready(task, value)`; return value.
    Cancelling the parked task readies it (with CancelledError)."""

    def __init__(self, kernel: "Kernel") -> None:
        self.kernel = kernel

    def __await__(self) -> "Generator[None, Any, Any]":
        task = self.kernel.cur_task
        if task is not None and task.parked_in is None:  # (a Lock set its queue as holder)
            task.parked_in = _BY_HAND
        value = yield None
        return value

    __iter__ = __await__  # MicroPython's await calls __iter__


def _attach_port() -> None:
    # irqio's primitives find a running kernel through the kernel port; make sure it is loaded.
    try:
        import irqio.runtime.ports.kernel  # noqa: F401
    except ImportError:  # the kernel alone, without the rest of irqio
        pass


# -- which kernel runs here --------------------------------------------------------------------


def current() -> "Kernel | None":
    """The kernel running in the calling thread, if any."""
    kernel: Kernel | None = _running.kernel
    return kernel


def running() -> "Kernel":
    """The kernel running in this thread; RuntimeError if none."""
    kernel: Kernel | None = _running.kernel
    if kernel is None:
        raise RuntimeError("no irqio kernel is running in this thread (start one with run())")
    return kernel


def _current_task() -> "Task":
    kernel: Kernel | None = _running.kernel
    task = kernel.cur_task if kernel is not None else None
    if task is None:
        raise RuntimeError("not inside a kernel task")
    return task


def sleep(seconds: float) -> "_Sleep | _OneSleep":
    """Sleep `seconds` in the running kernel (`await sleep(0.5)`). An int or 0 allocates
    nothing on MicroPython; a float does (use sleep_ms there)."""
    kernel: Kernel | None = _running.kernel
    if kernel is None:
        raise RuntimeError("sleep() outside a running kernel")
    return kernel._sleep.arm(from_seconds(seconds))


def sleep_ms(ms: int) -> "_Sleep | _OneSleep":
    """Sleep `ms` milliseconds in the running kernel. No allocation on MicroPython."""
    kernel: Kernel | None = _running.kernel
    if kernel is None:
        raise RuntimeError("sleep_ms() outside a running kernel")
    return kernel._sleep.arm(from_ms(ms))
