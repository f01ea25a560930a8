"""The examples of docs/kernel.md run, as shown, on CPython and on MicroPython's unix port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.micropython.conftest import unix_binary

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "kernel.md"


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def _interpreters() -> list[str]:
    found = [sys.executable]
    binary = unix_binary()
    if binary is not None:
        found.append(str(binary))
    return found


def test_the_page_has_its_examples() -> None:
    assert len(_examples()) == 2


@pytest.mark.parametrize("interp", _interpreters(), ids=lambda p: Path(p).name)
@pytest.mark.parametrize("index", [0, 1])
def test_example_runs(interp: str, index: int, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(_examples()[index])
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), MICROPYPATH=f".frozen:{ROOT / 'src'}")
    done = subprocess.run(
        [interp, str(script)], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    if index == 0:
        assert lines[-1] == "done" and lines.count("fast") == 3 and lines.count("slow") == 2
    else:
        assert lines == ["woken"]
