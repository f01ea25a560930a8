"""A foreign thread and task context interleave both ways: the thread can be paused by task
context and resume inside task code later, each switch one preemption of the bound."""

from __future__ import annotations

from irqio.check import Setup, explore, scenario
from irqio.check.engine import TASK


@scenario(preemptions=3, modules=["@scenario"])
def reply_reaches_a_paused_core(s: Setup) -> None:
    # Core 1 raises a request, then answers only if task context has acknowledged it. Task
    # context reads the request, acknowledges, then reads the answer. Seeing both the request
    # and the answer needs core 1 to start before the task's first read, pause, and resume
    # between the acknowledgement and the last read: thread in, task back, thread resumes.
    st = {"request": 0, "ack": 0, "answer": 0, "saw_request": 0, "saw_answer": 0}

    def core1() -> None:
        st["request"] = 1
        if st["ack"] == 1:
            st["answer"] = 1

    def task() -> None:
        st["saw_request"] = st["request"]
        st["ack"] = 1
        st["saw_answer"] = st["answer"]

    s.task(task)
    s.thread(core1, "core1")
    s.at_end(
        lambda: not (st["saw_request"] and st["saw_answer"]),
        "task context never sees both the request and the answer",
    )


def test_two_switches_cannot_reach_it() -> None:
    assert explore(reply_reaches_a_paused_core, preemptions=2).ok


def test_three_switches_find_the_resumed_thread() -> None:
    result = explore(reply_reaches_a_paused_core)
    assert not result.ok
    first, back, again = result.schedule
    assert (first.context, first.kind, first.resumed) == ("core1", "thread", False)
    assert first.inside == "task context"
    assert back.kind == "task" and back.inside == "thread core1"
    assert 'st["ack"] == 1' in back.source  # paused after raising the request
    assert (again.context, again.resumed, again.inside) == ("core1", True, "task context")
    assert 'st["answer"]' in again.source  # resumed just before the task reads the answer
    assert "thread core1 (resumed) preempted task context" in result.report()
    replayed = explore(reply_reaches_a_paused_core, replay=result.replay)
    assert not replayed.ok and replayed.invariant == result.invariant


def test_random_mode_draws_take_backs_and_resumes() -> None:
    # Random walks draw from the same choices as exhaustive mode, resumes included.
    a = explore(reply_reaches_a_paused_core, mode="random", seed=0, runs=3000)
    b = explore(reply_reaches_a_paused_core, mode="random", seed=0, runs=3000)
    assert not a.ok
    assert [p.context for p in a.schedule] == ["core1", TASK, "core1"]
    assert a.schedule[2].resumed
    assert (a.replay, a.schedules_run) == (b.replay, b.schedules_run)  # seeded: the same walk
    assert explore(reply_reaches_a_paused_core, mode="random", seed=0, runs=3000,
                   preemptions=2).ok  # fmt: skip
