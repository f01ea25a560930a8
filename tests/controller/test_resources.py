"""Resources: derived ceilings, optimistic masking, the SRP guarantee, critical(), sigmask."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from irqio.controller import (
    CRITICAL,
    CeilingViolation,
    Controller,
    Line,
    NotHeld,
    OutOfOrderRelease,
    WrongThread,
)
from irqio.controller.resource import Resource

from ._helpers import spin_until


def test_ceiling_is_the_highest_user_priority(ctl: Controller) -> None:
    a, b, c = Resource("a"), Resource("b"), Resource("c")
    ctl.line("l1", 1, lambda: None, uses=[a])
    ctl.line("l3", 3, lambda: None, uses=[a, b])
    ctl.line("l2", 2, lambda: None, uses=[b])
    ctl.task_uses(c)
    assert (a.ceiling, b.ceiling, c.ceiling) == (3, 3, 0)
    ctl.line("l5", 5, lambda: None, uses=[c])
    assert c.ceiling == 5  # recomputed on every registration, never set by hand
    assert sorted(a.users) == ["l1", "l3"]
    assert "task" in c.users
    assert ctl.critical().ceiling == CRITICAL


def test_line_at_or_under_ceiling_pends_until_it_drops(ctl: Controller) -> None:
    res = Resource("fifo")
    log: list[str] = []
    ctl.line("drv", 2, lambda: log.append("drv"), uses=[res])
    low = ctl.line("low", 1, lambda: log.append("low"))
    at = ctl.line("at", 2, lambda: log.append("at"))
    above = ctl.line("above", 3, lambda: log.append("above"))
    ctl.task_uses(res)
    with res:
        assert ctl.ceiling == 2
        low.pend()
        at.pend()
        above.pend()  # above the ceiling: preempts the section
        log.append("section")
    log.append("after")
    # `at` ran the moment the ceiling dropped (inside __exit__), `low` too (0 < 1 after exit).
    assert log == ["above", "section", "at", "low", "after"]
    assert ctl.ceiling == 0


def test_nested_resources_restore_ceiling_lifo(ctl: Controller) -> None:
    r1, r2 = Resource("r1"), Resource("r2")
    log: list[str] = []
    ctl.line("l1", 1, lambda: log.append("l1"), uses=[r1])
    l2 = ctl.line("l2", 2, lambda: log.append("l2"), uses=[r2])
    l1 = ctl.lines()[0]
    ctl.task_uses(r1, r2)
    with r1:
        with r2:
            l1.pend()
            l2.pend()
            assert ctl.ceiling == 2
        assert log == ["l2"]  # r2's exit dropped the ceiling to 1: l2 ran, l1 still masked
        assert ctl.ceiling == 1
    assert log == ["l2", "l1"]


def test_handler_entering_undeclared_resource_raises(ctl: Controller) -> None:
    res = Resource("shared")
    ctl.line("owner", 2, lambda: None, uses=[res])
    errors: list[BaseException | None] = []
    ctl.on_failure = lambda line, failure: errors.append(failure.error)

    def sneaky() -> None:
        with res:
            pass

    ctl.line("sneaky", 1, sneaky).pend()
    assert len(errors) == 1
    assert isinstance(errors[0], CeilingViolation)
    assert "'sneaky'" in str(errors[0]) and "uses=" in str(errors[0])
    assert ctl.ceiling == 0


def test_task_entering_undeclared_resource_raises(ctl: Controller) -> None:
    res = Resource("shared")
    ctl.line("owner", 2, lambda: None, uses=[res])
    with pytest.raises(CeilingViolation, match="task_uses"), res:
        pass
    ctl.task_uses(res)
    with res:
        assert ctl.ceiling == 2


def test_critical_masks_every_line(ctl: Controller) -> None:
    log: list[str] = []
    lines = [ctl.line(f"p{p}", p, lambda p=p: log.append(f"p{p}")) for p in (1, 5, 255)]
    with ctl.critical():
        for line in lines:
            line.pend()
        assert log == []
    assert log == ["p255", "p5", "p1"]


def test_critical_masks_foreign_pends_too(ctl: Controller) -> None:
    ran = threading.Event()
    line = ctl.line("x", 9, ran.set)
    with ctl.critical():
        t = threading.Thread(target=line.pend)
        t.start()
        t.join()
        spin_until(lambda: line.pends == 1, what="pend")
        for _ in range(100000):  # give the kick signal every chance to run the handler
            pass
        assert not ran.is_set()
    assert ran.is_set()
    assert line.blame["critical()"][0] == 1


def test_guarantee_at_most_one_lower_section(ctl: Controller) -> None:
    """H (priority 2) shares R with the task and with L (priority 1), and L also enters R.
    While the task holds R, both are pended. When the task's section ends, H runs before L
    can start (and so before L can enter R again): H was delayed by one section only."""
    res = Resource("R")
    log: list[str] = []

    def low() -> None:
        log.append("L:start")
        with res:
            log.append("L:section")

    def high() -> None:
        log.append("H")
        with res:
            pass

    L = ctl.line("L", 1, low, uses=[res])
    H = ctl.line("H", 2, high, uses=[res])
    ctl.task_uses(res)
    with res:
        L.pend()
        H.pend()
        log.append("task:section")
    assert log == ["task:section", "H", "L:start", "L:section"]
    assert H.blame["R"][0] == 1  # one blocking, blamed on the task's section of R


def test_section_below_the_line_does_not_delay_it(ctl: Controller) -> None:
    low_res = Resource("low")
    ctl.line("drv", 1, lambda: None, uses=[low_res])
    ctl.task_uses(low_res)
    ran: list[int] = []
    urgent = ctl.line("urgent", 3, lambda: ran.append(ctl.ceiling))
    with low_res:
        urgent.pend()
        assert ran == [1]  # ran inside the section, ceiling 1 < 3
    assert urgent.blame == {}


def test_no_deadlock_with_opposite_nesting_orders(ctl: Controller) -> None:
    a, b = Resource("a"), Resource("b")
    log: list[str] = []

    def handler() -> None:
        with b, a:  # opposite order to the task
            log.append("handler")

    h = ctl.line("h", 2, handler, uses=[a, b])
    ctl.task_uses(a, b)
    for _ in range(3):
        with a:
            h.pend()  # masked: ceiling(a) = 2
            with b:
                log.append("task")
    assert log == ["task", "handler"] * 3


def test_resource_from_another_thread_is_refused(ctl: Controller) -> None:
    res = Resource("r")
    ctl.task_uses(res)
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with res:
                pass
        except WrongThread as exc:
            errors.append(exc)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(errors) == 1


def test_sigmask_resource_blocks_signal_until_exit(ctl: Controller) -> None:
    sig = signal.SIGRTMIN + 4
    res = Resource("dev", masking="sigmask")
    log: list[str] = []
    ext = ctl.line("ext", 1, lambda: log.append("ext"), uses=[res], signal=sig)
    ctl.task_uses(res)
    with res:
        # Thread-directed, as a line's device would aim it: a process-directed kill() goes to
        # any thread that does not block the signal, and the test process has others (Ray's).
        signal.pthread_kill(threading.main_thread().ident or 0, sig)
        for _ in range(200000):
            pass
        # blocked at the kernel: the Python handler did not even run, nothing was pended
        assert ext.pends == 0
        assert int(sig) in {int(s) for s in signal.sigpending()}
        log.append("section")
    assert log == ["section", "ext"]
    assert ext.runs == 1
    assert int(sig) not in {int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])}


def test_optimistic_resource_lets_signal_pend_but_not_run(ctl: Controller) -> None:
    sig = signal.SIGRTMIN + 4
    res = Resource("dev")
    log: list[str] = []
    ext = ctl.line("ext", 1, lambda: log.append("ext"), uses=[res], signal=sig)
    ctl.task_uses(res)
    code = f"import os; os.kill({os.getpid()}, {int(sig)})"
    with res:
        subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
        spin_until(lambda: ext.pends == 1, what="the signal to pend the line")
        log.append("section")
    assert log == ["section", "ext"]


def test_lines_returned_are_lines(ctl: Controller) -> None:
    line = ctl.line("a", 1, lambda: None)
    assert isinstance(line, Line)
    assert ctl.lines() == [line]


# -- sections nest (LIFO): misuse is reported, and nothing stays masked ----------------------


def _enter(res: Resource) -> None:
    res.__enter__()


def _exit(res: Resource) -> None:
    res.__exit__(None, None, None)


def test_release_out_of_order_raises_and_the_later_section_still_masks(ctl: Controller) -> None:
    """enter lo, enter hi, exit lo: hi is still held, so its ceiling must hold; once hi is
    released too, nothing may stay masked."""
    lo, hi = Resource("lo"), Resource("hi")
    log: list[tuple[str, int]] = []
    l1 = ctl.line("l1", 1, lambda: log.append(("l1", ctl.ceiling)), uses=[lo])
    l3 = ctl.line("l3", 3, lambda: log.append(("l3", ctl.ceiling)), uses=[hi])
    ctl.task_uses(lo, hi)
    _enter(lo)
    _enter(hi)
    with pytest.raises(OutOfOrderRelease, match=r"'lo' was released while 'hi' \(entered"):
        _exit(lo)
    assert ctl.ceiling == 3  # hi is held: its ceiling stays
    l3.pend()
    l1.pend()
    assert log == []  # neither ran inside hi's section
    _exit(hi)
    assert log == [("l3", 0), ("l1", 0)]  # both ran at hi's exit, nothing masked any more
    assert ctl.ceiling == 0 and ctl._held == []
    l1.pend()
    assert log[-1] == ("l1", 0)  # and later pends run at once
    assert l3.blame["hi"][0] == 1 and l1.blame["hi"][0] == 1


def test_release_out_of_order_runs_what_the_outer_one_masked(ctl: Controller) -> None:
    """enter hi, enter lo, exit hi: the ceiling drops to lo's, so a line above lo runs at once,
    before the error; a line under lo waits for lo."""
    lo, hi = Resource("lo"), Resource("hi")
    log: list[str] = []
    l1 = ctl.line("l1", 1, lambda: log.append("l1"), uses=[lo])
    l3 = ctl.line("l3", 3, lambda: log.append("l3"), uses=[hi])
    ctl.task_uses(lo, hi)
    _enter(hi)
    _enter(lo)
    l1.pend()
    l3.pend()
    with pytest.raises(OutOfOrderRelease, match=r"'hi' was released while 'lo'.*now 1"):
        _exit(hi)
    assert log == ["l3"] and ctl.ceiling == 1
    _exit(lo)
    assert log == ["l3", "l1"] and ctl.ceiling == 0


def test_release_out_of_order_among_three_names_every_later_one(ctl: Controller) -> None:
    a, b, c = Resource("a"), Resource("b"), Resource("c")
    for i, res in enumerate((a, b, c), start=1):
        ctl.line(f"l{i}", i, lambda: None, uses=[res])
    ctl.task_uses(a, b, c)
    for res in (a, b, c):
        _enter(res)
    with pytest.raises(OutOfOrderRelease, match=r"'a' was released while 'b', 'c' .* are still"):
        _exit(a)
    assert ctl.ceiling == 3
    _exit(c)
    assert ctl.ceiling == 2  # b's own ceiling: what a contributed is gone
    _exit(b)
    assert ctl.ceiling == 0 and ctl._holder is None


def test_release_twice_is_not_held(ctl: Controller) -> None:
    res = Resource("buf")
    ran: list[int] = []
    line = ctl.line("l", 1, lambda: ran.append(ctl.ceiling), uses=[res])
    ctl.task_uses(res)
    with res:
        pass
    with pytest.raises(NotHeld, match=r"'buf' was released but is not held.*twice"):
        _exit(res)
    assert ctl.ceiling == 0
    line.pend()
    assert ran == [0]
    with pytest.raises(NotHeld, match="is not held"):
        _exit(Resource("orphan"))


def test_same_resource_nested_twice_is_lifo(ctl: Controller) -> None:
    res = Resource("r")
    ctl.line("l", 2, lambda: None, uses=[res])
    ctl.task_uses(res)
    with res:
        with res:
            assert ctl.ceiling == 2
        assert ctl.ceiling == 2
    assert ctl.ceiling == 0 and ctl._held == []


def test_release_out_of_order_keeps_the_signal_mask_of_what_is_held(ctl: Controller) -> None:
    s1, s2 = signal.SIGRTMIN + 4, signal.SIGRTMIN + 5
    a, b = Resource("a", masking="sigmask"), Resource("b", masking="sigmask")
    ctl.line("e1", 1, lambda: None, uses=[a], signal=s1)
    ctl.line("e2", 2, lambda: None, uses=[b], signal=s2)
    ctl.task_uses(a, b)

    def blocked() -> set[int]:
        return {int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])} & {s1, s2}

    _enter(a)
    _enter(b)
    assert blocked() == {s1, s2}
    with pytest.raises(OutOfOrderRelease):
        _exit(a)
    assert blocked() == {s1, s2}  # b is held, and its ceiling (2) covers both lines
    _exit(b)
    assert blocked() == set()


def test_tasks_interleaving_sections_across_awaits_get_the_order_error() -> None:
    """The way out-of-order release happens with `with` blocks: two tasks each hold a section
    across an await. Debug mode reports both holds; the first release is out of order."""
    import asyncio

    async def main() -> dict[str, str]:
        loop = asyncio.get_running_loop()
        reported: list[str] = []
        loop.set_exception_handler(
            lambda loop, ctx: reported.append(type(ctx["exception"]).__name__)
        )
        outcome: dict[str, str] = {}
        with Controller(debug=True) as ctl:
            lo, hi = Resource("lo"), Resource("hi")
            ctl.line("l1", 1, lambda: None, uses=[lo])
            ctl.line("l3", 3, lambda: None, uses=[hi])
            ctl.task_uses(lo, hi)
            a_go, b_go = asyncio.Event(), asyncio.Event()

            async def task(name: str, res: Resource, go: asyncio.Event) -> None:
                try:
                    with res:
                        await go.wait()
                except Exception as exc:
                    outcome[name] = type(exc).__name__

            ta = asyncio.create_task(task("a", lo, a_go))
            await asyncio.sleep(0)
            tb = asyncio.create_task(task("b", hi, b_go))
            await asyncio.sleep(0)
            a_go.set()
            await ta
            assert ctl.ceiling == 3  # b still holds hi
            b_go.set()
            await tb
            outcome["ceiling"] = str(ctl.ceiling)
        outcome["reported"] = ",".join(sorted(reported))
        return outcome

    assert asyncio.run(main()) == {
        "a": "OutOfOrderRelease",
        "b": "HeldAcrossAwait",
        "ceiling": "0",
        "reported": "HeldAcrossAwait,HeldAcrossAwait",
    }
