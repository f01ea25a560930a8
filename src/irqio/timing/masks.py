"""What each policy masks while a critical section holds a resource.

- `global`, `ram`: PRIMASK (`cpsid i`) masks every line.
- `basepri`: BASEPRI at the resource's ceiling in hardware levels masks every line at or below it.
- `source-mask` (RTIC on Cortex-M0): clear the NVIC enables of the lines of every source whose
  priority is at or below the ceiling. A GPIO pin is masked through its bank's NVIC line, so
  every other pin of that bank goes with it: the GPIO-bank trap.
- `pin-mask` (Canis' driver): like `source-mask`, but a GPIO pin is masked at the GPIO block, so
  other pins of the same bank stay enabled.
A section entered by code already running at or above the ceiling masks nothing: nothing that
uses the resource can preempt it (immediate ceiling protocol).
"""

from __future__ import annotations

from dataclasses import dataclass

from irqio.timing.system import Line, System


@dataclass(frozen=True)
class Mask:
    primask: bool = False
    basepri: int = 0  # hardware level masked at and below; 0 = none
    nvic: frozenset[str] = frozenset()  # NVIC lines disabled
    pins: frozenset[str] = frozenset()  # lines (GPIO pins) masked at the GPIO block

    def blocks(self, line: Line, level: int) -> bool:
        return (
            self.primask
            or level <= self.basepri
            or line.nvic in self.nvic
            or line.name in self.pins
        )


NONE = Mask()


def section_mask(system: System, policy: str, resource: str, owner_level: int) -> Mask:
    if policy in ("global", "ram"):
        return Mask(primask=True)
    if policy == "basepri":
        level = system.hw_ceiling(resource)
        return Mask(basepri=level) if level > owner_level else NONE
    ceiling = system.resources[resource].ceiling
    if ceiling <= owner_level:
        return NONE
    under = [ln for ln in system.lines if ln.priority <= ceiling]
    if policy == "source-mask":
        return Mask(nvic=frozenset(ln.nvic for ln in under))
    if policy == "pin-mask":
        return Mask(
            nvic=frozenset(ln.nvic for ln in under if ln.pin is None),
            pins=frozenset(ln.name for ln in under if ln.pin is not None),
        )
    raise ValueError(f"unknown policy {policy!r}")
