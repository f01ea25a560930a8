"""What a sweep writes: one table (CSV always; Parquet too when pyarrow is installed) and one plot
per varied parameter: the worst start latency of one line against the parameter, per policy, with
the analysis bound drawn beside it."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

Row = dict[str, Any]


def columns(rows: list[Row]) -> list[str]:
    """Every key of every row, in first-seen order (failed variants have fewer)."""
    return list(dict.fromkeys(key for row in rows for key in row))


def write_table(rows: list[Row], out: Path, stem: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    cols = columns(rows)
    path = out / f"{stem}.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=cols, restval="")
        writer.writeheader()
        writer.writerows(rows)
    written = [path]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return written  # CSV only: Parquet is written when pyarrow is there
    table = pa.Table.from_pylist([{c: row.get(c) for c in cols} for row in rows])
    pq.write_table(table, out / f"{stem}.parquet")
    written.append(out / f"{stem}.parquet")
    return written


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "param"


def worst_by_value(
    rows: list[Row], param: str, line: str
) -> dict[str, list[tuple[Any, float | None, float | None]]]:
    """Per policy: (value, worst simulated start µs, largest bound µs) over the rows of `line`
    that have that value of `param` (the worst over every other parameter)."""
    per: dict[str, dict[Any, tuple[float | None, float | None]]] = {}
    for row in rows:
        if row.get("error") or row.get("line") != line or param not in row:
            continue
        by_value = per.setdefault(str(row["policy"]), {})
        sim, bound = row.get("sim_start_max_us"), row.get("bound_start_us")
        if bound is None:
            bound = math.inf  # unbounded: the level is overloaded
        old_sim, old_bound = by_value.get(row[param], (None, None))
        by_value[row[param]] = (_worse(old_sim, sim), _worse(old_bound, bound))
    out = {}
    for policy, by_value in per.items():
        keys = sorted(by_value, key=lambda v: (isinstance(v, str), v))
        out[policy] = [(k, *by_value[k]) for k in keys]
    return out


def _worse(a: float | None, b: float | None) -> float | None:
    """The larger of two, either of which may be missing."""
    if a is None or b is None:
        return a if b is None else b
    return max(a, b)


def plot_sweep(rows: list[Row], params: list[str], line: str, out: Path, stem: str) -> list[Path]:
    """One PNG per parameter: worst start latency of `line` per policy, bound dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for param in params:
        series = worst_by_value(rows, param, line)
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(7, 4.2))
        values = sorted(
            {v for pts in series.values() for v, *_ in pts}, key=lambda v: (isinstance(v, str), v)
        )
        categorical = any(isinstance(v, str) for v in values)
        position = {v: i for i, v in enumerate(values)}
        for i, (policy, pts) in enumerate(sorted(series.items())):
            color = f"C{i}"
            xs = [position[v] if categorical else v for v, *_ in pts]
            sims = [math.nan if s is None else s for _, s, _ in pts]
            bounds = [math.nan if b is None or math.isinf(b) else b for *_, b in pts]
            ax.plot(xs, sims, "o-", color=color, label=f"{policy}: simulated worst")
            ax.plot(xs, bounds, "--", color=color, alpha=0.8, label=f"{policy}: bound")
        if categorical:
            ax.set_xticks(range(len(values)), [str(v) for v in values], rotation=20)
        ax.set_xlabel(param)
        ax.set_ylabel(f"{line}: worst start latency (µs)")
        others = " (worst over the other parameters)" if len(params) > 1 else ""
        ax.set_title(f"{stem}: {line} start latency vs {param}{others}", fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"{stem}-{_safe(param)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
