"""Every validation error names the file, the key path and what is allowed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from irqio.timing import SystemFileError, load_system

GOOD = """
[system]
name = "t"
chip = "rp2040"
policies = ["global", "source-mask"]

[[lines]]
name = "a"
priority = 2
nvic = "TIMER_IRQ_0"
arrival = { kind = "periodic", period_us = 100 }
handler = { instructions = 10, placement = "ram" }
[[lines.sections]]
name = "s"
resource = "r"
instructions = 4
placement = "ram"

[background]
name = "bg"
[[background.sections]]
name = "s"
resource = "r"
rate_hz = 100
instructions = 8
placement = "flash"

[resources.r]
"""


def error(write: Callable[[str], Path], text: str) -> str:
    path = write(text)
    with pytest.raises(SystemFileError) as info:
        load_system(path)
    msg = str(info.value)
    assert msg.startswith(str(path)), msg  # names the file
    return msg


def test_good_file_loads(write_toml: Callable[[str], Path]) -> None:
    s = load_system(write_toml(GOOD))
    assert s.resources["r"].users == ("background", "a")
    assert s.resources["r"].ceiling == 2  # computed from the users
    assert s.line("a").arrival.gap == 12_500  # 100 µs at 125 MHz


def test_unknown_key(write_toml: Callable[[str], Path]) -> None:
    msg = error(
        write_toml, GOOD.replace('placement = "ram" }', 'placement = "ram", colour = 1 }', 1)
    )
    assert "lines[0].handler.colour" in msg and "unknown key" in msg
    assert "allowed: footprint_bytes, instructions, placement" in msg


def test_missing_field(write_toml: Callable[[str], Path]) -> None:
    msg = error(write_toml, GOOD.replace("priority = 2\n", ""))
    assert "lines[0].priority: missing required key" in msg


def test_priority_the_chip_lacks(write_toml: Callable[[str], Path]) -> None:
    msg = error(write_toml, GOOD.replace("priority = 2", "priority = 9"))
    assert "lines[0].priority" in msg and "allowed 1..4" in msg and "rp2040" in msg


def test_negative_period(write_toml: Callable[[str], Path]) -> None:
    msg = error(write_toml, GOOD.replace("period_us = 100", "period_us = -5"))
    assert "lines[0].arrival.period_us: got -5 µs = -625 cycles at 125 MHz" in msg
    assert "must be at least 1 cycle (0.008 µs)" in msg


@pytest.mark.parametrize("period", ["0", "0.001", "0.0", "-0.001"])
def test_periods_that_round_to_no_cycle_get_one_message(
    write_toml: Callable[[str], Path], period: str
) -> None:
    # Once 0 said "must be > 0" and so did 0.001, which is > 0.
    msg = error(write_toml, GOOD.replace("period_us = 100", f"period_us = {period}"))
    assert f"period_us: got {float(period):g} µs = 0 cycles at 125 MHz; must be at least " in msg
    assert "1 cycle (0.008 µs)" in msg


def test_a_period_in_cycles_gets_the_same_message(write_toml: Callable[[str], Path]) -> None:
    msg = error(write_toml, GOOD.replace("period_us = 100", "period_cycles = 0"))
    assert "period_cycles: got 0 cycles at 125 MHz; must be at least 1 cycle (0.008 µs)" in msg


def test_resource_nobody_uses(write_toml: Callable[[str], Path]) -> None:
    msg = error(write_toml, GOOD + "[resources.lonely]\n")
    assert "resources.lonely: resource nobody uses" in msg


def test_unknown_resource(write_toml: Callable[[str], Path]) -> None:
    msg = error(write_toml, GOOD.replace('resource = "r"', 'resource = "q"', 1))
    assert "lines[0].sections[0].resource" in msg and "declared: r" in msg


def test_basepri_on_a_chip_without_it(write_toml: Callable[[str], Path]) -> None:
    msg = error(write_toml, GOOD.replace('"global", "source-mask"', '"basepri"'))
    assert "system.policies[0]" in msg and "no BASEPRI" in msg


def test_unknown_policy_and_placement(write_toml: Callable[[str], Path]) -> None:
    msg = error(write_toml, GOOD.replace('"global", "source-mask"', '"yolo"'))
    assert "allowed: global, ram, basepri, source-mask, pin-mask" in msg
    msg = error(write_toml, GOOD.replace('placement = "ram" }', 'placement = "rom" }', 1))
    assert "lines[0].handler.placement" in msg and "allowed: ram, flash" in msg


def test_pin_on_the_wrong_nvic_line(write_toml: Callable[[str], Path]) -> None:
    msg = error(write_toml, GOOD.replace('nvic = "TIMER_IRQ_0"', 'nvic = "TIMER_IRQ_0"\npin = 3'))
    assert "lines[0].nvic" in msg and "allowed: IO_IRQ_BANK0" in msg


def test_unknown_chip_and_bad_toml(write_toml: Callable[[str], Path]) -> None:
    assert "system.chip" in error(write_toml, GOOD.replace('"rp2040"', '"z80"'))
    assert "not valid TOML" in error(write_toml, "[system\n")


def test_unknown_variant(write_toml: Callable[[str], Path]) -> None:
    with pytest.raises(SystemFileError, match="no variant 'x'"):
        load_system(write_toml(GOOD), "x")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SystemFileError, match="file not found"):
        load_system(tmp_path / "none.toml")


def test_shipped_systems_load_by_name_and_match_the_examples() -> None:
    import dataclasses

    from irqio.timing.system import system_names

    root = Path(__file__).resolve().parents[2]
    assert {"pico-can", "stm32f4-basepri"} <= set(system_names())
    # The measurement systems of docs/timing.md ("Against the world") ship without an example.
    for name in ("pico-can", "stm32f4-basepri"):
        shipped, example = load_system(name), load_system(root / "examples" / f"{name}.toml")
        assert shipped.path == f"systems/{name}.toml"
        # examples/ links to the shipped file: one copy, the same system
        assert shipped == dataclasses.replace(example, path=shipped.path)


def test_an_unknown_name_lists_the_shipped_systems() -> None:
    with pytest.raises(SystemFileError, match=r"shipped systems, by name: .*pico-can, .*stm32f4"):
        load_system("pico-cam")
