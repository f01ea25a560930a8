"""PNG plots: start-latency distribution per policy with the bounds drawn, and each line's
worst case as a timeline relative to its arrival."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irqio.timing.analysis import Bound
from irqio.timing.model import SimResult

BACKGROUND_ROW = "background"
MASK_ROW = "mask level"
MISS_ROW = "flash misses"


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'irqio[plot]'") from None
    return plt


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


def plot_distribution(results: list[SimResult], bounds: dict[str, list[Bound]], path: Path) -> Path:
    return _save(distribution_figure(results, bounds), path)


def distribution_figure(results: list[SimResult], bounds: dict[str, list[Bound]]) -> Any:
    """One panel per line: the empirical CDF of start latency (µs) for each policy, and each
    policy's bound as a dashed line of the same colour."""
    plt = _pyplot()
    system = results[0].system
    lines = [ln.name for ln in system.lines]
    fig, axes = plt.subplots(len(lines), 1, figsize=(8, 2.8 * len(lines)), squeeze=False)
    for ax, name in zip(axes[:, 0], lines, strict=True):
        for r in results:
            values = sorted(r.us(v) for v in r.stats[name].latencies)
            bound = next(b for b in bounds[r.policy] if b.line == name).start
            label = f"{r.policy}: max {values[-1]:.2f} µs" if values else f"{r.policy}: no start"
            label += "" if bound is None else f", bound {r.us(bound):.2f}"
            if values:
                ys = [(i + 1) / len(values) for i in range(len(values))]
                (drawn,) = ax.step(values, ys, where="post", label=label)
                color = drawn.get_color()
            else:
                color = ax.plot([], [], label=label)[0].get_color()
            if bound is not None:
                ax.axvline(r.us(bound), color=color, ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_title(f"{system.name}: {name} start latency (dashed: the analysis bound)")
        ax.set_xlabel("µs from arrival to first handler instruction")
        ax.set_ylabel("fraction ≤ x")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


@dataclass
class Spans:
    """A run's trace as intervals (cycles), each list sorted by start and non-overlapping."""

    pending: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    active: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    mask: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, level)
    misses: list[tuple[int, int]] = field(default_factory=list)
    end: int = 0  # the last time the trace covers


def spans(result: SimResult) -> Spans:
    """One pass over the trace; spans still open at its end are closed there."""
    out = Spans()
    for ln in result.system.lines:
        out.pending[ln.name] = []
        out.active[ln.name] = []
    miss = result.system.profile.flash_miss_cycles
    end = result.trace[-1][0] if result.trace_truncated and result.trace else result.cycles
    opened: dict[tuple[str, str], int] = {}
    level, since = 0, 0
    for t, kind, name, value in result.trace:
        if kind in ("pending", "active"):
            if value:
                opened[(kind, name)] = t
            elif (kind, name) in opened:
                target = out.pending if kind == "pending" else out.active
                target[name].append((opened.pop((kind, name)), t))
        elif kind == "miss":
            out.misses.append((t, t + miss))
        elif kind == "ceiling" and value != level:
            if level:
                out.mask.append((since, t, level))
            level, since = value, t
    for (kind, name), t in opened.items():
        (out.pending if kind == "pending" else out.active)[name].append((t, end))
    if level:
        out.mask.append((since, end, level))
    for kind_spans in (*out.pending.values(), *out.active.values()):
        kind_spans.sort()
    out.end = end
    return out


def _within(items: list[Any], lo: int, hi: int) -> list[Any]:
    """The sorted, non-overlapping intervals of `items` that meet [lo, hi]."""
    first = bisect.bisect_left(items, lo, key=lambda i: i[1])
    last = bisect.bisect_right(items, hi, key=lambda i: i[0])
    return items[first:last]


def plot_worst_timeline(result: SimResult, bounds: list[Bound], path: Path) -> Path:
    return _save(timeline_figure(result, bounds), path)


def timeline_figure(result: SimResult, bounds: list[Bound]) -> Any:
    """One panel per line around its worst start, time in µs from that arrival: every line's
    pending and active spans, the background code (running or inside a critical section), the
    mask level and the flash misses as rows, the arrival and the start bound as lines."""
    plt = _pyplot()
    system = result.system
    sp = spans(result)
    names = [ln.name for ln in sorted(system.lines, key=lambda ln: -system.hw_level(ln))]
    rows = [*names, BACKGROUND_ROW, MASK_ROW, MISS_ROW]
    height = (1.4 + 0.42 * len(rows)) * len(names) + 0.6
    fig, axes = plt.subplots(len(names), 1, figsize=(10, height), squeeze=False)
    for ax, target in zip(axes[:, 0], names, strict=True):
        bound = next(b for b in bounds if b.line == target).start
        _panel(ax, result, sp, target, bound, rows)
    _key(fig, system.profile.priority_levels + 1)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / height))
    return fig


