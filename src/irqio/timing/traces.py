"""Trace files from a simulation: VCD for GTKWave (pyvcd) and Chrome/Perfetto trace JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from irqio.timing.model import SimResult
from irqio.timing.runinfo import RunInfo


def scopes(names: list[str]) -> dict[str, str]:
    """A VCD scope per line name: identifier characters only (VCD names cannot hold spaces,
    and `.` would nest scopes), made unique."""
    out: dict[str, str] = {}
    for name in names:
        scope = re.sub(r"[^A-Za-z0-9_]", "_", name) or "line"
        while scope in out.values() or scope == "core":
            scope += "_"
        out[name] = scope
    return out


def write_vcd(result: SimResult, path: Path, info: RunInfo) -> Path:
    """Per line `pending` and `active` wires, the running mask level, and flash misses; the
    header's comment says what run this is (RunInfo.describe) and which policy."""
    try:
        from vcd import VCDWriter
    except ImportError:
        raise ImportError("writing VCD needs pyvcd: pip install 'irqio[trace]'") from None
    # why: `$end` inside the comment would end the header's $comment section early.
    comment = f"{info.describe()}; policy {result.policy}".replace("$", "")
    with (
        path.open("w", encoding="utf-8") as f,
        VCDWriter(
            f, timescale="1 ns", comment=comment, version=f"irqio {info.irqio_version}"
        ) as writer,
    ):
        ns_per_cycle = 1e9 / result.system.profile.clock_hz
        wires: dict[tuple[str, str], Any] = {}
        scope = scopes([line.name for line in result.system.lines])
        for line in result.system.lines:
            wires[("pending", line.name)] = writer.register_var(
                scope[line.name], "pending", "wire", size=1, init=0
            )
            wires[("active", line.name)] = writer.register_var(
                scope[line.name], "active", "wire", size=1, init=0
            )
        ceiling = writer.register_var("core", "mask_level", "integer", size=8, init=0)
        miss = writer.register_var("core", "flash_miss", "wire", size=1, init=0)
        miss_cycles = result.system.profile.flash_miss_cycles
        ends = [(t + miss_cycles, k, n, 0) for t, k, n, _ in result.trace if k == "miss"]
        # why sorted: VCD timestamps must not go backwards; a miss's end is known at its start.
        timeline = sorted([*result.trace, *ends], key=lambda e: e[0])
        last = -1
        for t, kind, name, value in timeline:
            ts = max(round(t * ns_per_cycle), last)
            last = ts
            if kind == "ceiling":
                writer.change(ceiling, ts, value)
            elif kind == "miss":
                writer.change(miss, ts, value)
            else:
                writer.change(wires[(kind, name)], ts, value)
    return path


def chrome_events(result: SimResult) -> list[dict[str, Any]]:
    """Chrome trace events: one track per line (pending and active spans), misses as instants."""
    us = result.system.profile.us
    events: list[dict[str, Any]] = [
        {
            "name": "process_name",
            "ph": "M",
            "pid": 1,
            "args": {"name": f"{result.system.name} ({result.policy})"},
        }
    ]
    tids = {line.name: i + 1 for i, line in enumerate(result.system.lines)}
    for name, tid in tids.items():
        events.append(
            {"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": name}}
        )
    opened: dict[tuple[str, str], int] = {}
    for t, kind, name, value in result.trace:
        if kind in ("pending", "active"):
            if value:
                opened[(kind, name)] = t
            elif (kind, name) in opened:
                start = opened.pop((kind, name))
                events.append(
                    {
                        "name": kind,
                        "ph": "X",
                        "pid": 1,
                        "tid": tids[name],
                        "ts": us(start),
                        "dur": us(t - start),
                    }
                )
        elif kind == "miss":
            events.append(
                {"name": "flash miss", "ph": "i", "s": "p", "pid": 1, "tid": 0, "ts": us(t)}
            )
        elif kind == "ceiling":
            events.append(
                {"name": "mask level", "ph": "C", "pid": 1, "ts": us(t), "args": {"level": value}}
            )
    return events


def write_perfetto(result: SimResult, path: Path, info: RunInfo) -> Path:
    """Chrome JSON trace (JSON object format); `metadata` records the run and the policy."""
    trace = {
        "traceEvents": chrome_events(result),
        "displayTimeUnit": "ns",
        "metadata": {**info.as_dict(), "policy": result.policy},
    }
    path.write_text(json.dumps(trace), encoding="utf-8")
    return path
