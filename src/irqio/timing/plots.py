"""PNG plots: start-latency distribution per policy, and the worst case's timeline, zoomed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from irqio.timing.model import SimResult


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install irqio[plot]") from None
    return plt


def plot_distribution(results: list[SimResult], path: Path) -> Path:
    """One panel per line: the empirical CDF of start latency (µs) for each policy."""
    plt = _pyplot()
    system = results[0].system
    lines = [ln.name for ln in system.lines]
    fig, axes = plt.subplots(len(lines), 1, figsize=(8, 2.6 * len(lines)), squeeze=False)
    for ax, name in zip(axes[:, 0], lines, strict=True):
        for r in results:
            values = sorted(r.us(v) for v in r.stats[name].latencies)
            if values:
                ys = [(i + 1) / len(values) for i in range(len(values))]
                ax.step(values, ys, where="post", label=f"{r.policy} (max {values[-1]:.2f} µs)")
        ax.set_xscale("log")
        ax.set_title(f"{system.name}: {name} start latency")
        ax.set_xlabel("µs from arrival to first handler instruction")
        ax.set_ylabel("fraction ≤ x")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_worst_timeline(
    result: SimResult, path: Path, line: str | None = None, span_us: float = 30.0
) -> Path:
    """Pending/active spans of every line and flash misses around the worst start of `line`
    (default: the most urgent line), zoomed to `span_us` before and after."""
    plt = _pyplot()
    system = result.system
    target = line or max(system.lines, key=lambda ln: (system.hw_level(ln), -ln.order)).name
    arrival = result.stats[target].worst_arrival
    cyc = system.cycles(span_us)
    lo, hi = max(0, arrival - cyc // 3), arrival + cyc
    fig, ax = plt.subplots(figsize=(10, 1 + 0.6 * len(system.lines)))
    names = [ln.name for ln in system.lines]
    opened: dict[tuple[str, str], int] = {}
    for t, kind, name, value in result.trace:
        if t > hi and not opened:
            break
        if kind in ("pending", "active"):
            if value:
                opened[(kind, name)] = t
            elif (kind, name) in opened:
                start = opened.pop((kind, name))
                if t >= lo and start <= hi:
                    y = names.index(name)
                    color = "tab:orange" if kind == "pending" else "tab:blue"
                    h = 0.3 if kind == "pending" else 0.6
                    ax.broken_barh(
                        [(result.us(start), result.us(t - start))], (y - h / 2, h), color=color
                    )
        elif kind == "miss" and lo <= t <= hi:
            ax.axvspan(
                result.us(t),
                result.us(t + system.profile.flash_miss_cycles),
                color="grey",
                alpha=0.15,
            )
    ax.set_yticks(range(len(names)), names)
    ax.set_xlim(result.us(lo), result.us(hi))
    ax.axvline(result.us(arrival), color="red", lw=1)
    worst = max(result.stats[target].latencies, default=0)
    ax.set_title(
        f"{system.name} ({result.policy}): worst {target} start {result.us(worst):.2f} µs "
        "(orange pending, blue active, grey flash misses)"
    )
    ax.set_xlabel("µs")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
