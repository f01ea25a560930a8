"""irqio.check: the preemption explorer.

Injects handlers at every preemption point of the code under test (exhaustively up to a
preemption bound with equivalent schedules pruned, or sampled: random walks, PCT, a
portfolio), checks invariants, and reports a failing schedule shrunk to its fewest
preemptions, with the exact source line of each and the conflicting pair of accesses.
See docs/check.md.
"""

from irqio.check.explore import (
    Interrupted,
    Result,
    assert_safe,
    explore,
    format_schedule,
    parse_schedule,
)
from irqio.check.outcome import Failure, Preemption
from irqio.check.scenario import Scenario, Setup, scenario

__all__ = [
    "Failure",
    "Interrupted",
    "Preemption",
    "Result",
    "Scenario",
    "Setup",
    "assert_safe",
    "explore",
    "format_schedule",
    "parse_schedule",
    "scenario",
]
