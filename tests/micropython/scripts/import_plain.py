# `import irqio` on stock MicroPython with only irqio on the path: no __future__, no typing, and
# the primitives do not pull in the controller's CPython delivery.
import sys
import time

t0 = time.ticks_us()
import irqio  # noqa: E402

print("import_us", time.ticks_diff(time.ticks_us(), t0))
print("version", irqio.__version__)
print("names", " ".join(sorted(n for n in irqio.__all__ if not n.startswith("_"))))
loaded = sorted(name for name in sys.modules if name.startswith(("irqio", "typing", "__future__")))
print("loaded", " ".join(loaded))
for absent in ("typing", "__future__", "irqio.controller.delivery", "irqio.runtime.ports.asyncio"):
    print("absent", absent, absent not in sys.modules)
print("MICROPYTHON-OK")