def _panel(
    ax: Any, result: SimResult, sp: Spans, target: str, bound: int | None, rows: list[str]
) -> None:
    system = result.system
    us = result.us
    y = {row: len(rows) - 1 - i for i, row in enumerate(rows)}
    top = system.profile.priority_levels + 1  # PRIMASK: above every level
    stats = result.stats[target]
    arrival = stats.worst_arrival
    worst = max(stats.latencies, default=0)
    ax.set_yticks([y[r] for r in rows], rows)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(True, axis="x", alpha=0.3)
    if arrival < 0 or arrival > sp.end:
        why = "no start of this line" if arrival < 0 else "its worst start is past the trace"
        ax.set_title(f"{system.name} ({result.policy}): {target}: {why}", fontsize=10)
        return
    after = max(worst, bound or 0, 1) * 1.4
    lo, hi = arrival - round(after * 0.35), arrival + round(after)

    def bar(intervals: list[tuple[int, int]], row: str, h: float, color: str) -> None:
        segs = [(us(a - arrival), us(b - a)) for a, b, *_ in _within(intervals, lo, hi)]
        ax.broken_barh(segs, (y[row] - h / 2, h), color=color)

    busy: list[tuple[int, int]] = []
    for name in rows[:-3]:
        bar(sp.pending[name], name, 0.3, "tab:orange")
        bar(sp.active[name], name, 0.7, "tab:blue")
        busy += _within(sp.active[name], lo, hi)
    # The background runs whenever no handler does (exception entry and exit included).
    free, t = [], lo
    for a, b in sorted(busy):
        if a > t:
            free.append((t, a))
        t = max(t, b)
    if t < hi:
        free.append((t, hi))
    bar(free, BACKGROUND_ROW, 0.7, "tab:green")
    masked = [(a, b) for a, b, _ in _within(sp.mask, lo, hi)]
    inside = [(max(a, c), min(b, d)) for a, b in free for c, d in masked if c < b and a < d]
    bar(inside, BACKGROUND_ROW, 0.7, "tab:purple")
    xs, ys = [us(lo - arrival)], [0.0]
    for a, b, level in _within(sp.mask, lo, hi):
        xs += [us(max(a, lo) - arrival)] * 2
        ys += [0.0, level / top]
        xs += [us(min(b, hi) - arrival)] * 2
        ys += [level / top, 0.0]
    xs.append(us(hi - arrival))
    ys.append(0.0)
    ax.plot(xs, [y[MASK_ROW] - 0.35 + 0.7 * v for v in ys], color="tab:red", lw=1)
    bar(sp.misses, MISS_ROW, 0.7, "tab:gray")
    ax.axvline(0, color="black", lw=1)
    ax.axvline(us(worst), color="tab:blue", lw=1, ls=":")
    if bound is not None:
        ax.axvline(us(bound), color="tab:red", lw=1.2, ls="--")
    ax.set_xlim(us(lo - arrival), us(hi - arrival))
    ax.ticklabel_format(axis="x", useOffset=False, style="plain")
    ax.set_title(
        f"{system.name} ({result.policy}): worst {target} start {us(worst):.2f} µs (dotted)"
        + ("" if bound is None else f", bound {us(bound):.2f} µs (dashed)"),
        fontsize=10,
    )
    ax.set_xlabel(f"µs from {target}'s arrival (which came {us(arrival):.1f} µs into the run)")


def _key(fig: Any, top: int) -> None:
    """The colours of every panel, once, above them."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Patch(color="tab:orange", label="pending"),
        Patch(color="tab:blue", label="handler active"),
        Patch(color="tab:green", label="background code (and entry/exit)"),
        Patch(color="tab:purple", label="background in a critical section"),
        Patch(color="tab:gray", label="flash miss"),
        Line2D([], [], color="tab:red", lw=1, label=f"mask level 0–{top} ({top}: all masked)"),
        Line2D([], [], color="black", lw=1, label="arrival"),
        Line2D([], [], color="tab:blue", lw=1, ls=":", label="worst start"),
        Line2D([], [], color="tab:red", lw=1.2, ls="--", label="start bound"),
    ]
    fig.legend(handles=handles, loc="upper center", ncol=5, fontsize=8, frameon=False)
