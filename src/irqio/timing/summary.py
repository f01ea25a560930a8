"""Latency summaries shared by the commands, the demo and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from irqio.percentile import nearest_rank
from irqio.timing.analysis import Bound
from irqio.timing.model import SimResult


@dataclass(frozen=True)
class LatencySummary:
    line: str
    policy: str
    count: int
    overruns: int
    min: int
    p50: int
    p99: int
    max: int
    bound: int | None

    def as_dict(self, us: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count, "overruns": self.overruns}
        for key in ("min", "p50", "p99", "max", "bound"):
            value = getattr(self, key)
            out[f"{key}_cycles"] = value
            out[f"{key}_us"] = None if value is None else round(us(value), 4)
        return out


def summarize(result: SimResult, bounds: list[Bound] | None = None) -> list[LatencySummary]:
    by_line = {b.line: b for b in bounds or []}
    out = []
    for line in result.system.lines:
        st = result.stats[line.name]
        values = sorted(st.latencies)
        bound = by_line[line.name].start if line.name in by_line else None
        out.append(
            LatencySummary(
                line.name,
                result.policy,
                len(values),
                st.overruns,
                values[0] if values else 0,
                int(nearest_rank(values, 0.50)),
                int(nearest_rank(values, 0.99)),
                values[-1] if values else 0,
                bound,
            )
        )
    return out
