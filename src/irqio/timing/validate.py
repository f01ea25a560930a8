"""Soundness check: a simulation never exceeds its analysis bounds.

A simulated start or response above the bound of the same line and policy is a bug in the
model or in the analysis; `exceedances` lists every one. `irqio sweep --validate` and the
property test (tests/timing/test_property.py) run it over random systems (generate.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from irqio.timing.analysis import Bound, analyze
from irqio.timing.model import SimResult, simulate
from irqio.timing.system import System


@dataclass(frozen=True)
class Exceedance:
    line: str
    policy: str
    what: str  # "start" or "response"
    simulated: int  # cycles
    bound: int  # cycles

    def __str__(self) -> str:
        return (
            f"{self.line} under {self.policy}: simulated {self.what} {self.simulated} cycles "
            f"> bound {self.bound}"
        )


def exceedances(result: SimResult, bounds: list[Bound]) -> list[Exceedance]:
    """Every line of `result` whose worst start or response is above its bound; a line still
    pending when the run ended counts the wait it had so far as a start."""
    out = []
    for b in bounds:
        stats = result.stats[b.line]
        waiting = [result.cycles - result.pending[b.line]] if b.line in result.pending else []
        for what, bound, values in (
            ("start", b.start, stats.latencies + waiting),
            ("response", b.response, stats.responses),
        ):
            if bound is not None and values and max(values) > bound:
                out.append(Exceedance(b.line, result.policy, what, max(values), bound))
    return out


def validate(system: System, seconds: float | None = None) -> list[Exceedance]:
    """Simulate and analyse `system` under each of its policies; every exceedance found."""
    out = []
    for policy in system.policies:
        out += exceedances(simulate(system, policy, seconds=seconds), analyze(system, policy))
    return out
