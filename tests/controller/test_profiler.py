"""Profiler numbers and blame."""

from __future__ import annotations

import json
import time

from irqio.controller import Controller, Samples
from irqio.controller.profiler import Stats
from irqio.controller.resource import Resource


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_samples_exact_and_bounded() -> None:
    s = Samples(size=8)
    for v in range(1, 21):
        s.add(v * 1000)
    assert (s.count, s.min, s.max, s.total) == (20, 1000, 20000, sum(range(1, 21)) * 1000)
    assert sorted(s.recent()) == [v * 1000 for v in range(13, 21)]  # the last 8 only
    assert sum(s.hist) == 20


def test_line_latency_runtime_and_blame(ctl: Controller) -> None:
    res = Resource("fifo")
    ctl.line("drv", 2, lambda: None, uses=[res])
    urgent = ctl.line("urgent", 2, lambda: _busy(0.001))
    ctl.task_uses(res)
    urgent.pend()  # not held back
    with res:
        urgent.pend()
        _busy(0.005)
    with ctl.critical():
        urgent.pend()
        _busy(0.003)
    stats = ctl.stats()
    assert isinstance(stats, Stats)
    u = stats.line("urgent")
    assert (u.pends, u.runs, u.merged) == (3, 3, 0)
    assert u.latency.count == 3
    assert u.latency.max_ns >= 5_000_000  # waited for the whole 5 ms section
    first, held = ctl.lines()[1].latency.recent()[:2]
    assert first < held  # the first pend ran at once, the second waited for the section
    assert u.runtime.min_ns >= 1_000_000
    assert u.runtime.p50_ns >= 1_000_000
    blame = {b.holder: b for b in u.blame}
    assert set(blame) == {"fifo", "critical()"}
    assert blame["fifo"].times == 1 and blame["fifo"].worst_ns >= 5_000_000
    assert blame["critical()"].worst_ns >= 3_000_000
    assert u.worst_blame == max(u.blame, key=lambda b: b.worst_ns)
    r = stats.resource("fifo")
    assert r.ceiling == 2 and r.hold.count == 1 and r.hold.max_ns >= 5_000_000
    assert r.hold.p99_ns == r.hold.max_ns
    assert stats.resource("critical()").hold.count == 1
    data = json.loads(stats.to_json())
    assert data["lines"][1]["name"] == "urgent"
    assert data["resources"][0]["name"] == "fifo"
    assert sum(data["lines"][1]["latency"]["histogram"].values()) == 3


def test_merged_pends_and_failures_in_stats(ctl: Controller) -> None:
    ctl.on_failure = lambda line, failure: None
    low = ctl.line("low", 1, lambda: 1 / 0)
    with ctl.critical():
        for _ in range(4):
            low.pend()
    s = ctl.stats().line("low")
    assert (s.pends, s.runs, s.merged, s.failures) == (4, 1, 3, 1)


def test_tables_render(ctl: Controller) -> None:
    from rich.console import Console

    from irqio.controller.profiler import tables

    ctl.line("a", 1, lambda: None).pend()
    console = Console(record=True, width=160)
    for t in tables(ctl.stats()):
        console.print(t)
    text = console.export_text()
    assert "lat p99" in text and "a" in text


def test_blame_only_a_resource_whose_ceiling_can_mask_the_line(ctl: Controller) -> None:
    """A foreign pend publishes its line and loses the GIL before sending its kick; meanwhile
    the task leaves a ceiling-1 section, and that exit's dispatch runs the line. A priority-3
    line was never masked by a ceiling-1 resource: no blame. A priority-1 line pended in the
    same section was: blamed. The interleaving is forced by holding the kick, not by timing."""
    import threading

    low = Resource("low")
    ctl.line("drv", 1, lambda: None, uses=[low])
    ctl.task_uses(low)
    urgent = ctl.line("urgent", 3, lambda: None)
    slow = ctl.line("slow", 1, lambda: None)
    published, release = threading.Event(), threading.Event()

    def late_kick() -> None:  # the pender, between publishing and kicking
        published.set()
        release.wait(5)

    ctl._kick = late_kick
    pender = threading.Thread(target=urgent.pend)
    try:
        with low:
            slow.pend()  # own thread, masked by low (1 <= 1): waits for the exit
            pender.start()
            assert published.wait(5), "the foreign pend did not publish"
            assert urgent.runs == 0  # published, not kicked: nothing ran it yet
        # low's exit dispatched both
        assert (urgent.runs, slow.runs) == (1, 1)
    finally:
        release.set()
        pender.join(5)
    assert urgent.blame == {}
    assert set(slow.blame) == {"low"} and slow.blame["low"][0] == 1
    assert [b.holder for b in ctl.stats().line("urgent").blame] == []
