"""After a thread's end (or a spin step that gave its CPU back to task context): every placement
but task context's take-back is in the search's tree, the paused thread's resumption among
them, and the partial-order reduction stays sound there (a class never spans the switch)."""

import sys
from pathlib import Path

from irqio.check import Setup, explore, scenario
from irqio.check.outcome import TASK
from irqio.check.search import CPU, Switch, choices, cpu_at, free_contexts, segments

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "check"


class Cell:
    def __init__(self) -> None:
        self.x = 0
        self.y = 0


ENDS: set[tuple[int, int]] = set()  # the end states of the runs of `thread_and_handler`


@scenario(preemptions=2, modules=["@scenario"])
def thread_and_handler(s: Setup) -> None:
    # A thread and a handler that may each land before or after the other's accesses, the
    # handler also after the thread has ended: the orders give many end states.
    cell = Cell()

    def task() -> None:
        a = cell.x
        cell.x = a + 1
        b = cell.y
        cell.y = b * 2 + 1
        cell.x = cell.x * 5

    def thread() -> None:
        cell.x = cell.x + 10
        cell.y = cell.y + 1

    def isr() -> None:
        cell.y = cell.y + 100
        cell.x = cell.x * 3

    def record() -> bool:
        ENDS.add((cell.x, cell.y))
        return True

    s.task(task)
    s.thread(thread, "t")
    s.handler(isr, "isr")
    s.at_end(record, "recorded")


def _end_states(**options: object) -> tuple[set[tuple[int, int]], int]:
    ENDS.clear()
    result = explore(thread_and_handler, first_runs=False, **options)  # type: ignore[arg-type]
    assert result.ok
    return set(ENDS), result.schedules_run


def test_the_reduction_reaches_every_end_state_after_a_thread_ended() -> None:
    reduced, runs = _end_states()
    full, full_runs = _end_states(reduce=False)
    assert reduced == full
    assert runs < full_runs
    # The thread between task context's read and write of x (its x lost, its y kept: b = 1),
    # then, after the thread's end, the handler between the read and the write of y (its y
    # lost, its x kept: (1 * 3) * 5): a state only a handler placed after the end reaches.
    assert (15, 3) in full


def test_two_processes_cut_the_same_tree_after_a_thread_ended() -> None:
    serial = explore(thread_and_handler, first_runs=False)
    split = explore(thread_and_handler, first_runs=False, jobs=2)
    assert (split.schedules_run, split.pruned) == (serial.schedules_run, serial.pruned)


def test_the_tree_after_a_thread_placement() -> None:
    names, threads = ["t", "isr"], {"t"}
    prefix = [(2, "t")]
    # while the thread runs: the handler, or task context taking the CPU back
    assert free_contexts(prefix, names, threads) == ["isr", TASK]
    # after its end: the handler only (a take-back there would take nothing back)
    assert free_contexts(prefix, names, threads, CPU(None, frozenset({"t"}))) == ["isr"]
    ended: tuple[Switch, ...] = ((5, 1, "t", "end"),)
    assert segments(prefix, threads, 10, ended) == [
        (3, 5, CPU("t")),
        (5, 10, CPU(None, frozenset({"t"}))),
    ]
    assert choices(prefix, names, threads, 10, ended) == {
        "isr": [range(3, 10)],
        TASK: [range(3, 5)],
    }
    # taken back (or given back by a spin step), the thread is paused: it may resume
    assert free_contexts([(2, "t"), (4, TASK)], names, threads) == ["isr", "t"]
    paused: tuple[Switch, ...] = ((6, 1, "t", "pause"),)
    assert choices(prefix, names, threads, 10, paused) == {
        "isr": [range(3, 10)],
        TASK: [range(3, 6)],
        "t": [range(6, 10)],
    }
    # a switch before the last placement counts too: the handler landed in task context
    assert cpu_at([(2, "t"), (8, "isr")], threads, paused, 9) == CPU(None)


class Spinner:
    def __init__(self) -> None:
        self.a = 0
        self.go = False
        self.val = 0
        self.seen = -1


@scenario(preemptions=2, modules=["@scenario"], spin_points=50)
def resume_after_a_spin(s: Setup) -> None:
    # core1 publishes `a`, then spins until task context says go; it must see the transient
    # val = 1 to fail: it runs first (t@0), its spin gives the CPU back to task context (a
    # spin step, not a placement), and it resumes between task context's two stores of val.
    st = Spinner()

    def core1() -> None:
        st.a = 1
        while not st.go:
            pass
        st.seen = st.val

    def task() -> None:
        x = st.a
        st.go = True
        st.val = x
        st.val = 2

    s.task(task)
    s.thread(core1, "t")
    s.at_end(lambda: st.seen != 1, "core1 never sees the transient 1")


def test_a_thread_resumed_after_its_spin_step_fails_on_replay() -> None:
    # Two placements: the thread, then its resumption after the spin gave the CPU back.
    assert explore(resume_after_a_spin, replay="t@0,t@57").verdict == "BROKEN"
    # the search reaches it with three (thread, take-back before the spin, resume)
    assert explore(resume_after_a_spin, preemptions=3, first_runs=False).verdict == "BROKEN"


def test_the_search_resumes_a_thread_paused_by_a_spin_step() -> None:
    # The spin step is not a placement, and the thread's resumption after it is one: two.
    for options in ({}, {"reduce": False}, {"mode": "random", "seed": 0, "runs": 1000}):
        found = explore(resume_after_a_spin, first_runs=False, **options)  # type: ignore[arg-type]
        assert found.verdict == "BROKEN"
        assert explore(resume_after_a_spin, replay=found.replay).verdict == "BROKEN"


def test_two_processes_cut_the_same_tree_after_a_spin() -> None:
    # A spin step hands the CPU back with no placement: the split must cut at it as the
    # serial search does (the seqlock example's reader spins on the other core's writer).
    sys.path.insert(0, str(EXAMPLES))
    try:
        import seqlock_spin
    finally:
        sys.path.remove(str(EXAMPLES))
    for sc in (seqlock_spin.read_on_another_core, resume_after_a_spin):
        serial = explore(sc, preemptions=2, first_runs=False)
        split = explore(sc, preemptions=2, first_runs=False, jobs=2)
        assert (serial.verdict, serial.schedules_run, serial.pruned, serial.replay) == (
            split.verdict,
            split.schedules_run,
            split.pruned,
            split.replay,
        ), sc.name
