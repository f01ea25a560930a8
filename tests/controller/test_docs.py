"""docs/controller.md's Python blocks run, and print what their comments say."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "controller.md"


def blocks() -> list[tuple[int, str]]:
    text = DOC.read_text()
    return [
        (text.count("\n", 0, m.start()) + 2, m.group(1))
        for m in re.finditer(r"```python\n(.*?)```", text, re.S)
    ]


def expected_output(body: str) -> list[str]:
    """The `# a b c` comment of each print(...) line, up to a `;` (the rest is prose)."""
    return [
        line.split("#", 1)[1].split(";")[0].strip()
        for line in body.splitlines()
        if line.lstrip().startswith("print(") and "#" in line
    ]


def test_the_page_has_python_blocks() -> None:
    assert len(blocks()) >= 2


@pytest.mark.parametrize(("line", "body"), blocks(), ids=[f"line{n}" for n, _ in blocks()])
def test_python_block_runs(line: int, body: str) -> None:
    # A fresh interpreter: each block creates a main-thread controller or takes signals.
    done = subprocess.run([sys.executable, "-c", body], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"docs/controller.md:{line}\n{done.stderr[-2000:]}"
    assert done.stdout.splitlines() == expected_output(body), f"docs/controller.md:{line}"
