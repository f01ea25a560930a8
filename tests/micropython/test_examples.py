"""The MicroPython examples, as docs/micropython.md shows them, run on the unix port with
stand-ins for `machine.Pin` and `bluetooth.BLE` (tests/micropython/stubs)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.micropython.conftest import HERE, ROOT, SRC

EXAMPLES = ROOT / "examples" / "micropython"
DOC = ROOT / "docs" / "micropython.md"


def _run(binary: Path, example: str) -> str:
    env = dict(os.environ, MICROPYPATH=f".frozen:{SRC}:{HERE / 'stubs'}")
    done = subprocess.run(
        [str(binary), str(EXAMPLES / example)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=EXAMPLES,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_doc_shows_the_pin_example_as_it_is() -> None:
    code = (EXAMPLES / "pin_irq_queue.py").read_text()
    body = code.split("\n", 2)[2]  # the file's own two comment lines stay out of the doc
    assert body.strip() in DOC.read_text()


def test_pin_irq_queue(micropython_unix: Path) -> None:
    out = _run(micropython_unix, "pin_irq_queue.py")
    gaps = [line for line in out.splitlines() if line.startswith("edge, ")]
    assert len(gaps) == 9  # 10 edges taken by the task, timestamped in the hard IRQ
    assert all(int(line.split()[1]) > 0 for line in gaps)
    assert out.splitlines()[-1] == "edges 10 overruns 0"


@pytest.mark.parametrize("example", ["ble_scan_message.py"])
def test_ble_scan_message(micropython_unix: Path, example: str) -> None:
    out = _run(micropython_unix, example)
    lines = out.splitlines()
    assert lines[0].startswith("first advertiser 0000000000")
    seen = [line for line in lines if line.startswith("saw ")]
    assert 1 <= len(seen) <= 20  # results replaced before a read are counted, not shown
    overwritten = int(lines[-1].rsplit(" ", 1)[1])
    assert len(seen) + overwritten >= 19  # every result was read or counted (the first may be
    # read by `first` alone)


def test_thread_producer(micropython_unix: Path) -> None:
    out = _run(micropython_unix, "thread_producer.py")
    last = out.splitlines()[-1]
    assert last.startswith("readings 20000 in order True refused while full "), out


def test_the_doc_shows_the_thread_producer_example_as_it_is() -> None:
    code = (EXAMPLES / "thread_producer.py").read_text()
    body = code.split("\n", 2)[2]
    assert body.strip() in DOC.read_text()
