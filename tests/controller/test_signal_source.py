"""SignalSource: signals taken by a watcher thread with sigwaitinfo, into a Queue or a Line."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

import irqio
from irqio.controller import Controller, ControllerClosed, SignalInUse, WrongThread
from irqio.controller.signal_source import SignalSource

from ._helpers import spin_until, wait_until

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "sigwaitinfo"), reason="SignalSource needs signal.sigwaitinfo"
)

SIG = signal.SIGRTMIN + 5  # real-time: queued one by one, so every arrival counts
SIG2 = signal.SIGRTMIN + 6

SENDER = """
import os, sys
pid, sig, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for _ in range(n):
    os.kill(pid, sig)
"""


def send_to_the_watcher(src: SignalSource, sig: int, n: int) -> None:
    """`n` signals aimed at the source's watcher thread (one way the docs give). In this test
    process a process-directed kill() could land in a thread of an earlier test that does not
    block the signal (some are started in C); the tests of process-directed delivery run in a
    fresh interpreter below."""
    assert src.ident is not None
    for _ in range(n):
        signal.pthread_kill(src.ident, sig)


def blocked_here() -> set[int]:
    return {int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])}


def drain(q: irqio.Queue[signal.struct_siginfo]) -> list[signal.struct_siginfo]:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except irqio.QueueEmpty:
            return out


@pytest.fixture
def queue() -> Iterator[irqio.Queue[signal.struct_siginfo]]:
    yield irqio.Queue(4096)


def test_signals_from_another_process_reach_the_queue() -> None:
    """In a fresh interpreter: a process-directed signal goes to any thread that does not block
    it, and the test process has threads of earlier tests (some started in C, unseen by
    `threading`) that a SignalSource made later cannot block."""
    code = f"""
import os, signal, subprocess, sys, time, irqio
from irqio.controller.signal_source import SignalSource
SIG = signal.SIGRTMIN + 5
def blocked():
    return {{int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])}}
q = irqio.Queue(4096)
before = blocked()
with SignalSource(q, [SIG]) as src:
    assert int(SIG) in blocked()  # blocked in the main thread: no handler runs
    subprocess.run([sys.executable, "-c", {SENDER!r}, str(os.getpid()), str(int(SIG)), "200"],
                   check=True, timeout=60)
    deadline = time.monotonic() + 30
    while src.received < 200 and time.monotonic() < deadline:
        time.sleep(0.001)
    items = []
    while len(q):
        items.append(q.get_nowait())
print("items", len(items), "refused", src.refused, "stray", src.stray.value)
print("signo", sorted({{i.si_signo for i in items}}) == [int(SIG)])
print("sender", all(i.si_pid not in (0, os.getpid()) for i in items))
print("restored", blocked() == before, src.closed, src.ident)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=90, check=True
    ).stdout.splitlines()
    assert out == [
        "items 200 refused 0 stray 0",
        "signo True",
        "sender True",  # the sender's pid, not ours
        "restored True True None",  # unblocked again on close
    ]


def test_a_busy_main_thread_runs_no_handler_and_loses_nothing() -> None:
    """In a fresh interpreter (no thread but the watcher): the main thread spins in Python
    while another process sends 2,000 real-time signals. No Python handler runs in the main
    thread (the fallback handler counts `stray`), and every signal is in the queue."""
    code = f"""
import os, signal, subprocess, sys, time, irqio
from irqio.controller.signal_source import SignalSource
q = irqio.Queue(4096)
src = SignalSource(q, [signal.SIGRTMIN + 5])
sender = subprocess.Popen([sys.executable, "-c", {SENDER!r}, str(os.getpid()),
                           str(int(signal.SIGRTMIN + 5)), "2000"])
deadline = time.monotonic() + 30
spins = 0
while src.received < 2000 and time.monotonic() < deadline:
    spins += 1  # CPU-bound Python: a handler would run at any of these bytecodes
sender.wait()
print("received", src.received, "queued", len(q), "refused", src.refused,
      "stray", src.stray.value)
src.close()
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=90, check=True
    ).stdout
    assert out.split() == ["received", "2000", "queued", "2000", "refused", "0", "stray", "0"]


NESTING = """
import os, signal, time, irqio
from irqio.controller.signal_source import SignalSource
SIG, N = signal.SIGRTMIN + 5, 3000

