"""The report page of `irqio sim --out DIR`: one `index.html` beside the files it shows.

It opens offline in any browser: no scripts, no fonts or styles from the network, the plots as
PNG files beside it. A table of start latency per line and policy with the analysis bound and
what sets it, the run that made it (irqio version, seed, simulated time), the latency
distributions with the bounds drawn, each policy's worst-case timelines, and links to the VCD
(GTKWave) and Perfetto trace files. tests/timing/test_report_browser.py opens it in Chromium.
"""

from __future__ import annotations

import html
from pathlib import Path

from irqio.timing.analysis import Bound
from irqio.timing.runinfo import RunInfo
from irqio.timing.summary import LatencySummary
from irqio.timing.system import System

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right;
  white-space: nowrap; }
div.wide { overflow-x: auto; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
td.left { text-align: left; }
tr.over td { background: #fdd; }
img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; }
code { background: #f4f4f4; padding: 0 3px; }
dl.run { display: grid; grid-template-columns: max-content auto; gap: 0 1em; }
dl.run dt { font-weight: 600; } dl.run dd { margin: 0; }
"""


def write_index(
    system: System,
    summaries: dict[str, list[LatencySummary]],
    bounds: dict[str, list[Bound]],
    files: list[str],
    info: RunInfo,
    out: Path,
) -> Path:
    """Write `out/index.html` for the files just written there; return its path."""
    us = system.profile.us
    esc = html.escape
    title = f"{system.name}" + (f" / {system.variant}" if system.variant else "")
    rows = []
    for line in system.lines:
        for pol, per_line in summaries.items():
            s = next(x for x in per_line if x.line == line.name)
            b = next(x for x in bounds[pol] if x.line == line.name)
            # A simulated worst case above the analysis bound would be a bug in one of them.
            over = s.bound is not None and s.max > s.bound
            bound = "no bound" if s.bound is None else f"{us(s.bound):.2f}"
            values = (s.min, s.p50, s.p99, s.max)
            lat = [f"{us(v):.2f}" if s.count else "-" for v in values]
            cells = [esc(line.name), esc(pol), *lat, bound, str(s.count), str(s.overruns)]
            tds = "".join(f"<td>{c}</td>" for c in cells)
            set_by = esc(b.reason or b.blocked_by)
            tds += (
                f'<td class="left">{set_by}</td><td>{"" if b.start is None else b.start_job}</td>'
            )
            rows.append(f"<tr{' class=over' if over else ''}>{tds}</tr>")
    names = [Path(f).name for f in files]
    images = [n for n in names if n.endswith(".png")]
    traces = [n for n in names if not n.endswith(".png")]
    run = [
        ("irqio", info.irqio_version),
        ("system", title + f" ({system.path})"),
        ("chip", f"{info.chip} at {info.clock_hz / 1e6:g} MHz"),
        ("seed", str(info.seed)),
        ("simulated", f"{info.seconds:g} s per policy"),
        ("policies", ", ".join(summaries)),
    ]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>irqio sim: {esc(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>irqio sim: {esc(title)}</h1>",
        '<dl class="run">',
        *(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in run),
        "</dl>",
        "<p>Start latency is from a line's arrival to its handler's first instruction; the "
        "bound is the response-time analysis' worst case for that policy (over every job of "
        "the line's busy window; <em>job</em> says which one starts last, 0 = the first). A "
        "row whose simulated maximum is above its bound would be shaded red. <em>lost</em>: "
        "arrivals while the line was still pending.</p>",
        '<div class="wide"><table><tr><th>line</th><th>policy</th><th>min µs</th><th>p50 µs</th>'
        "<th>p99 µs</th>"
        "<th>max µs</th><th>bound µs</th><th>n</th><th>lost</th><th>bound set by</th>"
        "<th>job</th></tr>",
        *rows,
        "</table></div>",
        *(f'<p><img src="{esc(n)}" alt="{esc(n)}"></p>' for n in images),
        "<h2>Traces</h2><ul>",
        *(f'<li><a href="{esc(n)}">{esc(n)}</a></li>' for n in traces),
        "</ul><p><code>.vcd</code>: open in GTKWave. <code>.trace.json</code>: open in "
        "ui.perfetto.dev or chrome://tracing.</p>",
        "</body></html>",
    ]
    path = out / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
