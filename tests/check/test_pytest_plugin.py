"""The pytest plugin: scenarios named like tests are items; failures replay; -k selects."""

import subprocess
import sys
from pathlib import Path

FILE = """
import irqio
from irqio.check import scenario
from irqio.kernel import Kernel


class HandFlag:
    def __init__(self, kernel):
        self.kernel, self.state, self.task = kernel, False, None
        kernel.services.append(self._service)

    def set(self):
        self.state = True
        if self.task is not None:
            self.kernel.alert()

    def _service(self):
        if self.state and self.task is not None:
            task, self.task, self.state = self.task, None, False
            self.kernel.ready(task)

    async def wait(self):
        if not self.state:
            self.task = self.kernel.cur_task
            await self.kernel.park()
        else:
            self.state = False


@scenario
def test_hand_flag(s):
    k = s.kernel()
    flag = HandFlag(k)
    woke = []

    async def main():
        await flag.wait()
        woke.append(1)

    s.task(lambda: k.run(main()))
    s.handler(flag.set, "isr")
    s.at_end(lambda: woke == [1], "woke")


@scenario(ports=("kernel", "asyncio"))
def test_irqio_flag(s):
    flag = irqio.Flag()
    woke = []

    async def main():
        await flag.wait()
        woke.append(1)

    s.run(main)
    s.handler(flag.set, "isr")
    s.at_end(lambda: woke == [1], "woke")


@scenario
def helper(s):
    s.task(lambda: None)
"""


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "irqio.check.pytest_plugin", "-q",
         "-p", "no:randomly", *args],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_scenarios_run_as_tests_and_a_failure_prints_its_replay(tmp_path: Path) -> None:
    (tmp_path / "test_flags.py").write_text(FILE)
    proc = _pytest(tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 2 passed" in proc.stdout  # helper is not named like a test
    assert "test_hand_flag [kernel port, exhaustive, 1 preemption]: BROKEN" in proc.stdout
    assert "replay: pytest 'test_flags.py::test_hand_flag' --irqio-replay=isr@" in proc.stdout


def test_the_next_run_replays_the_failing_schedule_first(tmp_path: Path) -> None:
    (tmp_path / "test_flags.py").write_text(FILE)
    _pytest(tmp_path, "-k", "hand")
    again = _pytest(tmp_path, "-k", "hand")
    assert "the schedule that failed last time, replayed first" in again.stdout
    assert "[kernel port, replay, 1 preemption]: BROKEN" in again.stdout


def test_k_selects_and_irqio_check_collects_every_scenario(tmp_path: Path) -> None:
    (tmp_path / "test_flags.py").write_text(FILE)
    picked = _pytest(tmp_path, "-k", "irqio_flag and asyncio")
    assert picked.returncode == 0 and "1 passed, 2 deselected" in picked.stdout
    listed = _pytest(tmp_path, "--irqio-check", "--collect-only")
    for item in ("test_hand_flag", "test_irqio_flag[kernel]", "test_irqio_flag[asyncio]",
                 "helper"):  # fmt: skip
        assert f"test_flags.py::{item}" in listed.stdout


def test_irqio_replay_runs_one_schedule(tmp_path: Path) -> None:
    (tmp_path / "test_flags.py").write_text(FILE)
    safe = _pytest(tmp_path, "-k", "hand", "--irqio-replay=isr@0", "-p", "no:cacheprovider")
    assert safe.returncode == 0, safe.stdout
