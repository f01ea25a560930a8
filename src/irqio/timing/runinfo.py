"""What a simulation run was: recorded in every file `irqio sim --out` writes (HTML, Perfetto
JSON, VCD header), so a report can be reproduced from itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from irqio.timing.system import System


@dataclass(frozen=True)
class RunInfo:
    system: str
    variant: str | None
    chip: str
    clock_hz: int
    seed: int
    seconds: float  # simulated per policy
    irqio_version: str

    def describe(self) -> str:
        name = self.system + (f" / {self.variant}" if self.variant else "")
        return (
            f"irqio {self.irqio_version} sim {name} on {self.chip} at {self.clock_hz / 1e6:g} MHz: "
            f"seed {self.seed}, {self.seconds:g} s simulated per policy"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_info(system: System, seed: int, seconds: float) -> RunInfo:
    from irqio import __version__

    p = system.profile
    return RunInfo(system.name, system.variant, p.name, p.clock_hz, seed, seconds, __version__)
