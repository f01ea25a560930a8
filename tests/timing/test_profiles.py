from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from irqio.timing import SystemFileError, load_profile, profile_names
from irqio.timing.profile import parse_profile


def test_all_four_profiles_load() -> None:
    assert {"rp2040", "rp2350", "stm32f4", "esp32"} <= set(profile_names())
    for name in profile_names():
        p = load_profile(name)
        assert p.cache.sets * p.cache.ways * p.cache.line_bytes == p.cache.size_bytes


def test_rp2040_numbers_from_the_reference() -> None:
    p = load_profile("rp2040")
    assert (p.clock_hz, p.cores, p.priority_levels, p.entry_cycles) == (125_000_000, 2, 4, 15)
    assert (p.cache.size_bytes, p.cache.ways, p.cache.line_bytes) == (16384, 2, 8)
    assert p.basepri is False
    assert p.flash_miss_cycles == 56  # 28 SCK x CLKDIV 2
    assert p.with_flash_clkdiv(4).flash_miss_cycles == 112
    assert p.pin_line(0) == p.pin_line(29) == "IO_IRQ_BANK0"
    # RTIC's logical->hardware mapping: 4 levels, top two bits.
    assert [p.hw_priority(x) for x in (1, 2, 3, 4)] == [0xC0, 0x80, 0x40, 0x00]


def test_other_chips() -> None:
    assert load_profile("stm32f4").entry_cycles == 12
    assert load_profile("stm32f4").priority_levels == 16
    assert load_profile("rp2350").basepri is True
    assert load_profile("esp32").priority_levels == 7
    assert load_profile("stm32f4").pin_line(7) == "EXTI9_5"


def test_every_number_has_a_source() -> None:
    for name in profile_names():
        p = load_profile(name)
        assert p.sources and all(s.strip() for s in p.sources.values())
        assert "core.entry_cycles" in p.sources


def test_a_number_without_source_is_refused() -> None:
    text = (resources.files("irqio.timing") / "profiles" / "rp2040.toml").read_text()
    data = tomllib.loads(text)
    data["core"]["entry_cycles"] = 15
    with pytest.raises(SystemFileError, match=r"core\.entry_cycles"):
        parse_profile(data, "x.toml")


def test_unknown_chip() -> None:
    with pytest.raises(SystemFileError, match="allowed: cortex-m0, cortex-m3, esp32, rp2040"):
        load_profile("z80")
