"""Bad use: each a named error whose message says what to do."""

from __future__ import annotations

import signal

import pytest

from irqio.controller import (
    Controller,
    ControllerClosed,
    ControllerError,
    InvalidPriority,
    LineExists,
    SignalInUse,
    UnusedResource,
)
from irqio.controller.resource import Resource


@pytest.mark.parametrize("priority", [0, -1, 256, 1.5, "2", True, None])
def test_invalid_priority(ctl: Controller, priority: object) -> None:
    with pytest.raises(InvalidPriority, match=r"use an int from 1"):
        ctl.line("x", priority, lambda: None)  # type: ignore[arg-type]
    assert ctl.lines() == []


def test_line_registered_twice(ctl: Controller) -> None:
    ctl.line("rx", 2, lambda: None)
    with pytest.raises(LineExists, match="another name"):
        ctl.line("rx", 3, lambda: None)


def test_resource_used_by_nobody() -> None:
    res = Resource("orphan")
    with pytest.raises(UnusedResource, match=r"uses=\[res\]|task_uses"), res:
        pass


def test_pend_on_closed_controller() -> None:
    ctl = Controller()
    line = ctl.line("x", 1, lambda: None)
    ctl.close()
    with pytest.raises(ControllerClosed, match="create a new Controller"):
        line.pend()
    with pytest.raises(ControllerClosed):
        ctl.line("y", 1, lambda: None)
    ctl.close()  # idempotent


def test_signal_bound_twice(ctl: Controller) -> None:
    sig = signal.SIGRTMIN + 5
    ctl.line("a", 1, lambda: None, signal=sig)
    with pytest.raises(SignalInUse, match="own signal"):
        ctl.line("b", 1, lambda: None, signal=sig)
    with pytest.raises(SignalInUse):
        ctl.line("c", 1, lambda: None, signal=signal.SIGRTMIN + 1)  # the kick signal


def test_resource_on_two_controllers(ctl: Controller) -> None:
    res = Resource("r")
    ctl.line("a", 1, lambda: None, uses=[res])
    with (
        Controller(signum=signal.SIGRTMIN + 2) as other,
        pytest.raises(ControllerError, match="one Resource per controller"),
    ):
        other.line("b", 1, lambda: None, uses=[res])


def test_bad_masking_and_kick() -> None:
    with pytest.raises(ValueError, match="optimistic"):
        Resource("r", masking="basepri")
    with pytest.raises(ValueError, match="interrupt_main"):
        Controller(kick="telepathy")


def test_all_errors_share_a_base() -> None:
    for err in (InvalidPriority, LineExists, ControllerClosed, UnusedResource, SignalInUse):
        assert issubclass(err, ControllerError)


def test_second_controller_on_the_same_kick_signal(ctl: Controller) -> None:
    with pytest.raises(SignalInUse, match="another open Controller"):
        Controller()
    with Controller(signum=signal.SIGRTMIN + 6) as other:
        assert not other.closed


_CLOSE_UNDER_FIRE = """
import threading
from irqio.controller import Controller, ControllerClosed
for round in range(20):
    ctl = Controller()
    line = ctl.line("x", 1, lambda: None)
    go = threading.Event()
    def hammer():
        go.wait()
        try:
            while True:
                line.pend()
        except ControllerClosed:
            pass
    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    go.set()
    for _ in range(20000):
        pass
    ctl.close()
    for t in threads:
        t.join()
print("survived")
"""


def test_close_while_other_threads_pend_never_kills_the_process() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _CLOSE_UNDER_FIRE], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "survived" in out.stdout


_KICK_IN_FLIGHT = """
import signal, threading
from irqio.controller import Controller
ctl = Controller()
sig = ctl._signum
signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
signal.pthread_kill(threading.get_ident(), sig)  # a kick sent but not yet delivered
ctl.close()  # must consume it before restoring SIG_DFL
signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})  # a leftover kick would kill us here
print("survived")
"""


def test_close_consumes_a_kick_in_flight() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _KICK_IN_FLIGHT], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, (out.returncode, out.stderr)
    assert "survived" in out.stdout


def test_close_from_another_thread_is_refused_and_changes_nothing(ctl: Controller) -> None:
    """close() restores signal handlers, which only the main thread can do: from another
    thread it must say so, not leave irqio's handler installed on a closed controller."""
    import threading

    from irqio.controller import WrongThread

    ran: list[int] = []
    line = ctl.line("x", 1, lambda: ran.append(1))
    kick_handler = signal.getsignal(ctl._signum)
    errors: list[BaseException] = []

    def close_there() -> None:
        try:
            ctl.close()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=close_there)
    t.start()
    t.join()
    assert len(errors) == 1 and isinstance(errors[0], WrongThread), errors
    assert "ask that thread to close it" in str(errors[0])
    assert not ctl.closed
    assert signal.getsignal(ctl._signum) == kick_handler  # still ours, still working
    line.pend()
    assert ran == [1]
    ctl.close()  # from its own thread: restores (the autouse fixture checks it)
    assert ctl.closed
