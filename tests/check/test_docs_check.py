"""docs/check.md shows what the code does: every Python block runs, and the sample output is
the real output of the command it names (timings aside)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "check.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.S)
OUTPUTS = re.findall(r"<!-- output of: (.*?) -->\n```text\n(.*?)```", DOC, re.S)
TIMING = re.compile(r"in \d+\.\d+ s \(\d+/s\)")


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= 3 and len(OUTPUTS) >= 1


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_blocks_run(block: str, tmp_path: Path) -> None:
    f = tmp_path / "doc_example.py"
    f.write_text(block)
    proc = subprocess.run([sys.executable, str(f)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(("command", "expected"), OUTPUTS)
def test_sample_output_is_the_real_output(command: str, expected: str) -> None:
    args = command.split()
    assert args[0] == "irqio"
    proc = subprocess.run([sys.executable, "-m", "irqio", *args[1:]], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert TIMING.sub("in T", proc.stdout) == TIMING.sub("in T", expected)
