"""CPython's delivery: how a pend from another thread reaches the controller's thread (the
**kick**), the real signals bound to lines, the wakeup fd and the signal mask.

Never imported by the dispatch core at module level (MicroPython has none of this):
`Controller.__init__` picks a delivery here, and everything POSIX stays in this module.

* `SignalDelivery`, for a controller created in the **main thread** (preemptive mode): a kick is
  the controller's real-time signal, sent with `signal.pthread_kill` (or
  `_thread.interrupt_main(signum)` with ``kick="interrupt_main"``). CPython runs the Python-level
  signal handler at the next bytecode boundary of the main thread, whatever it is doing: a
  CPU-bound coroutine that never yields is preempted there; a sleeping selector gets EINTR and
  the handler runs before the selector sleeps again. The handler is the controller's `_dispatch`.
* `LoopTurnDelivery`, for a controller created in **another thread**: signals cannot reach that
  thread's Python code, so a kick rings the thread's scheduler doorbell and `_dispatch` runs at
  the next turn of its loop. Handlers still never interleave with task code there: they run
  between callbacks.
"""

from __future__ import annotations

import _thread
import signal as _signal
import threading
import time
from typing import TYPE_CHECKING, Any

from irqio.controller.errors import SignalInUse, WrongThread
from irqio.runtime.counters import Tally

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from irqio.controller.core import Controller, Line
    from irqio.runtime.doorbell import Doorbell

# kick signal -> the open main-thread controller that owns it
_kick_signals: dict[int, Controller] = {}


def bound_signal_owner(signum: int) -> str | None:
    """Which open main-thread controller handles `signum` (its kick signal or a line's
    ``signal=``), said in words; None if none does."""
    for ctl in list(_kick_signals.values()):
        if ctl._closed:
            continue
        delivery = ctl._delivery
        if signum == delivery.signum:
            return "the kick signal of an open Controller"
        for line in ctl.lines():
            if line.signum == signum:
                return f"bound to line {line.name!r} of an open Controller"
    return None


def default_signum() -> int:
    """The real-time signal a main-thread controller uses for kicks: SIGRTMIN+1."""
    return int(_signal.SIGRTMIN) + 1


def delivery_for(
    ctl: Controller, signum: int | None, kick: str, doorbell: Doorbell | None
) -> SignalDelivery | LoopTurnDelivery:
    """The delivery for a controller created in the calling thread."""
    ctl._signum = default_signum() if signum is None else signum
    if threading.current_thread() is threading.main_thread():
        return SignalDelivery(ctl, kick)
    return LoopTurnDelivery(ctl, doorbell)


