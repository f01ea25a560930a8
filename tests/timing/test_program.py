"""Code as fetch steps: every cache line an instruction touches is fetched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from irqio.timing import load_system
from irqio.timing.analysis import analyze
from irqio.timing.program import code_steps


def test_thumb_code_in_rp2040_lines() -> None:
    # 10 two-byte instructions from 0: lines 0 (4 instructions), 8 (4), 16 (2).
    assert code_steps(10, 1, "flash", 0, 20, 2, 8) == [(0, 4), (8, 4), (16, 2)]
    assert code_steps(10, 1.5, "ram", 0, 20, 2, 8) == [(-1, 15)]


def test_an_instruction_straddling_two_lines_fetches_both() -> None:
    # ESP32: 22 three-byte instructions = 66 bytes over 32-byte lines 0-31, 32-63, 64-65.
    # Instruction 10 (bytes 30-32) and 21 (63-65) straddle; each executes once its second line
    # is in, so it counts there.
    steps = code_steps(22, 1, "flash", 0, 66, 3, 32)
    assert steps == [(0, 10), (32, 11), (64, 1)]
    assert sum(c for _, c in steps) == 22


def test_straddling_lines_are_misses_in_the_bound(write_toml: Callable[[str], Path]) -> None:
    system = load_system(
        write_toml(
            """
            [system]
            name = "xtensa"
            chip = "esp32"
            policies = ["global"]
            [[lines]]
            name = "gpio"
            priority = 3
            pin = 4
            arrival = { kind = "periodic", period_us = 100 }
            handler = { instructions = 22, placement = "flash" }
            [background]
            name = "idle"
            """
        )
    )
    (bound,) = analyze(system, "global")
    # entry 480 + 22 instructions + 3 cold lines of 100 cycles each (the profile's miss).
    assert system.profile.flash_miss_cycles == 100
    assert bound.response == 480 + 22 + 3 * 100
