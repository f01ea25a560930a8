"""The kernel port: irqio's primitives on irqio's own scheduler (`irqio.kernel`).

* The alert (`_alert`) is `kernel.alert()`: one store of `kernel.alerted` and the clock's
  alert (a no-op on the virtual clock; on the real one a write to its alert channel, or a
  store on bare metal, see `irqio.runtime.alert_channel`). Both are single steps that cannot
  be torn, so the ring is safe from any context, re-entrant, never blocks, allocates nothing.
* The kernel's loop reads `alerted` at the top of every turn and in its idle step
  (`wait_for_event_or_timeout`), clears it, *then* calls `service()` in task context. A ring
  after the clear is seen on the next turn; a ring between the idle step's last look and its
  sleep still ends the sleep (the clock's alert is sticky). So no ring is lost, and the kernel
  never polls a primitive: the work per wake is what the doorbell queued.
* A waiter parks the current kernel task (the task is in no queue at all while parked) and
  `wake()` puts it back on the task queue, in task context, inside `service()`.
* `call_later` is a kernel task that sleeps on the kernel's clock (virtual or real).

Importing this module registers the port with `irqio.runtime.ports.add_finder`; the kernel
imports it when it starts running, so primitives work inside any kernel task.
"""

from irqio._compat import TYPE_CHECKING
from irqio.kernel import Kernel, Task, current
from irqio.runtime import ports
from irqio.runtime.counters import Tally
from irqio.runtime.doorbell import Doorbell, Waiter
from irqio.runtime.parked import ParkedTask

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class KernelWaiter(ParkedTask):
    """One parked kernel task. Task context only."""

    __slots__ = ("kernel",)

    def __init__(self, kernel: "Kernel") -> None:
        super().__init__()
        self.kernel = kernel

    def _current(self) -> "Task":
        task = self.kernel.cur_task
        assert task is not None, "await an irqio primitive from inside a kernel task"
        return task

    def _mark(self, task: "Task") -> None:
        task.parked_in = self  # Task.cancel() calls our remove()

    def _resume(self, task: "Task", value: "Any") -> None:
        self.kernel.ready(task, value)


class KernelDoorbell(Doorbell):
    """The doorbell of one kernel."""

    def __init__(self, kernel: "Kernel") -> None:
        super().__init__()
        self.kernel = kernel
        self.alerts = Tally()  # alerts that reached the kernel (spare ones included)
        self.reported: list[tuple[str, BaseException]] = []
        kernel.services.append(self.service)

    def _alert(self) -> None:
        self.alerts.bump()
        self.kernel.alert()

    def new_waiter(self) -> "Waiter":
        return KernelWaiter(self.kernel)

    def call_later(self, delay: float, callback: "Callable[[], None]") -> "Callable[[], None]":
        kernel = self.kernel

        async def later() -> None:
            await kernel.sleep(delay)
            callback()

        task = kernel.create_task(later(), "call_later")

        def cancel() -> None:
            if not task.finished and kernel.cur_task is not task:
                task.cancel()

        return cancel

    def report(self, message: str, exc: BaseException) -> None:
        self.reported.append((message, exc))
        super().report(message, exc)

    def __repr__(self) -> str:
        return f"<irqio doorbell of kernel at {id(self.kernel):#x}>"


def doorbell_of(kernel: "Kernel") -> "KernelDoorbell":
    """The kernel's doorbell, made on first use (kept on the kernel: it lives as long)."""
    found: KernelDoorbell | None = getattr(kernel, "irqio_doorbell", None)
    if found is None:
        found = KernelDoorbell(kernel)
        kernel.irqio_doorbell = found  # type: ignore[attr-defined]
    return found


def _find() -> "Doorbell | None":
    kernel = current()
    return doorbell_of(kernel) if kernel is not None else None


ports.add_finder(_find)
