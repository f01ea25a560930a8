"""irqio's runtime: the interrupt → task primitives and the doorbell that carries every ring
from interrupt context into a scheduler's task context, bound to each scheduler by a port.

* `irqio.runtime.primitives`: `Flag`, `Event`, `Message`, `Queue`, `Slots`.
* `irqio.runtime.wait_any`: one wait on many primitives.
* `irqio.runtime.doorbell`: `Doorbell`, the ring/service protocol every port implements.
* `irqio.runtime.ports`: which doorbell serves the running task; `asyncio` (CPython, stock loop
  and uvloop) and `kernel` (irqio's own scheduler).
* `irqio.runtime.counters`, `irqio.runtime.errors`.
"""
