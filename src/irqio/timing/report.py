"""The report page of `irqio sim --out DIR`: one `index.html` beside the files it shows.

A table of start latency per line and policy with the analysis bound, the plots inline, and
links to the VCD (GTKWave) and Perfetto trace files. Standard library only; no scripts.
"""

from __future__ import annotations

import html
from pathlib import Path

from irqio.timing.summary import LatencySummary
from irqio.timing.system import System

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
tr.over td { background: #fdd; }
img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; }
code { background: #f4f4f4; padding: 0 3px; }
"""


def write_index(
    system: System, summaries: dict[str, list[LatencySummary]], files: list[str], out: Path
) -> Path:
    """Write `out/index.html` for the files just written there; return its path."""
    us = system.profile.us
    esc = html.escape
    title = f"{system.name}" + (f" / {system.variant}" if system.variant else "")
    rows = []
    for line in system.lines:
        for pol, per_line in summaries.items():
            s = next(x for x in per_line if x.line == line.name)
            # A simulated worst case above the analysis bound would be a bug in one of them.
            over = s.bound is not None and s.max > s.bound
            bound = "∞" if s.bound is None else f"{us(s.bound):.2f}"
            cells = [line.name, pol, f"{us(s.min):.2f}", f"{us(s.p50):.2f}", f"{us(s.p99):.2f}"]
            cells += [f"{us(s.max):.2f}", bound, str(s.count)]
            tds = "".join(f"<td>{esc(c)}</td>" for c in cells)
            rows.append(f"<tr{' class=over' if over else ''}>{tds}</tr>")
    names = [Path(f).name for f in files]
    images = [n for n in names if n.endswith(".png")]
    traces = [n for n in names if not n.endswith(".png")]
    parts = [
        "<!doctype html><meta charset=utf-8>",
        f"<title>irqio sim: {esc(title)}</title><style>{_STYLE}</style>",
        f"<h1>irqio sim: {esc(title)}</h1>",
        f"<p>{esc(system.profile.name)} at {system.profile.clock_hz / 1e6:g} MHz. Start latency "
        "is from a line's arrival to its handler's first instruction; the bound is the "
        "response-time analysis' worst case for that policy.</p>",
        "<table><tr><th>line</th><th>policy</th><th>min µs</th><th>p50 µs</th><th>p99 µs</th>"
        "<th>max µs</th><th>bound µs</th><th>n</th></tr>",
        *rows,
        "</table>",
        *(f'<p><img src="{esc(n)}" alt="{esc(n)}"></p>' for n in images),
        "<h2>Traces</h2><ul>",
        *(f'<li><a href="{esc(n)}">{esc(n)}</a></li>' for n in traces),
        "</ul><p><code>.vcd</code>: open in GTKWave. <code>.trace.json</code>: open in "
        "ui.perfetto.dev or chrome://tracing.</p>",
    ]
    path = out / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
