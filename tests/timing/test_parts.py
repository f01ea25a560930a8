"""Handlers made of parts, deferred code run by the background, outstanding flash transfers:
hand-computed cycle counts on the RP2040 (entry 15, exit 10, 56-cycle XIP miss, 8-byte lines,
2-byte instructions, cpi 1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from irqio.timing import SystemFileError, load_system
from irqio.timing.analysis import analyze
from irqio.timing.model import simulate

HEAD = """
[system]
name = "parts"
chip = "rp2040"
cpi = 1
policies = ["global"]

[background]
name = "idle"
misses_per_kinstr = 0

[[lines]]
name = "irq"
priority = 2
nvic = "IRQ0"
arrival = { kind = "trace", times_cycles = [1000, 200000] }
"""

PARTS = """
[lines.handler]
parts = [
  { name = "in_ram", instructions = 10, placement = "ram" },
  { name = "flash_call", instructions = 8, placement = "flash", data_loads = 1 },
  { name = "edge", instructions = 4, placement = "ram" },
]
"""


def test_a_ram_handler_calling_a_flash_function(write_toml: Callable[[str], Path]) -> None:
    system = load_system(write_toml(HEAD + PARTS))
    stats = simulate(system, "global", seconds=0.01).stats["irq"]
    # First call, cold: entry 15 + 10 (RAM) + two code lines (2 x (56 + 4)) + the literal's line
    # (56) + 4 (RAM) = 205. Second call: nothing evicted it, so 15 + 10 + 8 + 4 = 37.
    assert stats.responses == [205, 37]
    assert stats.latencies == [15, 15]  # the first part is in RAM: no fetch to wait for
    (bound,) = analyze(system, "global")
    assert bound.start == 15 and bound.response is not None and bound.response >= 205


DEFERRED = """
handler = { instructions = 10, placement = "ram" }
[[lines.deferred]]
name = "callback"
instructions = 20
placement = "flash"
"""


def test_deferred_code_runs_in_the_background_after_the_handler(
    write_toml: Callable[[str], Path],
) -> None:
    system = load_system(write_toml(HEAD + DEFERRED))
    stats = simulate(system, "global", seconds=0.01).stats["irq"]
    assert stats.responses == [25, 25]  # entry 15 + 10
    # Handler done at +25, exit 10, then the callback: 40 bytes = 5 lines, cold 5 x (56 + 4) the
    # first time, warm 20 cycles the second.
    assert stats.deferred == [25 + 10 + 300, 25 + 10 + 20]


def test_deferred_code_waits_for_the_background_to_leave_its_critical_section(
    write_toml: Callable[[str], Path],
) -> None:
    # The background runs one RAM section of 5000 cycles after another (VM stretches of a cycle
    # or two: the rate is the clock's), on a resource only it uses, so under source-mask it
    # masks nothing: the handler preempts it at once, but the deferred code waits for the
    # section to end.
    bg = """
[[background.sections]]
name = "long"
resource = "bg_only"
rate_hz = 125_000_000
instructions = 5000
placement = "ram"
[resources.bg_only]
"""
    text = HEAD.replace("misses_per_kinstr = 0\n", "misses_per_kinstr = 0\n" + bg) + DEFERRED
    system = load_system(write_toml(text))
    result = simulate(system, "source-mask", seconds=0.0004, trace_limit=100)
    stats = result.stats["irq"]
    assert stats.responses == [25]
    # The first section starts at s0 (the trace's first mask change) and ends at s0 + 5000;
    # arrival 1000; handler done 1025, exit to 1035; the section's remaining s0 + 4000 cycles
    # to s0 + 5035; then the callback, cold: 300. Deferred latency: s0 + 5335 - 1000.
    s0 = next(t for t, kind, _, _ in result.trace if kind == "ceiling")
    assert s0 < 1000
    assert stats.deferred == [s0 + 4335]


@pytest.mark.parametrize(
    ("handler", "says"),
    [
        ("handler = { parts = [] }", "must list at least one part"),
        ("handler = { parts = [{ name = 'x', instructions = 1 }] }", "placement: missing"),
        (
            "handler = { parts = [{ name = 'x', instructions = 1, placement = 'rom' }] }",
            "allowed: ram, flash",
        ),
        ("handler = { parts = [], instructions = 3 }", "unknown key"),
    ],
)
def test_bad_parts_say_what_is_wrong(
    write_toml: Callable[[str], Path], handler: str, says: str
) -> None:
    with pytest.raises(SystemFileError, match=says):
        load_system(write_toml(HEAD + handler + "\n"))


def test_outstanding_transfers_default_to_one() -> None:
    assert load_system("pico-can").profile.flash_outstanding == 1
    assert load_system("rp2350-xip-entry").profile.flash_outstanding == 4
