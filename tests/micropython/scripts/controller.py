# Runs under MicroPython: irqio's interrupt controller and resources, pended from task code,
# from handlers, from a soft IRQ (micropython.schedule) and from a simulated hard IRQ.
import micropython
from irqio._compat import MICROPYTHON
from irqio.controller import CeilingViolation, Controller, NotHeld, OutOfOrderRelease
from irqio.controller.resource import Resource

print("controller micropython", MICROPYTHON)

log = []
failures = []
ctl = Controller(on_failure=lambda line, f: failures.append((line.name, f.kind, f.error)))
buf = Resource("buf")  # shared by low, mid and task code: ceiling 2
spare = Resource("spare")  # declared by high only
in_mid = []  # the lines mid's handler pends, set per scene
high_enters = []  # the resources high's handler enters, set per scene


def on_low():
    with buf:
        log.append("low")


def on_mid():
    with buf:
        log.append("mid>")
        for line in in_mid:
            line.pend()
        log.append("mid<")


def on_high():
    for res in high_enters:
        with res:
            pass
    log.append("high")


def on_b():
    log.append("b")


def on_c():
    log.append("c")


low = ctl.line("low", 1, on_low, uses=[buf])
mid = ctl.line("mid", 2, on_mid, uses=[buf])
b = ctl.line("b", 2, on_b)
c = ctl.line("c", 2, on_c)
high = ctl.line("high", 3, on_high, uses=[spare])
ctl.task_uses(buf)
print("ceilings", buf.ceiling, spare.ceiling, "users", buf.users, spare.users)


def scene(name):
    print(name, " ".join(log))
    del log[:]


# 1. Strict-priority preemption and tail-chaining. Inside mid's handler (priority 2, holding buf
#    whose ceiling is 2): high (3) preempts at once, nested; low (1) and c, b (2, equal) wait,
#    then run when mid ends, most urgent first, FIFO within priority 2, before task code resumes.
#    low is pended twice before it runs: it runs once, the second pend is merged.
in_mid[:] = [low, high, c, b, low]
mid.pend()
log.append("task")
scene("nvic")
print("low runs", low.runs, "merged", low.merged, "pends", low.pends)
in_mid[:] = []

# 2. A resource masks the lines at or under its ceiling while task code holds it; they run the
#    moment it is released, before `with` returns. A line above the ceiling preempts the section.
with buf:
    log.append(f"held@{ctl.ceiling}")
    mid.pend()
    low.pend()
    high.pend()
    log.append("release")
log.append("task")
scene("resource")

# 3. Entering a resource that was not declared: CeilingViolation, from task code and from a
#    handler (reported as the handler's failure, the dispatch goes on).
try:
    with spare:
        pass
except CeilingViolation as e:
    log.append("task:" + type(e).__name__)
high_enters[:] = [buf]
high.pend()
high_enters[:] = []
log.append("handler:" + " ".join(f"{n} {k} {type(e).__name__}" for n, k, e in failures))
scene("violation")

# 4. critical() masks every line, the most urgent too; they run when it ends.
with ctl.critical():
    log.append(f"critical@{ctl.ceiling}")
    low.pend()
    high.pend()
    log.append("release")
log.append("task")
scene("critical")


# 5. A soft IRQ: micropython.schedule runs `isr` at a bytecode boundary of the task loop below,
#    while the task holds buf. Its pends dispatch at once: high preempts the section, mid waits
#    for the release.
def isr(arg):
    log.append(f"isr({arg})")
    mid.pend()
    high.pend()


with buf:
    micropython.schedule(isr, 7)
    for _ in range(50):  # task code; the soft IRQ lands inside this loop
        pass
    log.append("loop-done")
log.append("task")
scene("soft-irq")


# 6. A hard IRQ, simulated as MicroPython runs one: the scheduler locked (we are inside a
#    scheduled callback, and callbacks do not nest) and the heap locked. Its pends see a foreign
#    context: they publish and schedule the dispatch; nothing allocates and no handler runs
#    there. The dispatch runs when the IRQ returns, at the next bytecode boundary of the loop.
seen = [0, 0]


def hard_irq(_):
    micropython.heap_lock()
    runs = high.runs
    high.pend()
    low.pend()
    seen[0] = high.runs - runs  # handlers run here: 0
    seen[1] = micropython.heap_unlock()
    log.append(f"hard-irq(ran {seen[0]}, heap {seen[1]})")


micropython.schedule(hard_irq, None)
for _ in range(50):  # task code; the IRQ, then the dispatch it scheduled, land in this loop
    pass
log.append("loop-done")
scene("hard-irq")

# 7. Sections nest. Releasing buf while critical() (entered after it) is held raises
#    OutOfOrderRelease, and critical() keeps masking high until it is released; releasing buf
#    again raises NotHeld. Nothing stays masked.
crit = ctl.critical()
buf.__enter__()
crit.__enter__()
try:
    buf.__exit__(None, None, None)
except OutOfOrderRelease:
    log.append(f"out-of-order@{ctl.ceiling}")
high.pend()
log.append("release")
crit.__exit__(None, None, None)
try:
    buf.__exit__(None, None, None)
except NotHeld:
    log.append("not-held")
log.append(f"task@{ctl.ceiling}")
scene("lifo")
print("state", ctl.running_priority, ctl.ceiling, ctl.current_line, len(failures))
print("MICROPYTHON-OK")
