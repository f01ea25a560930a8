#!/usr/bin/env python3
"""Set up and run irqio from a fresh clone; needs nothing but python3 (3.11+).

    python3 dev.py demo [ARGS]    create .venv, install irqio with its extras, run `irqio demo`
    python3 dev.py test           the whole suite: ruff, mypy on src/, pytest on every
                                  interpreter present (3.11, and 3.12 / 3.13 where pyenv has them)
    python3 dev.py irqio ARGS     any irqio command inside .venv (`bench`, `check`, `sim`, ...)

Each environment is reinstalled only when pyproject.toml changes.
"""

from __future__ import annotations

import glob
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
MAIN_VENV = ROOT / ".venv"
OTHER_VENVS = ROOT / ".venvs"
EXTRA_PYTHONS = ("3.12", "3.13")


def say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(venv: Path, base_python: str, extras: str) -> Path:
    """Create `venv` from `base_python` and install irqio[extras] editable, once per pyproject."""
    stamp = venv / ".irqio-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    py = venv_python(venv)
    if py.exists() and stamp.exists() and stamp.read_text() == digest:
        return py
    if not py.exists():
        say(f"creating {venv.relative_to(ROOT)} with {base_python}")
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    say(f"installing irqio[{extras}] into {venv.relative_to(ROOT)} (once; takes a minute)")
    pip = [str(py), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[{extras}]"], check=True)
    stamp.write_text(digest)
    return py


def other_interpreters() -> list[tuple[str, str]]:
    """(version, path) of Python 3.12 / 3.13 found on PATH or under pyenv."""
    found = []
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    for ver in EXTRA_PYTHONS:
        if sys.version_info[:2] == tuple(int(p) for p in ver.split(".")):
            continue
        candidates = sorted(glob.glob(f"{pyenv_root}/versions/{ver}.*/bin/python{ver}"))
        exe = candidates[-1] if candidates else shutil.which(f"python{ver}")
        if exe and subprocess.run([exe, "-c", "pass"], capture_output=True).returncode == 0:
            found.append((ver, exe))
    return found


def run(cmd: list[str], env: dict[str, str] | None = None) -> int:
    say("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def test_env() -> dict[str, str]:
    """Where the dev extra brings a MicroPython wheel (Linux x86_64), its tests must run: a
    missing interpreter fails them instead of skipping."""
    env = dict(os.environ)
    if sys.platform == "linux" and platform.machine() == "x86_64":
        env["IRQIO_REQUIRE_MICROPYTHON"] = "1"
    return env


def cmd_demo(args: list[str]) -> int:
    py = ensure_venv(MAIN_VENV, sys.executable, "uvloop,plot,trace")
    return run([str(py), "-m", "irqio", "demo", *args])


def cmd_irqio(args: list[str]) -> int:
    py = ensure_venv(MAIN_VENV, sys.executable, "dev")
    return run([str(py), "-m", "irqio", *args])


def cmd_test(args: list[str]) -> int:
    py = ensure_venv(MAIN_VENV, sys.executable, "dev")
    failures = []
    for name, cmd in [
        ("ruff check", [str(py), "-m", "ruff", "check", "src", "tests", "benchmarks", "dev.py"]),
        ("ruff format", [str(py), "-m", "ruff", "format", "--check", "src", "tests", "benchmarks"]),
        ("mypy", [str(py), "-m", "mypy", "src"]),
    ]:
        if run(cmd) != 0:
            failures.append(name)
    # pytest's exit code 5 (no tests collected) is a failure here, like every non-zero code.
    pyver = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = test_env()
    if run([str(py), "-m", "pytest", "-q", *args], env) != 0:
        failures.append(f"pytest on {pyver}")
    for ver, exe in other_interpreters():
        vpy = ensure_venv(OTHER_VENVS / ver, exe, "dev")
        if run([str(vpy), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], env) != 0:
            failures.append(f"pytest on {ver}")
    if failures:
        say("FAILED: " + ", ".join(failures))
        return 1
    say("all checks passed")
    return 0


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        print("irqio needs Python 3.11 or newer; run this with python3.11+", file=sys.stderr)
        return 2
    commands = {"demo": cmd_demo, "test": cmd_test, "irqio": cmd_irqio}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
