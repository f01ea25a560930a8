"""irqio.check: the preemption explorer.

Injects handlers at every bytecode boundary of the code under test (exhaustively up to a
preemption bound, or at seeded random points), checks invariants, and replays a failing
schedule with the exact source line of each preemption. See docs/check.md.
"""

from irqio.check.engine import Failure, Preemption
from irqio.check.explore import Result, assert_safe, explore, format_schedule, parse_schedule
from irqio.check.scenario import Scenario, Setup, scenario

__all__ = [
    "Failure",
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