class Flood:
    # Each delivery makes the next signal arrive before it returns: a flood faster than the
    # code that takes it. kill() to our own process delivers before it returns.
    def __init__(self):
        self.q = irqio.Queue(8192)
        self.depth = self.max = self.sent = self.errors = 0
    def take(self):
        self.depth += 1
        try:
            self.max = max(self.max, self.depth)
            if self.sent < N:
                self.sent += 1
                os.kill(os.getpid(), SIG)
            self.q.offer(self.sent)
        except RecursionError:
            self.errors += 1
        finally:
            self.depth -= 1
    def offer(self, info):
        self.take()
        return True

def report(name, flood):
    print(name, flood.max, flood.errors, len(flood.q), flood.sent + 1)

plain = Flood()
signal.signal(SIG, lambda s, f: plain.take())
os.kill(os.getpid(), SIG)
signal.signal(SIG, signal.SIG_DFL)
report("plain", plain)

flood = Flood()
with SignalSource(flood, [SIG]) as src:
    os.kill(os.getpid(), SIG)
    deadline = time.monotonic() + 30
    while src.received < N + 1 and time.monotonic() < deadline:
        time.sleep(0.001)
report("source", flood)
"""


def test_an_arrival_during_delivery_waits_instead_of_nesting() -> None:
    """The storm's failure, made deterministic: every delivery makes the next signal arrive
    before it returns. A plain handler nests inside itself until RecursionError (CPython
    offers no way out: the control); a SignalSource's thread takes the next signal after the
    current delivery, 3,001 times, one deep, nothing lost."""
    out = subprocess.run(
        [sys.executable, "-c", NESTING], capture_output=True, text=True, timeout=90, check=True
    ).stdout
    rows = {line.split()[0]: [int(x) for x in line.split()[1:]] for line in out.splitlines()}
    depth, errors, queued, sent = rows["plain"]
    assert depth > 100 and errors >= 1 and queued < sent  # nested, and lost items
    assert rows["source"] == [1, 0, 3001, 3001]


def test_a_line_is_pended_once_per_signal(ctl: Controller) -> None:
    ran: list[int] = []
    line = ctl.line("ext", 2, lambda: ran.append(threading.get_ident()))
    with SignalSource(line, [SIG]) as src:
        send_to_the_watcher(src, SIG, 50)
        spin_until(lambda: line.runs + line.merged == 50, what="50 pends")
    assert src.received == 50 and line.pends == 50
    assert set(ran) == {threading.get_ident()}  # handlers ran in the controller's thread


def test_a_line_of_a_controller_in_another_thread() -> None:
    """`signal=` needs a main-thread controller; a SignalSource feeds any controller's line."""
    ran = threading.Event()
    ready = threading.Event()
    stop = threading.Event()
    box: dict[str, object] = {}

    async def loop_thread() -> None:
        # Started before the source: block its signal here, as the docs say, so the kernel
        # never hands it to this thread.
        signal.pthread_sigmask(signal.SIG_BLOCK, [SIG])
        ctl = Controller()
        box["line"] = ctl.line("ext", 1, ran.set)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.005)
        box["runs"] = ctl.lines()[0].runs
        ctl.close()

    t = threading.Thread(target=lambda: asyncio.run(loop_thread()))
    t.start()
    try:
        assert ready.wait(5)
        line = box["line"]
        assert isinstance(line, irqio.Line)
        with SignalSource(line, [SIG]) as src:
            send_to_the_watcher(src, SIG, 1)
            assert ran.wait(5)
    finally:
        stop.set()
        t.join(5)
    assert box["runs"] == 1


def test_close_delivers_what_is_pending_and_restores() -> None:
    """A signal aimed at the main thread (pthread_kill) waits there, blocked; close() takes it
    and delivers it before handing the signal back."""
    q: irqio.Queue[signal.struct_siginfo] = irqio.Queue(16)
    previous = signal.getsignal(SIG)
    src = SignalSource(q, [SIG])
    signal.pthread_kill(threading.get_ident(), SIG)
    assert int(SIG) in {int(s) for s in signal.sigpending()}
    assert len(q) == 0  # the watcher cannot take a signal aimed at another thread
    src.close()
    assert [i.si_signo for i in drain(q)] == [int(SIG)]
    assert signal.getsignal(SIG) == previous
    assert int(SIG) not in blocked_here()
    src.close()  # idempotent


