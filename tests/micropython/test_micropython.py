"""irqio on MicroPython: the unix port (real threads without a GIL, MicroPython's own asyncio)
and the WebAssembly build. Each test runs one script of scripts/ and checks what it printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.micropython.conftest import SCRIPTS, SRC, run_unix, run_wasm

# -- the unix port: irqio inside MicroPython's asyncio -------------------------------------


def test_import_irqio_plain(micropython_unix: Path) -> None:
    out = run_unix(micropython_unix, "import_plain.py")
    assert "version 0.1.0" in out
    for name in ("Flag", "Event", "Message", "Queue", "Slots", "wait_any", "Controller"):
        assert f" {name}" in out.split("names", 1)[1].splitlines()[0]
    # nothing CPython-only, and no typing / __future__ stand-ins were needed
    for absent in ("typing", "__future__", "irqio.controller.delivery"):
        assert f"absent {absent} True" in out
    assert "absent irqio.runtime.ports.asyncio True" in out


def test_fifty_waiters_per_primitive_woken_from_task_soft_irq_and_thread(
    micropython_unix: Path,
) -> None:
    out = run_unix(micropython_unix, "waiters.py")
    for how in ("task", "soft-irq", "thread"):
        assert f"{how} parked [50, 50, 50] woke [50, 50, 50] values-ok True" in out, out
        assert f"{how} queue-getters 50 True overruns 0" in out, out


def test_every_interrupt_side_call_runs_with_the_heap_locked(micropython_unix: Path) -> None:
    out = run_unix(micropython_unix, "heap_locked.py")
    assert "results [(True, 0, 0)]" in out  # offer True, no MemoryError, heap unlocked after
    assert (
        "got [('event', True), ('flag', None), ('msg', ('preallocated',)), ('q1', 1), ('q2', 2)]"
        in out
    )
    assert "slots ['slot0']" in out


def test_the_interrupt_side_allocates_nothing_not_even_its_frames(micropython_unix: Path) -> None:
    # micropython.mem_total counts every byte allocated, frames a function gets from the heap
    # included (heap_lock hides those: they fall back to the C stack). Every call, from task
    # context, a soft IRQ and a thread, with its primitive bound to the loop.
    out = run_unix(micropython_unix, "heap_untouched.py")
    rows = [line.split() for line in out.splitlines() if line.startswith("bytes ")]
    assert len(rows) == 3 * 7 + 1, out
    assert {where for _, where, _, _ in rows} == {"task", "soft-irq", "thread"}
    assert [row for row in rows if row[3] != "0"] == [], out
    assert "harness 0 " in out


@pytest.mark.parametrize("run", range(2))
def test_two_gil_less_thread_producers_lose_nothing(micropython_unix: Path, run: int) -> None:
    # 2 x 50,000 tagged items into Queue(256), three runs per process, two processes.
    out = run_unix(micropython_unix, "queue_threads.py", "50000", "3", timeout=300)
    lines = [line for line in out.splitlines() if line.startswith("run ")]
    assert len(lines) == 3
    for line in lines:
        assert line == "run 100000 in-order True last [49999, 49999] conserved True", out


@pytest.mark.parametrize("run", range(2))
def test_every_kind_of_producer_at_once_loses_nothing(micropython_unix: Path, run: int) -> None:
    # Threads through offer() and through a Producer, a task through a Producer, soft IRQs
    # inside the task's offers, heap-locked callbacks: three runs per process, two processes.
    # (A branch between the read of a ring's tail and its store lost soft-IRQ items in 4 of 6.)
    out = run_unix(micropython_unix, "queue_contexts.py", "20000", "3", timeout=300)
    lines = [line for line in out.splitlines() if line.startswith("run ")]
    assert len(lines) == 3, out
    for line in lines:
        assert line.startswith("run in-order True conserved True callbacks"), out


def test_a_thousand_flags_signalled_at_once_all_wake(micropython_unix: Path) -> None:
    out = run_unix(micropython_unix, "many_flags.py")
    for how in ("task", "heap-locked", "thread"):
        assert f"{how} woke 2000" in out, out


def test_cancel_wait_any_and_loops_in_sequence(micropython_unix: Path) -> None:
    out = run_unix(micropython_unix, "cancel.py")
    assert "cancel waiting 3 2 woke [0, 2] cancelled [1]" in out  # the waiter left the Flag
    assert "queue-after-cancel 1 7" in out  # the cancelled getter took nothing
    assert "wait_any [] [True]" in out
    assert "run second" in out and "new-loop second" in out


# -- the same core scripts on both interpreters ----------------------------------------------

CORE = ["core.py", "kernel.py", "controller.py"]


def _check_core(script: str, out: str) -> None:
    if script == "core.py":
        assert "impl micropython" in out
        assert "alerts 1 pending 1" in out  # two sets, one alert: coalesced
        assert "woken [True, True, True] set False" in out  # every waiter, not only the last
        assert "queue [True, True, False] 1 1 1" in out
        assert "message 1 2" in out
        assert "slots [0]" in out
    elif script == "kernel.py":
        assert "sleepers done [2, 1]" in out  # woken in the order of their sleeps
        assert "isr 42 woke [0, 1, 2] ran [42]" in out  # every waiter, and the item delivered
        assert "left waiting 0" in out
    else:
        assert out.splitlines() == CONTROLLER_LINES


# The dispatch core of irqio.controller, unchanged, with MicroPython's delivery:
# micropython.schedule for foreign pends (a hard IRQ), synchronous dispatch for task code,
# handlers and soft IRQs. The script prints one line per scene.
CONTROLLER_LINES = [
    "controller micropython True",
    "ceilings 2 3 users ['low', 'mid', 'task'] ['high']",  # computed from the declarations
    # high (3) preempts mid (2) at once; c and b (2) and low (1) wait, then tail-chain:
    # most urgent first, FIFO within priority 2, all before task code resumes
    "nvic mid> high mid< c b low task",
    "low runs 1 merged 1 pends 2",  # pended twice before it ran: once, one merged
    # buf (ceiling 2) masks mid and low until it is released; high (3) is above it
    "resource held@2 high release mid> mid< low task",
    "violation task:CeilingViolation handler:high raised CeilingViolation",
    "critical critical@256 release high low task",  # critical() masks high too
    # a soft IRQ (micropython.schedule) lands inside the task's loop, inside its section
    "soft-irq isr(7) high loop-done mid> mid< task",
    # a hard IRQ (heap and scheduler locked) only schedules: handlers run after it returns
    "hard-irq hard-irq(ran 0, heap 0) high low loop-done",
    # sections nest: an out-of-order release raises and the later section keeps masking
    "lifo out-of-order@256 release high not-held task@0",
    "state 0 0 None 1",  # nothing left raised, one failure (the handler's violation)
    "MICROPYTHON-OK",
]


@pytest.mark.parametrize("script", CORE)
def test_core_on_the_unix_port(micropython_unix: Path, script: str) -> None:
    _check_core(script, run_unix(micropython_unix, script))


@pytest.mark.parametrize("script", CORE)
def test_core_on_the_webassembly_build(micropython_wasm: Path, script: str) -> None:
    _check_core(script, run_wasm(micropython_wasm, script))


def test_import_irqio_plain_on_the_webassembly_build(micropython_wasm: Path) -> None:
    out = run_wasm(micropython_wasm, "import_plain.py")
    assert "absent typing True" in out and "absent __future__ True" in out


# -- irqio's kernel as MicroPython's asyncio: one suite, three interpreters --------------------

COMPAT = "kernel_compat.py"


def _compat_names(function: str | None = None) -> set[str]:
    """The check names in kernel_compat.py (inside one test function, if named)."""
    text = (SCRIPTS / COMPAT).read_text()
    if function is not None:
        start = text.index(f"def {function}(")
        end = text.find("\nasync def ", start + 1)
        text = text[start : end if end > 0 else None]
    return set(re.findall(r'check\(\s*"([^"]+)"', text))


def _compat_outcome(out: str) -> tuple[set[str], set[str], list[str]]:
    lines = out.splitlines()
    oks = {line[3:] for line in lines if line.startswith("ok ")}
    skips = {line[5:].split(":")[0] for line in lines if line.startswith("skip ")}
    return oks, skips, [line for line in lines if line.startswith("FAIL")]


def test_kernel_compat_names_are_unique_and_many() -> None:
    text = (SCRIPTS / COMPAT).read_text()
    names = re.findall(r'check\(\s*"([^"]+)"', text)
    assert len(names) == len(set(names)) > 50


def test_kernel_compat_on_cpython() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / COMPAT)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(SRC)),
        cwd=SCRIPTS,
    )
    oks, skips, fails = _compat_outcome(done.stdout)
    assert done.returncode == 0 and not fails, done.stdout + done.stderr[-3000:]
    assert skips == set()
    assert oks == _compat_names()


def test_kernel_compat_on_the_unix_port(micropython_unix: Path) -> None:
    oks, skips, fails = _compat_outcome(run_unix(micropython_unix, COMPAT))
    assert not fails and skips == set()
    assert oks == _compat_names()


def test_kernel_compat_on_the_webassembly_build(micropython_wasm: Path) -> None:
    # No threads and no sockets there: those checks say "skip" and why; the rest run on the
    # real-time kernel, whose idle step polls the alert channel's io.IOBase object.
    oks, skips, fails = _compat_outcome(run_wasm(micropython_wasm, COMPAT))
    assert not fails
    assert skips == {"set from another thread wakes the task", "streams"}
    skipped = _compat_names("test_streams") | {"set from another thread wakes the task"}
    assert oks == _compat_names() - skipped


def test_kernel_hot_path_allocates_nothing_on_the_unix_port(micropython_unix: Path) -> None:
    # Under micropython.heap_lock(): 500 task switches, 20 real sleeps, 20 thread -> task
    # wakes through the alert channel; then the bytes the switches allocate, heap unlocked.
    out = run_unix(micropython_unix, "kernel_heap_locked.py", "500")
    assert "locked switches 500 sleeps 20 thread-wakes 20" in out, out
    assert "memory-error 0 depth 0" in out, out
    assert "bytes per switch 0" in out, out


def test_kernel_idle_step_on_the_unix_port(micropython_unix: Path) -> None:
    out = run_unix(micropython_unix, "kernel_realtime.py")
    assert "thread-wake True" in out  # a _thread's set ends the sleep; main waits alone (#5843)
    assert "soft-irq-wake [7]" in out  # a scheduled callback's set, with nothing else running
    assert "thread-scheduled True" in out  # a thread's micropython.schedule, bounded poll
    assert "flat True" in out, out  # one idle wait per sleep, 1 or 1000 tasks parked
    assert "wfe True" in out
    assert "lightsleep-missing True" in out  # a clear error where there is no lightsleep
    assert "lightsleep first-ask True woken True bounded True" in out, out


def test_each_core_module_imports_alone_on_micropython(micropython_unix: Path) -> None:
    # The same set as tests/test_layout.py checks on CPython, here on MicroPython, one fresh
    # process per module: nothing leans on a module that happened to be imported before it.
    import os
    import subprocess

    from tests.micropython.conftest import CPYTHON_ONLY, SRC
    from tests.test_layout import core_modules

    cpython_only = {"irqio." + p[: -len(".py")].replace("/", ".") for p in CPYTHON_ONLY}
    failures = []
    for module in sorted(set(core_modules()) - cpython_only):
        done = subprocess.run(
            [str(micropython_unix), "-c", f"import {module}"],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ, MICROPYPATH=f".frozen:{SRC}"),
        )
        if done.returncode != 0:
            failures.append(f"{module}: {done.stdout}{done.stderr}")
    assert not failures, "\n".join(failures)
