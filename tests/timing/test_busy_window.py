"""The busy window: a later job of a line can start later than its first (docs/timing.md, "The
analysis")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from irqio.timing import load_system
from irqio.timing.analysis import analyze, busy_window, line_by_name, response_time
from irqio.timing.model import simulate

# rp2040, all code in RAM, cpi 1: entry 15, exit 10, flash miss 56 (charged once per preemption).
JITTERY = """
[system]
name = "jittery"
chip = "rp2040"
policies = ["global"]
[[lines]]
name = "low"
priority = 1
nvic = "IRQ_LOW"
arrival = { kind = "periodic", period_cycles = 3000, jitter_cycles = 2500 }
handler = { instructions = 1000, placement = "ram" }
[[lines]]
name = "high"
priority = 2
nvic = "IRQ_HIGH"
arrival = { kind = "periodic", period_cycles = 5000 }
handler = { instructions = 100, placement = "ram" }
[background]
name = "idle"
"""


def test_the_issues_example_by_hand() -> None:
    # low: own job C = 15 + 1000 = 1015, first cost F = 15; high: C = 15 + 100 + 10 + 56 = 181.
    # Job 0 (released at 0):   start w = 15 + 181 = 196;         finish w = 1015 + 181 = 1196.
    # 1196 > r_1 = 3000 - 2500 = 500, so job 1 is in the window:
    # Job 1 (released at 500): start w = 1015 + 15 + 181 = 1211, S = 711;
    #                          finish w = 2030 + 181 = 2211,     R = 1711.
    # 2211 <= r_2 = 3500: the window closes. pyCPA's busy-window analysis gives R = 1711 too.
    jobs = busy_window(15, 1015, 3000, 2500, 0, [(181, 5000, 0)])
    assert [(j.q, j.release, j.start, j.response) for j in jobs] == [
        (0, 0, 196, 1196),
        (1, 500, 711, 1711),
    ]
    # The first-job recurrence alone gives 196 / 1196: not a bound (see the simulation below).
    assert response_time(15, 0, [(181, 5000, 0)])[0] == 196


def test_the_issues_example_analysed_and_simulated(write_toml: Callable[[str], Path]) -> None:
    system = load_system(write_toml(JITTERY))
    low = line_by_name(analyze(system, "global"), "low")
    assert (low.start, low.response, low.start_job) == (711, 1711, 1)
    sim = simulate(system, "global", seconds=0.02, seed=1).stats["low"]
    # The simulator finds a job that starts later than the first-job bound (196) ...
    assert 196 < max(sim.latencies) <= low.start
    assert 1196 < max(sim.responses) <= low.response


def test_a_window_of_one_job_is_the_classic_recurrence() -> None:
    # Without jitter and with room before the next release, only job 0 is analysed.
    jobs = busy_window(5, 9, 100, 0, 2, [(3, 7, 0), (3, 12, 0)])
    assert len(jobs) == 1
    assert jobs[0].response == response_time(9, 2, [(3, 7, 0), (3, 12, 0)])[0]
    assert jobs[0].start == response_time(5, 2, [(3, 7, 0), (3, 12, 0)])[0]
