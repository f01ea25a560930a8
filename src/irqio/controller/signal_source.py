"""`SignalSource`: POSIX signals received by a thread with `signal.sigwaitinfo`, so a flood
cannot nest anything (CPython, Linux).

A Python-level signal handler runs in the main thread at the next bytecode boundary, including
inside itself: under a flood from another process CPython nests the handler as deep as arrivals
outpace it, up to the recursion limit, where `RecursionError` loses whatever the handler was
doing. Nothing a handler does can prevent that (docs/runtime.md, "Signals").

A `SignalSource` takes its signals away from handlers altogether:

* they are **blocked** in the main thread (and so in every thread started after it, which
  inherit the mask), so the kernel keeps an arrival pending instead of interrupting anyone;
* a dedicated **watcher thread** takes them one at a time with `signal.sigwaitinfo` and feeds
  the target: a `Line` is pended once per signal; anything with ``offer(item) -> bool`` (an
  `irqio.Queue`) is offered the signal's `signal.struct_siginfo` (number, sender's pid and uid).
  The watcher is an ordinary thread: a signal that arrives while it delivers waits, pending,
  for its next `sigwaitinfo`. No handler runs, so nothing nests.

The kernel still merges the arrivals of one standard signal (SIGUSR1...) while it is pending,
as it does for a handler; real-time signals (SIGRTMIN+n) are queued one by one (up to
RLIMIT_SIGPENDING), so each is received.

Aim signals at the process (``kill(pid, sig)``, what another process does) or at the watcher
(``signal.pthread_kill(source.ident, sig)``); one aimed at another thread with `pthread_kill`
stays pending there. A thread started *before* the source does not block the signals; if the
kernel hands one to such a thread, the fallback handler the source installs (in place of the
previous disposition, restored on close) forwards it to the watcher and counts it in `stray`.
That path does run a Python handler, in the main thread: block the signals in threads you start
earlier (``signal.pthread_sigmask(signal.SIG_BLOCK, sigs)``), or create the source first.

Create and close it in the main thread (it sets the main thread's signal mask and handlers).
Fed a line of a main-thread controller, it is also closed by the controller's `close()`.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, Self

from irqio.controller.errors import ControllerClosed, SignalInUse, WrongThread
from irqio.runtime.counters import Tally

if TYPE_CHECKING:
    from irqio.controller.core import Line

#: Signals that cannot be waited for: SIGKILL and SIGSTOP cannot be blocked, and the synchronous
#: faults are sent to the thread that faulted, which must handle them at once.
UNWAITABLE = frozenset(
    int(getattr(signal, name))
    for name in ("SIGKILL", "SIGSTOP", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL")
    if hasattr(signal, name)
)
#: Pending signals taken by each drain at close (a bound: a sender still flooding cannot keep
#: close() busy for ever).
DRAIN_MAX = 1 << 16

# signal -> the open SignalSource receiving it (Controller delivery refuses these signals).
_open: dict[int, SignalSource] = {}


class Offer(Protocol):
    """What a SignalSource can feed besides a Line: ``offer(item) -> bool``, as `irqio.Queue`
    has (False: refused, the queue is full)."""

    def offer(self, item: signal.struct_siginfo, /) -> bool: ...


def claimed(signum: int) -> SignalSource | None:
    """The open SignalSource receiving `signum`, if any."""
    return _open.get(signum)


class SignalSource:
    """Receive `signals` on a watcher thread with `sigwaitinfo` and feed `target`: a `Line`
    (pended once per signal) or a queue (``offer(siginfo)``). See the module docstring.

    Counters (written by the watcher, then by `close` after it has stopped: one writer at a
    time): `received` signals taken; `refused` offers the queue refused (full); `dropped`
    signals taken after the line's controller closed; `failures` offers that raised (the last
    error in `last_failure`). `stray` (a `Tally`): signals that reached a thread not blocking
    them and were forwarded by the fallback handler.
    """

    def __init__(self, target: Line | Offer, signals: Iterable[int]) -> None:
        from irqio.controller.core import Line
        from irqio.controller.delivery import bound_signal_owner

        if not hasattr(signal, "sigwaitinfo"):
            raise RuntimeError(
                "SignalSource needs signal.sigwaitinfo (Linux and most POSIX systems, not macOS "
                "or Windows); use a plain signal handler there"
            )
        if threading.current_thread() is not threading.main_thread():
            raise WrongThread(
                "create a SignalSource in the main thread: it blocks its signals in the main "
                "thread's mask and installs a fallback handler, which only the main thread can do"
            )
        self._line: Line | None = None
        self._sink: Offer | None = None
        if isinstance(target, Line):
            target._ctl._check_open("add a SignalSource")
            self._line = target
        elif callable(getattr(target, "offer", None)):
            self._sink = target
        else:
            raise TypeError(
                "SignalSource feeds a Line (pended once per signal) or a queue with "
                f"offer(item) -> bool, such as irqio.Queue; got {target!r}"
            )
        self.signals = _checked(signals)
        for signum in sorted(self.signals):
            other = _open.get(signum)
            if other is not None:
                raise SignalInUse(
                    f"signal {_name(signum)} is already received by another open SignalSource; "
                    "close that one first, or give each source its own signals"
                )
            owner = bound_signal_owner(signum)
            if owner is not None:
                raise SignalInUse(
                    f"signal {_name(signum)} is {owner}: a SignalSource would take it away "
                    "from that controller; use another signal"
                )
        self.received = 0
        self.refused = 0
        self.dropped = 0
        self.failures = 0
        self.last_failure: Exception | None = None
        self.stray = Tally()
        self._pid = os.getpid()
        self._closing = False
        self._closed = False
        self._thread: threading.Thread | None = None
        # The token close() sends to stop the watcher: one of our own signals, from our pid.
        self._token = min(self.signals)
        # Block first, so from here on an arrival waits, pending, for the watcher; then the
        # fallback handler (for threads that do not block them); then the watcher, which
        # inherits the mask.
        before = signal.pthread_sigmask(signal.SIG_BLOCK, self.signals)
        self._was_blocked = frozenset(int(s) for s in before) & self.signals
        self._saved: dict[int, Any] = {}
        try:
            for signum in self.signals:
                self._saved[signum] = signal.signal(signum, self._on_stray)
        except BaseException:
            self._restore()
            raise
        for signum in self.signals:
            _open[signum] = self
        # Closed with its controller when that lives in the main thread, where close() can run.
        self._registered = self._line is not None and self._line._ctl.preemptive
        if self._registered:
            assert self._line is not None
            self._line._ctl._add_source(self)
        self._thread = threading.Thread(
            target=self._run, name=f"irqio-SignalSource-{self._describe()}", daemon=True
        )
        self._thread.start()

    @property
    def ident(self) -> int | None:
        """The watcher thread's id: aim `signal.pthread_kill` here (None once closed)."""
        thread = self._thread
        return thread.ident if thread is not None and not self._closed else None

    # -- the watcher thread --------------------------------------------------------------------

    def _run(self) -> None:
        # This thread takes only the source's signals, with sigwaitinfo; every other signal is
        # left to threads that handle it (the main thread runs Python handlers).
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        wait, signals, deliver = signal.sigwaitinfo, self.signals, self._deliver
        while True:
            info = wait(signals)
            # close()'s token: our own signal, from our own pid, once closing. (A signal this
            # process sends itself during close() could be taken for it: then that one is not
            # delivered, and the token, left pending on this exiting thread, is discarded.)
            if self._closing and info.si_signo == self._token and info.si_pid == self._pid:
                break
            deliver(info)
        self._drain()  # what was aimed at this thread and is still pending

    def _deliver(self, info: signal.struct_siginfo) -> None:
        self.received += 1
        line = self._line
        try:
            if line is not None:
                line.pend()
            else:
                assert self._sink is not None
                if not self._sink.offer(info):
                    self.refused += 1
        except ControllerClosed:
            self.dropped += 1
        except Exception as exc:  # a user's sink: keep receiving, keep the error
            self.failures += 1
            self.last_failure = exc

    def _drain(self) -> None:
        timed_wait, signals = signal.sigtimedwait, self.signals
        for _ in range(DRAIN_MAX):
            info = timed_wait(signals, 0)
            if info is None:
                return
            self._deliver(info)

    # -- the fallback handler (main thread, Python level) -----------------------------------

    def _on_stray(self, signum: int, frame: object) -> None:
        """A signal reached a thread that does not block it (one started before the source):
        forward it to the watcher, which blocks it and so receives it with sigwaitinfo."""
        self.stray.bump()
        thread = self._thread
        if not self._closing and thread is not None and thread.ident is not None:
            signal.pthread_kill(thread.ident, signum)
        # while closing: dropped (it arrived after close() began); counted in `stray`

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the watcher, deliver what is still pending, restore the previous handlers and
        unblock the signals in the main thread. Main thread only; idempotent. After it, the
        signals get their previous disposition (SIG_DFL ends the process for most of them):
        stop the sender first."""
        if self._closed:
            return
        if threading.current_thread() is not threading.main_thread():
            raise WrongThread(
                "close a SignalSource in the main thread: it restores the main thread's signal "
                "mask and handlers, which only the main thread can do. Nothing was changed"
            )
        self._closing = True
        thread = self._thread
        if thread is not None and thread.is_alive() and thread.ident is not None:
            signal.pthread_kill(thread.ident, self._token)
            thread.join(5)
        self._drain()  # pending for the process or the main thread: arrived while open
        self._closed = True
        self._restore()
        if self._registered:
            assert self._line is not None
            self._line._ctl._remove_source(self)

    def _restore(self) -> None:
        for signum, prev in self._saved.items():
            signal.signal(signum, prev if prev is not None else signal.SIG_DFL)
        self._saved.clear()
        for signum in self.signals:
            if _open.get(signum) is self:
                del _open[signum]
        unblock = self.signals - self._was_blocked
        if unblock:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, unblock)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _describe(self) -> str:
        return self._line.name if self._line is not None else type(self._sink).__name__

    def __repr__(self) -> str:
        names = ", ".join(_name(s) for s in sorted(self.signals))
        return f"SignalSource({self._describe()}, [{names}], received={self.received})"


def _checked(signals: Iterable[int]) -> frozenset[int]:
    out: set[int] = set()
    valid = {int(s) for s in signal.valid_signals()}
    for s in signals:
        if isinstance(s, bool) or not isinstance(s, int):
            raise TypeError(f"SignalSource: {s!r} is not a signal number (use signal.SIGUSR1...)")
        if int(s) not in valid:
            raise ValueError(f"SignalSource: {s!r} is not a valid signal on this system")
        if int(s) in UNWAITABLE:
            raise ValueError(
                f"SignalSource: {_name(int(s))} cannot be waited for (SIGKILL and SIGSTOP cannot "
                "be blocked; SIGSEGV, SIGBUS, SIGFPE and SIGILL go to the faulting thread)"
            )
        out.add(int(s))
    if not out:
        raise ValueError("SignalSource: give at least one signal")
    return frozenset(out)


def _name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        rtmin = int(getattr(signal, "SIGRTMIN", 0))
        return f"SIGRTMIN+{signum - rtmin}" if rtmin and signum > rtmin else str(signum)