class SignalDelivery:
    """Main thread: kicks and line signals are real signals (see the module docstring)."""

    preemptive = True

    def __init__(self, ctl: Controller, kick: str) -> None:
        self.ctl = ctl
        self.signum: int = ctl._signum
        self.mode = kick
        # why the two tallies: close() must not restore SIG_DFL (whose action for a real-time
        # signal is to kill the process) while a kick is between its `_closed` check and its
        # pthread_kill. A bump is one C call, never split; close() stores `_closed` and then
        # waits until begun == ended, so a kick either sees `_closed` or is waited for.
        self._kicks_begun = Tally()
        self._kicks_ended = Tally()
        self._saved_handlers: dict[int, Any] = {}
        self._wakeup: tuple[Any, Any, int, Any] | None = None  # (rsock, wsock, prev fd, loop)

    def start(self) -> None:
        self._install(self.signum, self._on_kick)
        if self.mode == "interrupt_main":
            self._maybe_attach_running_loop()

    def kick(self) -> None:
        """Make the main thread dispatch soon. Called from foreign threads; O(1)."""
        self._kicks_begun.bump()
        try:
            if self.ctl._closed:
                return
            if self.mode == "signal":
                _signal.pthread_kill(self.ctl._ident, self.signum)
            else:
                _thread.interrupt_main(self.signum)  # type: ignore[arg-type]
        finally:
            self._kicks_ended.bump()

    def _on_kick(self, signum: int, frame: object) -> None:
        self.ctl._dispatch(None, 0)

    # -- signals bound to lines ----------------------------------------------------------

    def check_signal(self, name: str, signum: int) -> None:
        """May line `name` be bound to `signum`? (Raises before the line is registered.)"""
        _refuse_claimed(signum)

    def bind_signal(self, line: Line, signum: int) -> None:
        pend = line.pend

        def on_signal(signum: int, frame: object) -> None:
            pend()

        self._install(signum, on_signal)

    def signals(self) -> set[int]:
        """Every signal this controller handles: what watcher threads must block."""
        return set(self._saved_handlers) | {self.signum}

    def block(self, signums: Iterable[int]) -> Any:
        """`masking="sigmask"` resources: block `signums` in this thread; returns the old mask."""
        return _signal.pthread_sigmask(_signal.SIG_BLOCK, signums)

    def restore_mask(self, old_mask: Any) -> None:
        # A blocked signal is delivered inside this call; its Python handler pends its line at
        # the next bytecode boundary, i.e. right after, with the ceiling already dropped.
        _signal.pthread_sigmask(_signal.SIG_SETMASK, old_mask)

    def _install(self, signum: int, handler: Callable[[int, Any], None]) -> None:
        _refuse_claimed(signum)
        if signum in self._saved_handlers:
            raise SignalInUse(
                f"signal {signum} is already used by this controller (its kick signal is "
                f"{self.signum}); bind each line to its own signal, or pass signum= to "
                "Controller to move the kick signal"
            )
        if signum == self.signum:
            other = _kick_signals.get(signum)
            if other is not None and not other._closed:
                raise SignalInUse(
                    f"signal {signum} is the kick signal of another open Controller; close it "
                    "first, or pass signum=<another real-time signal> to this one"
                )
            _kick_signals[signum] = self.ctl
        self._saved_handlers[signum] = _signal.signal(signum, handler)

    # -- the wakeup fd -----------------------------------------------------------------------

    def _maybe_attach_running_loop(self) -> None:
        try:
            import asyncio

            loop = asyncio.get_running_loop()
        except (ImportError, RuntimeError):
            return
        self.attach_loop(loop)

    def attach_loop(self, loop: Any) -> None:
        """Make a sleeping asyncio `loop` in the main thread wake for every signal: needed with
        ``kick="interrupt_main"`` (no real signal, so no EINTR) and for process-directed
        signals that the kernel hands to another thread.

        If the process has no wakeup fd, the controller sets one (a socketpair watched by
        `loop`) and restores "none" on close. If one is set already (asyncio's own, from
        `loop.add_signal_handler`, which writes into that loop's self-pipe), it is kept: it
        already wakes the loop. Should asyncio later install its own, ours is replaced, which
        is fine for the same reason; close() then leaves asyncio's in place."""
        if self._wakeup is not None:
            return
        import socket

        rsock, wsock = socket.socketpair()
        rsock.setblocking(False)
        wsock.setblocking(False)
        prev = _signal.set_wakeup_fd(wsock.fileno(), warn_on_full_buffer=False)
        if prev != -1:  # someone (asyncio) already wakes a selector: keep theirs
            _signal.set_wakeup_fd(prev)
            rsock.close()
            wsock.close()
            return

        def drain() -> None:
            try:
                while rsock.recv(4096):
                    pass
            except OSError:
                pass

        loop.add_reader(rsock.fileno(), drain)
        self._wakeup = (rsock, wsock, prev, loop)

    # -- close -------------------------------------------------------------------------------

    def close(self) -> None:
        if self._saved_handlers:
            self._restore_signals()
        if self._wakeup is not None:
            rsock, wsock, prev, loop = self._wakeup
            self._wakeup = None
            try:
                current = _signal.set_wakeup_fd(-1)
                if current != wsock.fileno():
                    _signal.set_wakeup_fd(current)  # someone replaced ours: leave theirs
                else:
                    _signal.set_wakeup_fd(prev)
            except ValueError:
                pass
            try:
                loop.remove_reader(rsock.fileno())
            except Exception:
                pass
            rsock.close()
            wsock.close()

    def _restore_signals(self) -> None:
        kick = {self.signum} if self.signum in self._saved_handlers else set()
        old_mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, kick) if kick else None
        try:
            # Wait (bounded) for kicks already past their `_closed` check, then consume the
            # kick signals still pending for this thread, so none is delivered after SIG_DFL.
            deadline = time.monotonic() + 1.0
            while self._kicks_begun.value != self._kicks_ended.value:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.0005)
            if kick:
                while _signal.sigtimedwait(kick, 0) is not None:
                    pass
            for signum, prev in self._saved_handlers.items():
                try:
                    _signal.signal(signum, prev if prev is not None else _signal.SIG_DFL)
                except (ValueError, OSError):
                    pass
            self._saved_handlers.clear()
            if _kick_signals.get(self.signum) is self.ctl:
                del _kick_signals[self.signum]
        finally:
            if old_mask is not None:
                _signal.pthread_sigmask(_signal.SIG_SETMASK, old_mask)


def _refuse_claimed(signum: int) -> None:
    from irqio.controller.signal_source import claimed

    if claimed(signum) is not None:
        raise SignalInUse(
            f"signal {signum} is received by an open SignalSource (blocked in the main thread, "
            "so a handler would never run); close the source first, or use another signal "
            "(for the kick signal: pass signum= to Controller)"
        )


class LoopTurnDelivery:
    """Another thread: a kick rings the thread's scheduler doorbell (see the module docstring)."""

    preemptive = False

    def __init__(self, ctl: Controller, doorbell: Doorbell | None) -> None:
        self.ctl = ctl
        if doorbell is None:
            from irqio.runtime import ports

            try:
                doorbell = ports.current()
            except Exception as exc:
                raise WrongThread(
                    "a Controller created outside the main thread dispatches at the turns of "
                    "that thread's event loop: create it inside a running loop, or pass "
                    "doorbell=<the loop's doorbell>"
                ) from exc
        self.doorbell = doorbell

    def start(self) -> None:
        pass

    def kick(self) -> None:
        if not self.ctl._closed:
            self.doorbell.ring(self.ctl)

    def check_signal(self, name: str, signum: int) -> None:
        raise WrongThread(
            f"line {name!r}: signal-bound lines need a controller in the main thread "
            "(only the main thread runs Python signal handlers)"
        )

    def bind_signal(self, line: Line, signum: int) -> None:  # pragma: no cover - checked first
        self.check_signal(line.name, signum)

    def signals(self) -> set[int]:
        return set()

    def block(self, signums: Iterable[int]) -> Any:  # pragma: no cover - resources refuse it
        raise WrongThread("masking='sigmask' needs a controller in the main thread")

    def restore_mask(self, old_mask: Any) -> None:  # pragma: no cover
        pass

    def attach_loop(self, loop: Any) -> None:
        pass  # the loop's own doorbell wakes it

    def close(self) -> None:
        pass
