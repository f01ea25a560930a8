"""MicroPython's delivery: a pend from a foreign context (a hard IRQ, recognised by its locked
heap, or another `_thread`) kicks the controller with `micropython.schedule`, which runs
`_dispatch` at the VM's next bytecode boundary, as CPython runs a signal handler.

MicroPython does not nest scheduled callbacks, so a hard IRQ's pend cannot preempt a handler
running in one: it tail-chains. It has no POSIX signals: lines are pended from IRQ handlers.
"""

import micropython  # type: ignore[import-not-found]
from irqio._compat import TYPE_CHECKING
from irqio.controller.errors import ControllerError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from irqio.controller.core import Controller, Line


class ScheduleDelivery:
    preemptive = True  # scheduled callbacks preempt task code at bytecode boundaries

    def __init__(self, ctl: "Controller") -> None:
        self.ctl = ctl
        ctl._signum = 0
        # Bound once here: a hard IRQ may not allocate, and `self._on_schedule` would.
        self._scheduled = self._on_schedule

    def start(self) -> None:
        pass

    def kick(self) -> None:
        """Safe in a hard IRQ: nothing allocates. A full schedule queue raises RuntimeError:
        `_kick_due` is cleared so the next pend kicks again (the hit is published; any dispatch
        will run it)."""
        try:
            micropython.schedule(self._scheduled, None)
        except RuntimeError:
            self.ctl._kick_due = False
            raise

    def _on_schedule(self, _arg: object) -> None:
        if not self.ctl._closed:  # close() drops pending lines, as a restored signal does
            self.ctl._dispatch(None, 0)

    def check_signal(self, name: str, signum: int) -> None:
        raise ControllerError(
            f"line {name!r}: signal= binds a POSIX signal, which MicroPython has not; pend "
            "the line from the IRQ handler instead (line.pend() is safe in a hard IRQ)"
        )

    def bind_signal(self, line: "Line", signum: int) -> None:
        self.check_signal(line.name, signum)

    def signals(self) -> "set[int]":
        return set()

    def block(self, signums: "Iterable[int]") -> "Any":
        raise ControllerError("MicroPython has no signal mask; use masking='optimistic'")

    def restore_mask(self, old_mask: "Any") -> None:
        pass

    def attach_loop(self, loop: "Any") -> None:
        pass

    def close(self) -> None:
        pass
