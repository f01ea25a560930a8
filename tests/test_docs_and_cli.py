"""The README's example runs as written, and the CLI's own errors are clear."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from irqio.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_readme_example_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "the README shows a Python example"
    out = subprocess.run(
        [sys.executable, "-c", blocks[0]], capture_output=True, text=True, timeout=20
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{10} overruns: 0"  # SIGUSR1 is 10 on Linux


def test_readme_controller_example_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.findall(r"```python\n(.*?)```", readme, re.S)[1]
    check = """
import asyncio
async def main():
    ctl.lines()[0].pend()
    await asyncio.wait_for(done.wait(), 5)
    print(fifo.ceiling, ctl.lines()[0].runs)
asyncio.run(main())
ctl.close()
"""
    out = subprocess.run(
        [sys.executable, "-c", block + check], capture_output=True, text=True, timeout=20
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "1"]  # ceiling computed from the users; ran once


def test_readme_first_screen_has_the_two_commands() -> None:
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:15])
    assert "python3 dev.py demo" in first_screen
    assert "python3 dev.py test" in first_screen
    assert "python3 dev.py test" in (ROOT / ".ci" / "run").read_text()


def test_cli_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_demo_unknown_section_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "nope"]) == 2
    assert "unknown section nope" in capsys.readouterr().out


def test_demo_primitives_section_holds() -> None:
    from rich.console import Console

    from irqio.demo import primitives

    console = Console(record=True, width=140)
    assert primitives.run(console, seconds=0.5)
    text = console.export_text()
    assert "Nothing lost." in text
    for name in ("Queue ← threads", "Queue ← signal", "Flag", "Event", "Message"):
        assert name in text
