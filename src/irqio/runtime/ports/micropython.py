"""The MicroPython port: irqio's primitives inside MicroPython's own asyncio, no setup call.

The first `await x.wait()` inside `asyncio.run()` binds `x` to this port's doorbell (one per
process: MicroPython's asyncio runs one loop at a time, its queues are module globals).

* **Waking a task.** A parked task is MicroPython's own `Task`, off every queue, with
  `task.data` pointing at its `_Waiter`. `wake()` (task context, inside the doorbell's service)
  clears `data` and pushes the task on asyncio's run queue, as `asyncio.Event.set()` does.
  `Task.cancel()` finds the waiter through `data.remove(task)`, exactly as it finds an `Event`'s
  queue: the waiter leaves its primitive and asyncio throws `CancelledError` into the task.
* **The wake path.** One alert channel per loop (`irqio.runtime.alert_channel`, shared with
  irqio's kernel), registered with asyncio's poller by one service task, whatever the number
  of primitives and waiters. The interrupt side's alert makes it ready; the poller ends its
  sleep and the service task runs `service()` in task context. On the unix port it is a UDP
  socket connected to itself (a file descriptor: the poller sleeps in `poll()` with no 1 ms
  sweep); on bare metal an `io.IOBase` whose `ioctl` reports a store, like `ThreadSafeFlag`.
* **Loops in sequence.** `asyncio.run()` twice reuses asyncio's queues, and the service task
  with them; after `asyncio.new_event_loop()` the next wait starts a new service task there.

Interrupt side (any context, a hard IRQ and another `_thread` included): the alert is one
store (bare metal) or one `send` of a constant (unix); it allocates nothing.
"""

import asyncio as _asyncio_module
import sys

from irqio._compat import TYPE_CHECKING
from irqio.runtime.alert_channel import AlertChannel
from irqio.runtime.doorbell import Doorbell
from irqio.runtime.errors import NoScheduler
from irqio.runtime.parked import ParkedTask

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from typing import Any

    from irqio.runtime.doorbell import Waiter

# MicroPython's asyncio (its `core`, `sleep_ms`), not what CPython's stubs describe.
asyncio: "Any" = _asyncio_module
_core: "Any" = asyncio.core


class _Waiter(ParkedTask):
    """One parked MicroPython task: its `data` points at this waiter, where `Task.cancel()`
    looks for `remove`, as it does for an `Event`'s queue. Task context only."""

    __slots__ = ()

    def _current(self) -> "Any":
        return _core.cur_task

    def _mark(self, task: "Any") -> None:
        task.data = self

    def _resume(self, task: "Any", value: "Any") -> None:
        task.data = None  # the run loop throws a non-None `data` into the task
        _core._task_queue.push(task)


class MicroPythonDoorbell(Doorbell):
    """The doorbell of MicroPython's asyncio (one per process)."""

    def __init__(self) -> None:
        super().__init__()
        channel = self._channel = AlertChannel()
        self._poll_obj, self._alert_fn, self._drain = channel.pollable, channel.alert, channel.drain
        self.services = 0  # service cycles run (task context)
        self._io_queue: Any = None  # the asyncio IOQueue our service task waits in
        self._serving = False  # the service task is alive

    def _alert(self) -> None:
        self._alert_fn()

    def _serve(self) -> "Generator[None, None, None]":
        """The service task: wait for the wake object, drain it, service. Never returns."""
        try:
            while True:
                _core._io_queue.queue_read(self._poll_obj)
                yield
                self._drain()  # before service(): an alert from now on is read next time
                self.services += 1
                try:
                    self.service()
                except Exception as exc:  # a Slots callback: report, keep serving
                    self.report("a primitive's service raised", exc)
        finally:
            self._serving = False

    def ensure_serving(self) -> None:
        """Start the service task in the running loop if it is not there. Task context."""
        io_queue = _core._io_queue
        if self._serving and self._io_queue is io_queue:
            return
        self._io_queue = io_queue
        self._serving = True
        _core.create_task(self._serve())
        self._alert()  # what was rung while no service task waited is serviced now

    def new_waiter(self) -> "Waiter":
        return _Waiter()

    def call_later(self, delay: float, callback: "Callable[[], None]") -> "Callable[[], None]":
        async def later() -> None:
            await asyncio.sleep_ms(int(delay * 1000))
            callback()

        task = _core.create_task(later())

        def cancel() -> None:
            if not task.done() and _core.cur_task is not task:
                task.cancel()

        return cancel

    def report(self, message: str, exc: BaseException) -> None:
        context = {"message": "irqio: " + message, "exception": exc, "future": None}
        try:
            asyncio.get_event_loop().call_exception_handler(context)
        except Exception:
            print("irqio:", message, repr(exc), file=sys.stderr)

    def __repr__(self) -> str:
        return "<irqio doorbell of MicroPython's asyncio>"


_doorbell: "MicroPythonDoorbell | None" = None


def running_doorbell() -> "MicroPythonDoorbell":
    """The doorbell of the running asyncio loop. Task context only."""
    global _doorbell
    if not hasattr(_core, "_io_queue"):
        raise NoScheduler(
            "this MicroPython's asyncio has no poller (the WebAssembly build's is driven by "
            "JavaScript): irqio's primitives need the asyncio of the unix or a bare-metal port, "
            "or irqio's own kernel (irqio.kernel.run)"
        )
    if _core.cur_task is None:
        raise NoScheduler(
            "no asyncio task is running: await irqio primitives inside asyncio.run(...), or "
            "use the irqio kernel"
        )
    doorbell = _doorbell
    if doorbell is None:
        doorbell = _doorbell = MicroPythonDoorbell()
    doorbell.ensure_serving()
    return doorbell
