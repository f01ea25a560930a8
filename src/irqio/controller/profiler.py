"""The profiler: who delayed whom, by how much.

The controller records in interrupt context, O(1) per handler run and per resource exit, into
bounded `irqio.controller.samples.Samples` (exact count/min/max/total and a log2 histogram of every
sample, plus a ring of the last 4096 samples for percentiles). This module summarises those
records in task context: `Controller.stats()` returns a `Stats` snapshot with `to_json()`.

* Per line: pends, runs, merged pends, failures; pend -> handler-start latency and handler run
  time (min, p50, p90, p99, max, mean, histogram).
* Per resource (and `critical()`): hold time (max, p99, ...).
* Blame, per line: each resource (or ``critical()``) whose ceiling held the line back while it
  waited, how often, and the worst and total wait. A wait is blamed on a resource when the line
  was pended before the resource's exit, started in the dispatch that exit ran, and the
  resource's ceiling is at or above the line's priority (only such a resource can mask it: a
  foreign pend whose kick is late may be taken by any exit's dispatch). The wait is
  pend -> start, so it also contains any handlers released at the same time and run first.

Percentiles (p50, p90, p99) are nearest-rank (`irqio.percentile`) over the most recent samples
(up to 4096 per line); count, min, max and the histogram cover every sample.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from irqio.percentile import nearest_rank

if TYPE_CHECKING:
    from irqio.controller.core import Controller
    from irqio.controller.samples import Samples


def _percentile(sorted_values: list[int], q: float) -> int:
    return int(nearest_rank(sorted_values, q))


@dataclass
class Distribution:
    """Durations in nanoseconds. `histogram`: {"<=2^k ns": count} for the non-empty buckets."""

    count: int = 0
    min_ns: int = 0
    p50_ns: int = 0
    p90_ns: int = 0
    p99_ns: int = 0
    max_ns: int = 0
    mean_ns: float = 0.0
    histogram: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, samples: Samples) -> Distribution:
        if samples.count == 0:
            return cls()
        recent = sorted(samples.recent())
        hist = {f"<2^{k}": int(n) for k, n in enumerate(samples.hist) if n}
        return cls(
            count=samples.count,
            min_ns=samples.min,
            p50_ns=_percentile(recent, 0.50),
            p90_ns=_percentile(recent, 0.90),
            p99_ns=_percentile(recent, 0.99),
            max_ns=samples.max,
            mean_ns=samples.total / samples.count,
            histogram=hist,
        )

    def us(self, which: str) -> float:
        """One figure in microseconds: ``dist.us("p99")``."""
        value: float = getattr(self, which + "_ns")
        return value / 1000.0


@dataclass
class Blame:
    """`holder` (a resource name or "critical()") held `line` back `times` times."""

    holder: str
    times: int
    worst_ns: int
    total_ns: int


@dataclass
class LineStats:
    name: str
    priority: int
    pends: int
    runs: int
    merged: int
    failures: int
    latency: Distribution
    runtime: Distribution
    blame: list[Blame]

    @property
    def worst_blame(self) -> Blame | None:
        return max(self.blame, key=lambda b: b.worst_ns) if self.blame else None


@dataclass
class ResourceStats:
    name: str
    ceiling: int
    masking: str
    users: list[str]
    hold: Distribution


@dataclass
class Stats:
    """A snapshot of a controller's profile. `to_json()` for machines."""

    lines: list[LineStats]
    resources: list[ResourceStats]

    def line(self, name: str) -> LineStats:
        for line in self.lines:
            if line.name == name:
                return line
        raise KeyError(f"no line named {name!r} in these stats")

    def resource(self, name: str) -> ResourceStats:
        for res in self.resources:
            if res.name == name:
                return res
        raise KeyError(f"no resource named {name!r} in these stats")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def snapshot(ctl: Controller) -> Stats:
    """Summarise `ctl`'s records (task context; the controller keeps recording meanwhile)."""
    lines = []
    for line in ctl.lines():
        blame = [
            Blame(holder, int(entry[0]), int(entry[1]), int(entry[2]))
            for holder, entry in list(line.blame.items())
        ]
        blame.sort(key=lambda b: -b.worst_ns)
        lines.append(
            LineStats(
                name=line.name,
                priority=line.priority,
                pends=line.pends,
                runs=line.runs,
                merged=line.merged,
                failures=line.failures,
                latency=Distribution.of(line.latency),
                runtime=Distribution.of(line.runtime),
                blame=blame,
            )
        )
    resources = []
    held = list(ctl.resources())
    crit = ctl._critical
    if crit is not None and crit not in held:
        held.append(crit)
    for res in held:
        resources.append(
            ResourceStats(
                name=res.name,
                ceiling=res.ceiling,
                masking=res.masking,
                users=res.users if not res._critical else ["*"],
                hold=Distribution.of(res.hold),
            )
        )
    return Stats(lines=lines, resources=resources)


def tables(stats: Stats, title: str = "controller") -> list[Any]:
    """rich Tables for `stats`: lines (latency, run time, blame) and resources (hold time)."""
    from rich.table import Table

    def us(ns: float) -> str:
        return f"{ns / 1000:.1f}"

    lt = Table(title=f"{title}: lines (µs)")
    for col in ("line", "prio", "pends", "runs", "merged", "fail"):
        lt.add_column(col, justify="right" if col != "line" else "left")
    for col in ("lat min", "lat p50", "lat p99", "lat max", "run p99", "blame (worst)"):
        lt.add_column(col, justify="right")
    for ls in stats.lines:
        worst = ls.worst_blame
        blame = f"{worst.holder} ×{worst.times} ({us(worst.worst_ns)})" if worst else "-"
        lt.add_row(
            ls.name,
            str(ls.priority),
            str(ls.pends),
            str(ls.runs),
            str(ls.merged),
            str(ls.failures),
            us(ls.latency.min_ns),
            us(ls.latency.p50_ns),
            us(ls.latency.p99_ns),
            us(ls.latency.max_ns),
            us(ls.runtime.p99_ns),
            blame,
        )
    rt = Table(title=f"{title}: resources (µs)")
    for col in ("resource", "ceiling", "masking", "users", "holds", "hold p99", "hold max"):
        rt.add_column(col, justify="left" if col in ("resource", "users") else "right")
    for rs in stats.resources:
        rt.add_row(
            rs.name,
            str(rs.ceiling),
            rs.masking,
            ",".join(rs.users),
            str(rs.hold.count),
            us(rs.hold.p99_ns),
            us(rs.hold.max_ns),
        )
    return [lt, rt]
