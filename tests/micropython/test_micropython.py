"""irqio's core imports and runs under MicroPython (the WebAssembly build from the npm registry).

Needs node and npm; the package is installed once into .cache/ (gitignored).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = ROOT / ".cache" / "micropython-wasm"
PACKAGE = "@micropython/micropython-webassembly-pyscript@1.27.0"


@pytest.fixture(scope="module")
def micropython() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run MicroPython's WebAssembly build")
    entry = CACHE / "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs"
    if not entry.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run(
                ["npm", "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", PACKAGE],
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm install {PACKAGE} took over 300 s (registry unreachable?)")
        if done.returncode != 0:  # the registry, not irqio: say so instead of failing
            pytest.skip(f"npm install {PACKAGE} failed:\n{done.stderr[-1000:]}")
    return CACHE


def run_on_micropython(cache: Path, script: Path) -> str:
    done = subprocess.run(
        ["node", str(HERE / "run.mjs"), str(cache), str(ROOT / "src"), str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout
    assert done.returncode == 0 and "MICROPYTHON-OK" in out, out + done.stderr[-3000:]
    return out


def test_core_primitives_run_under_micropython(micropython: Path) -> None:
    out = run_on_micropython(micropython, HERE / "core_on_micropython.py")
    assert "impl micropython" in out
    assert "rings 1 pending 1" in out  # two sets, one ring: coalesced
    assert "woken [True, True, True] set False" in out  # every waiter, not only the last
    assert "queue True True False 1 1 1" in out
    assert "message 1 2" in out
    assert "slots [0]" in out


def test_kernel_and_its_port_run_under_micropython(micropython: Path) -> None:
    # irqio's own scheduler, the kernel port, and a real soft-IRQ handler (micropython.schedule)
    # that sets a Flag and feeds a Queue while tasks run.
    out = run_on_micropython(micropython, HERE / "kernel_on_micropython.py")
    assert "sleepers done [2, 1]" in out  # woken in the order of their sleeps
    assert "isr 42 woke [0, 1, 2] ran [42]" in out  # every waiter, and the item delivered
    assert "left waiting 0" in out


def test_controller_and_resources_run_under_micropython(micropython: Path) -> None:
    # The dispatch core of irqio.controller and irqio.controller.resource, unchanged, with
    # MicroPython's delivery: micropython.schedule for foreign pends (a hard IRQ), synchronous
    # dispatch for task code, handlers and soft IRQs. The script prints one line per scene.
    out = run_on_micropython(micropython, HERE / "controller_on_micropython.py")
    assert out.splitlines() == [
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
        "state 0 0 None 1",  # nothing left raised, one failure (the handler's violation)
        "MICROPYTHON-OK",
    ]
