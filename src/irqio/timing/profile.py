"""Chip profiles: TOML data under `profiles/`, every number with its source."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from irqio.timing.errors import SystemFileError

ENCODINGS = ("cortex-m", "level")


@dataclass(frozen=True)
class CacheGeometry:
    size_bytes: int
    ways: int
    line_bytes: int
    hit_cycles: int

    @property
    def sets(self) -> int:
        return self.size_bytes // (self.ways * self.line_bytes)


@dataclass(frozen=True)
class PinGroup:
    first: int
    last: int
    line: str


@dataclass(frozen=True)
class ChipProfile:
    name: str
    description: str
    arch: str
    clock_hz: int
    cores: int
    priority_levels: int
    priority_encoding: str
    priority_bits: int
    entry_cycles: int
    exit_cycles: int
    tail_chain_cycles: int
    instruction_bytes: int
    basepri: bool
    sram_cycles: int
    cache: CacheGeometry
    flash_miss_cycles: int
    flash_clkdiv: int | None
    flash_sck_per_line: int | None
    pins: int
    pin_groups: tuple[PinGroup, ...]
    # Flash transfers that can be outstanding when an interrupt comes: entry waits for all of
    # them (RP2350: 4, pico-feedback#479). 1 = the one fetch in flight.
    flash_outstanding: int = 1
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    def hw_priority(self, priority: int) -> int:
        """irqio priority (higher = more urgent, 1..levels) -> the chip's register value."""
        if self.priority_encoding == "cortex-m":
            # RTIC's cortex_logical2hw: ((1 << bits) - l) << (8 - bits); lower value = more urgent.
            return ((1 << self.priority_bits) - priority) << (8 - self.priority_bits)
        return priority

    def pin_line(self, pin: int) -> str | None:
        for group in self.pin_groups:
            if group.first <= pin <= group.last:
                return group.line
        return None

    def with_clock(self, clock_hz: int) -> ChipProfile:
        return replace(self, clock_hz=clock_hz)

    def with_flash_clkdiv(self, clkdiv: int) -> ChipProfile:
        """The XIP miss cost scales with the QSPI clock divider: SCK cycles per line x divider."""
        if self.flash_sck_per_line is None:
            raise ValueError(f"{self.name} has no flash clock divider")
        return replace(
            self, flash_clkdiv=clkdiv, flash_miss_cycles=clkdiv * self.flash_sck_per_line
        )

    def us(self, cycles: float) -> float:
        return cycles * 1e6 / self.clock_hz


def profile_names() -> list[str]:
    folder = resources.files("irqio.timing") / "profiles"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(name: str) -> ChipProfile:
    if name not in profile_names():
        raise SystemFileError(
            "<profiles>", "chip", f"unknown chip {name!r}; allowed: {', '.join(profile_names())}"
        )
    text = (resources.files("irqio.timing") / "profiles" / f"{name}.toml").read_text()
    return parse_profile(tomllib.loads(text), f"profiles/{name}.toml")


class _Reader:
    """Reads `{value, source}` numbers; a number without a source is an error."""

    def __init__(self, data: dict[str, Any], path: str) -> None:
        self.data = data
        self.path = path
        self.sources: dict[str, str] = {}

    def table(self, key: str) -> dict[str, Any]:
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise SystemFileError(self.path, key, "missing table")
        return value

    def num(self, section: str, key: str, kind: type = int, optional: bool = False) -> Any:
        entry = self.table(section).get(key)
        path = f"{section}.{key}"
        if entry is None and optional:
            return None
        if not isinstance(entry, dict) or set(entry) != {"value", "source"}:
            raise SystemFileError(self.path, path, 'must be { value = ..., source = "..." }')
        value, source = entry["value"], entry["source"]
        if not isinstance(source, str) or not source.strip():
            raise SystemFileError(self.path, f"{path}.source", "every number needs a source")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SystemFileError(self.path, f"{path}.value", f"must be {kind.__name__}")
        self.sources[path] = source
        return value


def parse_profile(data: dict[str, Any], path: str) -> ChipProfile:
    r = _Reader(data, path)
    core = r.table("core")
    encoding = core.get("priority_encoding")
    if encoding not in ENCODINGS:
        raise SystemFileError(path, "core.priority_encoding", f"allowed: {', '.join(ENCODINGS)}")
    groups = []
    for i, g in enumerate(r.table("gpio").get("groups", [])):
        if not isinstance(g.get("source"), str) or not g["source"]:
            raise SystemFileError(path, f"gpio.groups[{i}].source", "every number needs a source")
        groups.append(PinGroup(int(g["first"]), int(g["last"]), str(g["line"])))
    clkdiv = r.num("flash", "clkdiv", optional=True)
    sck = r.num("flash", "sck_per_line", optional=True)
    miss = r.num("flash", "miss_cycles", optional=True)
    outstanding = r.num("flash", "outstanding", optional=True) or 1
    if miss is None:
        if clkdiv is None or sck is None:
            raise SystemFileError(path, "flash", "needs miss_cycles or clkdiv and sck_per_line")
        miss = clkdiv * sck  # XIP miss = SCK cycles per line x divider (see rp2040.toml)
    return ChipProfile(
        name=str(data.get("name")),
        description=str(data.get("description", "")),
        arch=str(core.get("arch")),
        clock_hz=r.num("core", "clock_hz"),
        cores=r.num("core", "cores"),
        priority_levels=r.num("core", "priority_levels"),
        priority_encoding=str(encoding),
        priority_bits=r.num("core", "priority_bits"),
        entry_cycles=r.num("core", "entry_cycles"),
        exit_cycles=r.num("core", "exit_cycles"),
        tail_chain_cycles=r.num("core", "tail_chain_cycles"),
        instruction_bytes=r.num("core", "instruction_bytes"),
        basepri=r.num("core", "basepri", bool),
        sram_cycles=r.num("sram", "access_cycles"),
        cache=CacheGeometry(
            r.num("cache", "size_bytes"),
            r.num("cache", "ways"),
            r.num("cache", "line_bytes"),
            r.num("cache", "hit_cycles"),
        ),
        flash_miss_cycles=miss,
        flash_clkdiv=clkdiv,
        flash_sck_per_line=sck,
        pins=r.num("gpio", "pins"),
        pin_groups=tuple(groups),
        flash_outstanding=outstanding,
        sources=r.sources,
    )
