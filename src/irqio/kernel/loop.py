"""The event loop people run: `run`, `get_event_loop`, `Loop`, in MicroPython's asyncio shape.

As in MicroPython there is one default loop per process (a `Kernel` on a `RealClock`, made on
first use): `create_task()` outside a running task adds to it, `run(main)` runs it until `main`
finishes, tasks still pending then stay in it for the next `run()`, and `new_event_loop()`
replaces it with an empty one. Other kernels (a `Kernel` of your own, on a virtual clock for
tests or in another CPython thread) run with `kernel.run(coro)`.

How a program ends (MicroPython #5843): `run(main)` returns when `main` returns (or raises
what `main` raised). While `main` waits on something an interrupt can set (a `Flag`, an
`Event`, a `Queue`...) the loop sleeps, whether or not any other task or deadline is left; it
never exits on its own because nothing is ready. `loop.run_forever()` returns after
`loop.stop()` (callable from any context, an interrupt handler included). KeyboardInterrupt
(Ctrl-C) ends the sleep and goes through `run()`.
"""

import sys

from irqio._compat import MICROPYTHON, TYPE_CHECKING
from irqio.kernel.clock import RealClock
from irqio.kernel.core import Kernel, current, running
from irqio.kernel.idle import make_idle

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any, TypeVar

    from irqio.kernel.clock import VirtualClock
    from irqio.kernel.idle import Idle
    from irqio.kernel.task import Task

    T = TypeVar("T")
    Handler = Callable[["Loop", dict[str, Any]], object]

_default: "Kernel | None" = None


class Loop:
    """The loop object of MicroPython's asyncio, for one kernel (`get_event_loop()`)."""

    def __init__(self, kernel: "Kernel") -> None:
        self.kernel = kernel
        self._handler: Handler | None = None
        kernel.unretrieved = self._unretrieved

    def create_task(self, coro: "Coroutine[Any, Any, Any]") -> "Task":
        return self.kernel.create_task(coro)

    def run_until_complete(self, aw: "Any") -> "Any":
        """Run until `aw` (a task, or promoted to one) finishes; return its result."""
        kernel = self.kernel
        main = kernel.promote(aw)
        kernel.run_until_complete(main, kernel.max_steps)
        return main.result()

    def run_forever(self) -> None:
        """Run until `stop()`; sleep while nothing is due (it does not end on its own)."""
        self.kernel.run_until_complete(None, self.kernel.max_steps)

    def stop(self) -> None:
        """Make `run_forever()` return at the loop's next turn. Any context."""
        self.kernel.stop()

    def close(self) -> None:
        pass  # nothing to release: the alert channel lives as long as what may alert it

    def set_exception_handler(self, handler: "Handler | None") -> None:
        """`handler(loop, context)` is called for a task failure nobody retrieved."""
        self._handler = handler

    def get_exception_handler(self) -> "Handler | None":
        return self._handler

    def default_exception_handler(self, context: "dict[str, Any]") -> None:
        print(context["message"], file=sys.stderr)
        future = context.get("future")
        if future is not None:
            print("future:", future, "coro=", getattr(future, "coro", None), file=sys.stderr)
        exc = context.get("exception")
        if exc is not None:
            _print_exception(exc)

    def call_exception_handler(self, context: "dict[str, Any]") -> None:
        handler = self._handler
        if handler is None:
            self.default_exception_handler(context)
        else:
            handler(self, context)

    def _unretrieved(self, kernel: "Kernel", task: "Task", error: BaseException) -> None:
        context = {"message": "Task exception wasn't retrieved", "exception": error}
        context["future"] = task
        self.call_exception_handler(context)

    def time(self) -> float:
        """The loop's clock, in seconds."""
        return self.kernel.clock.now()


def _print_exception(exc: BaseException) -> None:
    if MICROPYTHON:
        sys.print_exception(exc, sys.stderr)  # type: ignore[attr-defined]
    else:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)


def _loop_of(kernel: "Kernel") -> "Loop":
    loop: Loop | None = kernel.loop
    if loop is None:
        loop = kernel.loop = Loop(kernel)
    return loop


def default_kernel(idle: "str | Idle | None" = None) -> "Kernel":
    """The process's default kernel, made on first use (idle mode "poll" unless given)."""
    global _default
    kernel = _default
    if kernel is None:
        kernel = _default = Kernel(RealClock(idle if idle is not None else "poll"))
        _loop_of(kernel)
    elif idle is not None:
        clock = kernel.clock
        assert isinstance(clock, RealClock)
        if idle is not clock.idle and idle != clock.idle.name:
            if kernel.running:
                raise RuntimeError("the idle mode cannot change while the default loop runs")
            clock.idle = make_idle(idle)
            clock.idle.attach(clock.io, clock.channel)
    return kernel


def get_event_loop() -> "Loop":
    """The loop of the kernel running in this thread, else the default one."""
    kernel = current()
    return _loop_of(kernel if kernel is not None else default_kernel())


def new_event_loop() -> "Loop":
    """Replace the default kernel by an empty one and return its loop (MicroPython: the
    loop's state is reset). Not while the default kernel runs."""
    global _default
    old = _default
    if old is not None and old.running:
        raise RuntimeError("new_event_loop() while the default loop runs")
    _default = None
    if old is not None:
        for task in old.queue.tasks():  # dropped with the old loop, never to run
            if not task.finished:
                task.coro.close()
    idle = None
    if old is not None and isinstance(old.clock, RealClock):
        idle = old.clock.idle  # the same power mode (attached to the new clock's poller)
    return _loop_of(default_kernel(idle))


def run(
    main: "Coroutine[Any, Any, T]",
    idle: "str | Idle | None" = None,
    clock: "VirtualClock | RealClock | None" = None,
    max_steps: int | None = None,
) -> "T":
    """Run the coroutine `main` until it finishes and return its result.

    `idle`: how the CPU waits between events, "poll" (the default), "wfe" or "lightsleep"
    (see `irqio.kernel.idle`). `clock`: run on a kernel of its own with this clock instead of
    the default one (a `VirtualClock` for deterministic tests). `max_steps`: raise StepLimit
    after this many task steps."""
    if current() is not None:
        raise RuntimeError(
            "run() inside a running kernel: await the coroutine, or create_task() it"
        )
    if clock is not None:
        if idle is not None:
            raise ValueError("give idle= or clock=, not both (a clock has its own idle mode)")
        return Kernel(clock).run(main, max_steps)
    kernel = default_kernel(idle)
    if kernel.running:  # another thread runs it (CPython)
        raise RuntimeError(
            "the default loop runs in another thread: run a Kernel(RealClock()) of your own "
            "in this one"
        )
    task = kernel.create_task(main, "main")
    kernel.run_until_complete(task, max_steps)
    result: T = task.result()
    return result


def create_task(coro: "Coroutine[Any, Any, Any]") -> "Task":
    """Schedule `coro` as a task of the running kernel (outside one: the default loop)."""
    kernel = current()
    return (kernel if kernel is not None else default_kernel()).create_task(coro)


def current_task() -> "Task":
    """The task running now; RuntimeError outside one."""
    task = running().cur_task
    if task is None:
        raise RuntimeError("no task is running")
    return task
