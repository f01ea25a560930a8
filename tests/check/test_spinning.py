"""Spins get a verdict: a spinning core lets task context run, a spinning handler is a livelock."""

import seqlock_spin

from irqio.check import Setup, explore, scenario


def test_a_core_spinning_on_task_context_is_safe() -> None:
    result = explore(seqlock_spin.read_on_another_core)
    assert result.ok, result.report()


def test_a_handler_spinning_on_the_code_it_interrupted_is_a_livelock() -> None:
    result = explore(seqlock_spin.read_in_a_handler)
    assert result.verdict == "LIVELOCK"
    assert result.failure is not None and result.failure.kind == "livelock"
    assert "handler tick_isr spun" in result.failure.text
    (placed,) = result.schedule
    assert placed.context == "tick_isr" and placed.function == "Stamp.write"


@scenario(modules=["@scenario"], spin_points=300)
def task_waits_for_core1(s: Setup) -> None:
    st = {"ready": False, "seen": False}

    def core1() -> None:
        st["ready"] = True

    def task() -> None:
        while not st["ready"]:
            pass
        st["seen"] = True

    s.task(task)
    s.thread(core1, "core1")
    s.at_end(lambda: st["seen"], "task context saw core1's flag")


@scenario(modules=["@scenario"], spin_points=300)
def task_waits_for_nobody(s: Setup) -> None:
    st = {"ready": False}

    def task() -> None:
        while not st["ready"]:
            pass

    s.task(task)
    s.handler(lambda: None, "isr")


@scenario(modules=["@scenario"], spin_points=300)
def core1_waits_after_the_end(s: Setup) -> None:
    st = {"ack": False}

    def core1() -> None:
        while not st["ack"]:
            pass

    s.task(lambda: None)
    s.thread(core1, "core1")


def _spin_untraced(st: dict[str, bool]) -> None:
    while not st["ready"]:
        pass


@scenario(modules=["irqio.runtime.primitives"], run_seconds=0.5)
def spin_outside_the_traced_code(s: Setup) -> None:
    st = {"ready": False}
    s.task(lambda: _spin_untraced(st))


def test_task_context_spinning_on_a_core_lets_the_core_run() -> None:
    result = explore(task_waits_for_core1)
    assert result.ok, result.report()


def test_task_context_spinning_on_nothing_is_a_livelock() -> None:
    result = explore(task_waits_for_nobody)
    assert result.verdict == "LIVELOCK"
    assert "nothing is left that could end its wait" in (result.invariant or "")
    # The handler ran while task context spun, as it would have when it idled.
    (fired,) = result.schedule
    assert fired.context == "isr" and fired.when.startswith("spun 300 points at ")
    assert "test_spinning.py" in fired.when


def test_a_core_spinning_after_task_context_ended_is_a_livelock() -> None:
    result = explore(core1_waits_after_the_end)
    assert result.verdict == "LIVELOCK"
    assert "after task context ended" in (result.invariant or "")
    assert len(result.schedule) == 1  # no resume that never happened


def test_a_spin_in_untraced_code_is_stopped_by_the_watchdog() -> None:
    result = explore(spin_outside_the_traced_code)
    assert result.verdict == "LIVELOCK"
    assert "not traced" in (result.invariant or "")