def test_a_thread_that_does_not_block_the_signal_forwards_it() -> None:
    """A thread started before the source does not block the signal; one aimed at it runs the
    fallback handler, which forwards it to the watcher and counts it as stray."""
    q: irqio.Queue[signal.struct_siginfo] = irqio.Queue(16)
    go, done = threading.Event(), threading.Event()
    t = threading.Thread(target=lambda: (go.wait(5), done.wait(5)))
    t.start()  # before the source: its mask does not block SIG
    try:
        with SignalSource(q, [SIG]) as src:
            assert t.ident is not None
            signal.pthread_kill(t.ident, SIG)
            wait_until(lambda: src.received == 1, what="the forwarded signal")
            assert src.stray.value == 1
            assert [i.si_signo for i in drain(q)] == [int(SIG)]
    finally:
        go.set()
        done.set()
        t.join(5)


def test_a_full_queue_refuses_and_counts() -> None:
    q: irqio.Queue[signal.struct_siginfo] = irqio.Queue(4)
    with SignalSource(q, [SIG]) as src:
        send_to_the_watcher(src, SIG, 10)
        wait_until(lambda: src.received == 10, what="10 signals")
    assert (len(q), src.refused, q.overruns) == (4, 6, 6)


def test_controller_close_closes_the_source(ctl: Controller) -> None:
    line = ctl.line("ext", 1, lambda: None)
    src = SignalSource(line, [SIG])
    ctl.close()
    assert src.closed and signal.getsignal(SIG) in (signal.SIG_DFL, None)
    with pytest.raises(ControllerClosed):
        SignalSource(line, [SIG])


def test_bad_use() -> None:
    q: irqio.Queue[signal.struct_siginfo] = irqio.Queue(4)
    with pytest.raises(TypeError, match="feeds a Line"):
        SignalSource(object(), [SIG])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        SignalSource(q, [])
    with pytest.raises(ValueError, match="SIGKILL cannot be waited for"):
        SignalSource(q, [signal.SIGKILL])
    with pytest.raises(ValueError, match="not a valid signal"):
        SignalSource(q, [0])
    with pytest.raises(TypeError, match="not a signal number"):
        SignalSource(q, ["SIGUSR1"])  # type: ignore[list-item]
    assert signal.getsignal(SIG) in (signal.SIG_DFL, None)  # nothing left behind


def test_signals_in_use_are_refused(ctl: Controller) -> None:
    q: irqio.Queue[signal.struct_siginfo] = irqio.Queue(4)
    with pytest.raises(SignalInUse, match="kick signal of an open Controller"):
        SignalSource(q, [ctl._signum])
    ctl.line("bound", 1, lambda: None, signal=SIG2)
    with pytest.raises(SignalInUse, match="bound to line 'bound'"):
        SignalSource(q, [SIG2])
    with SignalSource(q, [SIG]):
        with pytest.raises(SignalInUse, match="another open SignalSource"):
            SignalSource(q, [SIG])
        with pytest.raises(SignalInUse, match="received by an open SignalSource"):
            ctl.line("late", 1, lambda: None, signal=SIG)
        assert [line.name for line in ctl.lines()] == ["bound"]  # refused before registering


def test_main_thread_only() -> None:
    q: irqio.Queue[signal.struct_siginfo] = irqio.Queue(4)
    errors: list[BaseException] = []

    def there(fn: object) -> None:
        def run() -> None:
            try:
                fn()  # type: ignore[operator]
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=run)
        t.start()
        t.join(5)

    there(lambda: SignalSource(q, [SIG]))
    with SignalSource(q, [SIG]) as src:
        there(src.close)
        assert not src.closed and int(SIG) in blocked_here()
    assert [type(e) for e in errors] == [WrongThread, WrongThread]
    assert "main thread" in str(errors[0]) and "Nothing was changed" in str(errors[1])
