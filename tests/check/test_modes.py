"""PCT, the portfolio, shrinking and the conflicting pair."""

import check_then_act_flag
import naive_event_5795

from irqio.check import explore


def test_pct_finds_5795_and_states_its_probability_bound() -> None:
    sc = naive_event_5795.naive_event_set_during_task_queue_update
    a = explore(sc, mode="pct", seed=3, runs=3000)
    b = explore(sc, mode="pct", seed=3, runs=3000)
    assert not a.ok
    assert (a.replay, a.schedules_run) == (b.replay, b.schedules_run)
    n = len(a.contexts) + 1  # task context and the handler
    assert a.pct_depth == 2
    assert a.pct_steps is not None and a.pct_steps > a.points  # k: the whole run's points
    assert a.pct_bound is not None and abs(a.pct_bound - 1 / (n * a.pct_steps)) < 1e-12
    assert "probability >=" in a.report()
    assert explore(sc, replay=a.replay).invariant == a.invariant


def test_pct_depth_one_never_preempts() -> None:
    sc = naive_event_5795.naive_event_set_during_task_queue_update
    result = explore(sc, mode="pct", seed=1, runs=200, depth=1)
    assert result.ok  # no change point: the handler only ever fires as priorities order it


def test_portfolio_finds_the_bug_and_names_the_strategy() -> None:
    result = explore(check_then_act_flag.hand_written_flag, mode="portfolio", seed=1, runs=500)
    assert not result.ok
    assert result.strategy == "exhaustive, 1 preemption"


def test_a_random_counterexample_is_shrunk_to_an_earlier_failing_schedule() -> None:
    sc = naive_event_5795.naive_event_set_during_task_queue_update
    result = explore(sc, mode="random", seed=3, runs=3000)
    assert not result.ok and result.found_as is not None and result.replay is not None
    found = int(result.found_as.split("@")[1])
    shrunk = int(result.replay.split("@")[1])
    assert shrunk <= found
    again = explore(sc, replay=result.replay)
    assert not again.ok and again.invariant == result.invariant
    unshrunk = explore(sc, mode="random", seed=3, runs=3000, shrink_failures=False)
    assert unshrunk.replay == result.found_as


def test_the_report_names_the_racing_accesses() -> None:
    result = explore(check_then_act_flag.hand_written_flag)
    assert result.conflict is not None
    steps = [(s.context, s.what, s.where.rsplit(":", 1)[-1]) for s in result.conflict.steps]
    assert steps[0] == ("task", "reads .state", "35")  # if not self.state:
    assert steps[1][0:2] == ("isr", "writes .state")  # self.state = True
    assert ("task", "writes .task", "36") in steps  # self.task = ... too late
    assert "conflict (the racing accesses, in run order):" in result.report()
