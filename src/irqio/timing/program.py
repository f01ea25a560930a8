"""Code as the model runs it: a body is a list of fetch steps `(address, cycles)`.

A step is one visit to one cache line: fetch it (flash: through the cache; RAM: no stall), then
execute the instructions of that line. `RAM` marks SRAM code. Critical sections are marked by the
step where they begin (`enter`) and the step after which they end (`leave`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from irqio.timing.system import Part, Section, System

RAM = -1
XIP_BASE = 0x1000_0000  # RP2040 XIP cached alias (datasheet §2.5.3.1); any base works for the model
DATA_BASE = 0x1010_0000  # const data lives apart from code


@dataclass
class Body:
    steps: list[tuple[int, int]] = field(default_factory=list)
    enter: dict[int, Section] = field(default_factory=dict)
    leave: dict[int, Section] = field(default_factory=dict)

    def extend(self, other: Body) -> None:
        offset = len(self.steps)
        self.steps.extend(other.steps)
        self.enter.update({offset + i: s for i, s in other.enter.items()})
        self.leave.update({offset + i: s for i, s in other.leave.items()})


class Layout:
    """Flash addresses of every code object, fixed once so all policies see the same layout."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.line_bytes = system.profile.cache.line_bytes
        self._next_code = XIP_BASE
        self._next_data = DATA_BASE
        self.code: dict[str, int] = {}
        self.data: dict[str, int] = {}
        for line in system.lines:
            self.code[line.name] = self._alloc_code(line.handler.footprint_bytes)
            for s in line.handler.sections:
                self._alloc_section(f"{line.name}/{s.name}", s)
        for s in system.background.sections:
            self._alloc_section(f"background/{s.name}", s)
        # Parts come last, so files without them keep the layout (and results) they had.
        for line in system.lines:
            for kind, parts in (("part", line.handler.parts), ("deferred", line.deferred)):
                for j, part in enumerate(parts):
                    key = f"{line.name}/{kind}/{j}"
                    self.code[key] = self._alloc_code(
                        part.instructions * system.profile.instruction_bytes
                    )
                    self.data[key] = self._next_data
                    self._next_data += max(part.data_loads, 1) * self.line_bytes

    def _alloc_code(self, size: int) -> int:
        base = self._next_code
        lines = -(-size // self.line_bytes)
        self._next_code += lines * self.line_bytes
        return base

    def _alloc_section(self, key: str, s: Section) -> None:
        self.code[key] = self._alloc_code(s.instructions * self.system.profile.instruction_bytes)
        self.data[key] = self._next_data
        self._next_data += max(s.data_loads, 1) * self.line_bytes


def code_steps(
    n: int, cpi: float, placement: str, base: int, footprint: int, ins_bytes: int, line_bytes: int
) -> list[tuple[int, int]]:
    """Steps for `n` instructions executed straight through a footprint (looping if smaller).

    An instruction that straddles two cache lines (3-byte Xtensa code in 32-byte lines) needs
    both: the second line is a step of its own, and the instruction executes in it."""

    def cycles(a: int, b: int) -> int:  # rounding cumulative time keeps the total exact
        return round(b * cpi) - round(a * cpi)

    if placement == "ram":
        return [(RAM, cycles(0, n))]
    steps: list[tuple[int, int]] = []
    start = 0  # first instruction whose cycles are in no step yet
    current = base // line_bytes
    for i in range(n):
        addr = base + (i * ins_bytes) % footprint
        for line in range(addr // line_bytes, (addr + ins_bytes - 1) // line_bytes + 1):
            if line != current:
                steps.append((current * line_bytes, cycles(start, i)))
                start, current = i, line
    steps.append((current * line_bytes, cycles(start, n)))
    return steps


def with_data_loads(
    steps: list[tuple[int, int]], loads: int, base: int, line_bytes: int
) -> list[tuple[int, int]]:
    """Spread `loads` const-data fetches (flash lines, no extra cycles) evenly through the code."""
    if loads == 0:
        return steps
    if len(steps) == 1 and steps[0][0] == RAM:  # split RAM code so loads land inside it
        total = steps[0][1]
        steps = [
            (RAM, total * (k + 1) // (loads + 1) - total * k // (loads + 1))
            for k in range(loads + 1)
        ]
    out: list[tuple[int, int]] = []
    placed = 0
    for i, step in enumerate(steps):
        out.append(step)
        target = (i + 1) * loads // len(steps)
        while placed < target:
            out.append((base + placed * line_bytes, 0))
            placed += 1
    return out


class Compiler:
    """Builds bodies for one policy: under `ram` every critical section's code moves to SRAM."""

    def __init__(self, system: System, layout: Layout, policy: str) -> None:
        self.system = system
        self.layout = layout
        self.policy = policy
        self.p = system.profile

    def section(self, owner: str, s: Section) -> Body:
        key = f"{owner}/{s.name}"
        placement = "ram" if self.policy == "ram" else s.placement
        size = s.instructions * self.p.instruction_bytes
        steps = code_steps(
            s.instructions,
            self.system.cpi,
            placement,
            self.layout.code[key],
            size,
            self.p.instruction_bytes,
            self.p.cache.line_bytes,
        )
        # Const data stays in flash whatever the policy: the post's warning about `const` data.
        steps = with_data_loads(steps, s.data_loads, self.layout.data[key], self.p.cache.line_bytes)
        return Body(steps, {0: s}, {len(steps) - 1: s})

    def parts(self, name: str, kind: str, parts: tuple[Part, ...]) -> Body:
        """Parts in order, each straight code at its own address and placement."""
        body = Body()
        for j, part in enumerate(parts):
            key = f"{name}/{kind}/{j}"
            size = part.instructions * self.p.instruction_bytes
            steps = code_steps(
                part.instructions,
                self.system.cpi,
                part.placement,
                self.layout.code[key],
                size,
                self.p.instruction_bytes,
                self.p.cache.line_bytes,
            )
            lb = self.p.cache.line_bytes
            body.extend(Body(with_data_loads(steps, part.data_loads, self.layout.data[key], lb)))
        return body

    def deferred(self, name: str) -> Body:
        """The code the background runs for line `name` after its handler (empty: none)."""
        return self.parts(name, "deferred", self.system.line(name).deferred)

    def handler(self, name: str) -> Body:
        line = self.system.line(name)
        h = line.handler
        if h.parts:
            # Parts in order; the critical sections run after the first part.
            first = self.parts(name, "part", h.parts[:1])
            body = Body(first.steps)
            for s in h.sections:
                body.extend(self.section(name, s))
            rest = self.parts(name, "part", h.parts)
            body.extend(Body(rest.steps[len(first.steps) :]))
            return body
        plain = code_steps(
            h.instructions,
            self.system.cpi,
            h.placement,
            self.layout.code[name],
            h.footprint_bytes,
            self.p.instruction_bytes,
            self.p.cache.line_bytes,
        )
        # Order: first half of the plain code, the sections, the rest (see docs/timing.md).
        half = (len(plain) + 1) // 2 if len(plain) > 1 else len(plain)
        body = Body(plain[:half])
        for s in h.sections:
            body.extend(self.section(name, s))
        body.extend(Body(plain[half:]))
        return body

    def wcet(self, body: Body, start: int = 0, stop: int | None = None) -> int:
        """Worst case of steps [start, stop): every flash fetch a miss."""
        miss = self.p.flash_miss_cycles
        return sum(c + (miss if a != RAM else 0) for a, c in body.steps[start:stop])
