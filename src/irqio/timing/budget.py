"""How much work a simulation run is, checked before it starts (limits.MAX_RUN_EVENTS)."""

from __future__ import annotations

import math

from irqio.timing import limits
from irqio.timing.errors import SystemFileError
from irqio.timing.program import Compiler, Layout
from irqio.timing.system import System


def run_events(system: System, seconds: float) -> int:
    """At most about how many events a run of `seconds` holds: each arrival costs its entry,
    exit and handler's fetch steps, each background section entry its steps and the VM stretch
    before it (sections at their file placement: the most steps any policy gives them)."""
    comp = Compiler(system, Layout(system), "global")
    cycles = seconds * system.profile.clock_hz
    n = 0.0
    for ln in system.lines:
        a = ln.arrival
        arrivals = len(a.times) if a.kind == "trace" else cycles / a.gap + 1
        n += arrivals * (len(comp.handler(ln.name).steps) + 3)
    for s in system.background.sections:
        n += s.rate_hz * seconds * (len(comp.section("background", s).steps) + 2)
    return math.ceil(n)


def check_run(system: System, seconds: float, key: str) -> None:
    """Raise SystemFileError unless a run of `seconds` (from `key`: `system.seconds` or
    `--seconds`) is one the simulator can do: finite, at least a cycle, bounded work."""
    path = system.path
    if not math.isfinite(seconds) or seconds <= 0 or seconds > limits.MAX_SECONDS:
        raise SystemFileError(
            path, key, f"got {seconds}; allowed: > 0 and <= {limits.MAX_SECONDS:g}"
        )
    if round(seconds * system.profile.clock_hz) < 1:
        raise SystemFileError(
            path, key, f"got {seconds} s, less than one cycle at {system.profile.clock_hz:,} Hz"
        )
    events = run_events(system, seconds)
    if events > limits.MAX_RUN_EVENTS:
        most = seconds * limits.MAX_RUN_EVENTS / events
        raise SystemFileError(
            path,
            key,
            f"{seconds:g} s of this system is about {events:,} simulator events; the simulator "
            f"runs at most {limits.MAX_RUN_EVENTS:,} per policy (here about {most:.3g} s)",
        )
