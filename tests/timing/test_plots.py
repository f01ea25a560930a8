"""The report's plots: time relative to the arrival, the rows a reader needs, the bounds drawn."""

from __future__ import annotations

from typing import Any

import pytest

from irqio.timing import load_system
from irqio.timing.analysis import analyze
from irqio.timing.model import simulate

plots = pytest.importorskip("irqio.timing.plots")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def run() -> Any:
    system = load_system("pico-can")
    result = simulate(system, "global", seconds=0.3, trace_limit=2_000_000)
    # 0.3 s in, far from 0: matplotlib would label such an axis "+3e5" with an offset.
    assert result.stats["can"].worst_arrival > 100_000
    return system, result, analyze(system, "global")


def vertical_lines(ax: Any) -> list[float]:
    return [ln.get_xdata()[0] for ln in ax.lines if len(set(ln.get_xdata())) == 1]


def test_the_worst_timeline_is_relative_to_the_arrival(run: Any) -> None:
    _, result, bounds = run
    fig = plots.timeline_figure(result, bounds)
    fig.canvas.draw()
    by_title = {ax.get_title().split(": worst ")[1].split()[0]: ax for ax in fig.axes}
    assert set(by_title) == {"can", "timer", "usb"}  # one panel per line
    for name, ax in by_title.items():
        lo, hi = ax.get_xlim()
        bound = next(b for b in bounds if b.line == name).start
        worst = max(result.stats[name].latencies)
        assert lo < 0 < result.us(worst) <= result.us(bound) < hi  # µs from the arrival
        assert ax.xaxis.get_offset_text().get_text() == ""  # no "+1.26e6" offset
        rows = [t.get_text() for t in ax.get_yticklabels()]
        assert rows == ["can", "timer", "usb", "background", "mask level", "flash misses"]
        drawn = vertical_lines(ax)
        assert 0 in drawn and result.us(bound) in drawn and result.us(worst) in drawn
    # The CAN's worst case under PRIMASK: the background sits in a critical section (purple)
    # that began before the arrival and lasts until just before the start, among flash misses.
    from matplotlib.colors import to_rgba

    def bars(ax: Any, color: str) -> list[tuple[float, float]]:
        out = []
        for c in ax.collections:
            if len(c.get_facecolor()) and tuple(c.get_facecolor()[0]) == to_rgba(color):
                out += [(p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in c.get_paths()]
        return out

    can = by_title["can"]
    worst = result.us(max(result.stats["can"].latencies))
    assert any(a < 0 < b <= worst for a, b in bars(can, "tab:purple"))
    assert any(0 < a < worst for a, _ in bars(can, "tab:gray"))


def test_the_latency_plot_draws_every_bound(run: Any) -> None:
    system, result, bounds = run
    fig = plots.distribution_figure([result], {"global": bounds})
    for ax, line in zip(fig.axes, system.lines, strict=True):
        bound = next(b for b in bounds if b.line == line.name).start
        assert result.us(bound) in vertical_lines(ax)
        assert f"bound {result.us(bound):.2f}" in ax.get_legend().get_texts()[0].get_text()
