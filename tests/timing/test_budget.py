"""The work estimate that bounds a run (budget.py) is close to the events a run really has."""

from __future__ import annotations

import pytest

from irqio.timing import load_system
from irqio.timing.budget import run_events
from irqio.timing.model import simulate


@pytest.mark.parametrize(
    ("name", "variant"), [("pico-can", None), ("pico-can", "bank-trap"), ("stm32f4-basepri", None)]
)
def test_the_estimate_is_within_a_factor_of_two(name: str, variant: str | None) -> None:
    system = load_system(name, variant)
    estimate = run_events(system, 0.05)
    for policy in system.policies:
        events = simulate(system, policy, seconds=0.05).events
        assert events / 2 <= estimate <= 2 * events, (policy, events, estimate)
