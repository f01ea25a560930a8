"""`-j N` and `--ray`: one search split over processes or machines, with the serial result.

Exhaustive mode (with the reduction) works two levels deep: the master runs the first
placements the serial search runs (one run each: a few), the workers explore their children in
ranges (`search.explore_children`, each child with its whole subtree), and the master merges
each level in the serial order (`search.merge_children`, `search.merge`: the same schedules
counted, the same pruning, the same first failure). Splitting by first placement alone would
redo a whole subtree for every range that starts inside a class, and the first level has few
classes. Without the reduction, workers take ranges of first placements.

Balance: subtrees differ in size by orders of magnitude (one first placement's children held
8,830 of a search's 22,368 schedules), so the work is cut into many pieces of about equal
estimated size (`PIECES_PER_JOB` per worker) and handed out heaviest first; a worker that is
done takes the next (the pool's queue), so the last to finish are small. Below two placements
the master cuts a first placement's children only where the serial search runs a child (it runs
each of those once, as it does the first placements, and weighs it by its own run's horizon):
a piece that starts inside a class would redo a pruned child's subtree. Random and PCT modes
split by run index: run i draws from a generator seeded by (seed, i) alone
(`walks.rng_for`), so the master takes the workers' runs in index order and stops where the
serial search would have stopped. The master then replays the failing schedule itself to
shrink and explain it.

Workers find the scenario by its file and name (they import the file, as `irqio check` does),
so it must be a `@scenario` at the top level of its file. Local workers are processes started
fresh (`spawn`); `--ray ADDRESS` submits the same work to a Ray cluster (`pip install ray`),
whose nodes must be able to import irqio and the scenario's file.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from irqio.check import search, walks
from irqio.check.clock import virtual_controller_clock
from irqio.check.engine import Engine, quiet_abandoned_coroutines
from irqio.check.outcome import Failure
from irqio.check.scenario import Scenario, ScenarioError

if TYPE_CHECKING:
    from irqio.check.explore import Progress, Result

# A worker's answer about one first placement (exhaustive) or one run/walk (sampled).
Slim = dict[str, Any]
Spec = tuple[str, str]  # (scenario file, scenario name)

CHUNKS_PER_JOB = 4  # sampled modes: runs in flight per worker, in chunks
WALKS_PER_CHUNK = 64
# Exhaustive mode: pieces of work per worker. Subtrees differ in size by orders of magnitude,
# so the work is cut finely and handed out largest first: a worker that is done takes the
# next piece (the pool's queue), and the last pieces to finish are small ones.
PIECES_PER_JOB = 16


def split_points(
    ranges: list[tuple[int, int]], atoms: list[list[tuple[int, float]]], pieces: int
) -> list[tuple[int, int, int, float]]:
    """Cut ranges [start, stop) of placements into pieces of about equal estimated work,
    about `pieces` in all. `atoms[i]`: the points of range i where a piece may start, each
    with the estimated work from there to the next one (a range starts at its first atom).
    Returns (range index, start, stop, weight), heaviest first."""
    total = sum(w for row in atoms for _, w in row)
    target = total / max(1, pieces)
    out: list[tuple[int, int, int, float]] = []
    for i, ((_, stop), row) in enumerate(zip(ranges, atoms, strict=True)):
        if not row:
            continue
        start, acc = row[0][0], 0.0
        for point, w in row:
            if acc > 0 and acc + w / 2 > target:
                out.append((i, start, point, acc))
                start, acc = point, 0.0
            acc += w
        out.append((i, start, stop, acc))
    out.sort(key=lambda piece: -piece[3])
    return out


def even_atoms(start: int, stop: int, depth_left: int) -> list[tuple[int, float]]:
    """Every point of [start, stop) an atom, weighed by the schedules a placement there
    would have below it if every deeper one landed before `stop` (a rough guess)."""
    return [(c, float(max(1, stop - c)) ** depth_left) for c in range(start, stop)]


# -- the worker side -------------------------------------------------------------------------

_workers: dict[Spec, tuple[Engine, search.Root]] = {}
_worker_context: contextlib.ExitStack | None = None


def _engine(spec: Spec, bound: int, record_untraced: bool) -> tuple[Engine, search.Root]:
    global _worker_context
    if _worker_context is None:
        # Once per worker process: the controller's clock stays virtual, and abandoned
        # coroutines stay quiet (see `Engine.quiet`: not a warnings filter per run).
        _worker_context = contextlib.ExitStack()
        _worker_context.enter_context(virtual_controller_clock())
        _worker_context.enter_context(quiet_abandoned_coroutines())
        gc.disable()
    key = (spec[0], f"{spec[1]}/{bound}/{record_untraced}")
    found = _workers.get(key)
    if found is None:
        engine = Engine(find_scenario(*spec), record_untraced=record_untraced)
        engine.quiet = True
        engine.run([], leaf=True, to_end=True)  # warm-up: imports must not shift points
        found = _workers[key] = (engine, search.root_run(engine, bound))
    return found


def find_scenario(file: str, name: str) -> Scenario:
    from irqio.check.collect import collect

    for sc in collect(file):
        if sc.name == name:
            return sc
    raise ScenarioError(
        f"scenario {name} is not at the top level of {file}: -j/--ray workers import the file "
        "and look it up by name"
    )


def _slim_found(found: search.Found | None) -> Slim | None:
    if found is None:
        return None
    failure = found.outcome.failure
    assert failure is not None
    return {"placements": found.placements, "kind": failure.kind, "text": failure.text}


def _slim_rep(r: search.Rep) -> Slim:
    return {"point": r.point, "name": r.name, "runs": r.runs, "pruned": r.pruned,
            "limit": r.limit, "above": r.above, "found": _slim_found(r.found)}  # fmt: skip


def run_task(spec: Spec, task: dict[str, Any]) -> dict[str, Any]:
    """One piece of work, in a worker process (or a Ray task)."""
    mode = task["mode"]
    bound = task["bound"]
    if mode == "warm":  # start-up only (see `explore_parallel`)
        _engine(spec, bound, task["record"])
        return {}
    engine, root = _engine(spec, bound, mode == "children" or (mode == "exhaustive"
                                                                 and task["reduce"]))  # fmt: skip
    if mode == "children":
        prefix = [(int(p), str(n)) for p, n in task["prefix"]]
        points = range(task["start"], task["stop"])
        part = search.explore_children(
            engine, root, bound, prefix, task["horizon"], points, switches=task["switches"]
        )
        return {"reps": [_slim_rep(r) for r in part.reps]}
    if mode == "exhaustive":
        part = search.explore_range(
            engine,
            root,
            bound,
            range(task["start"], task["stop"]),
            reduce=task["reduce"],
            only=task.get("only"),
        )
        return {"reps": [_slim_rep(r) for r in part.reps]}
    items = []
    for index in range(task["first"], task["stop"]):
        if mode == "random":
            made, found = walks.random_walk(
                engine, root, bound, task["seed"], index, task["budget"]
            )
        else:
            out, placed = walks.pct_run(engine, root, task["depth"], task["seed"], index)
            made = 1
            found = search.Found(out, placed) if out.failure is not None else None
        items.append({"index": index, "runs": made, "found": _slim_found(found)})
        if found is not None:
            break
    return {"items": items}


# -- the master side -------------------------------------------------------------------------


class _Pool:
    """Local processes or a Ray cluster, behind one submit/wait interface."""

    def __init__(self, jobs: int, ray_address: str | None) -> None:
        self.ray: Any = None
        self.executor: ProcessPoolExecutor | None = None
        if ray_address is not None:
            try:
                import ray
            except ImportError:
                raise ImportError(
                    "--ray needs Ray: pip install ray (or irqio[ray]); or use -j N for the "
                    "cores of this machine"
                ) from None
            if not ray.is_initialized():
                if ray_address in ("local", ""):
                    ray.init(include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(address=ray_address, log_to_driver=False)
            self.ray = ray
            self.remote = ray.remote(run_task)
        else:
            self.executor = ProcessPoolExecutor(
                max_workers=jobs, mp_context=multiprocessing.get_context("spawn")
            )

    def submit(self, spec: Spec, task: dict[str, Any]) -> Any:
        if self.ray is not None:
            return self.remote.remote(spec, task)
        assert self.executor is not None
        return self.executor.submit(run_task, spec, task)

    def wait(self, pending: list[Any]) -> list[tuple[Any, dict[str, Any]]]:
        """Block until at least one is done; return (handle, result) for the done ones."""
        if self.ray is not None:
            done, _ = self.ray.wait(pending, num_returns=1)
            return [(h, self.ray.get(h)) for h in done]
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        return [(f, _result(f)) for f in finished]

    def cancel(self, handles: list[Any]) -> None:
        for h in handles:
            if self.ray is not None:
                try:
                    self.ray.cancel(h, force=True)
                except Exception:
                    pass
            else:
                h.cancel()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)


def _result(future: Future[dict[str, Any]]) -> dict[str, Any]:
    try:
        return future.result()
    except ScenarioError:
        raise
    except Exception as error:
        raise RuntimeError(f"a worker failed: {type(error).__name__}: {error}") from error


def explore_parallel(
    scenario: Scenario,
    result: Result,
    bound: int,
    runs: int,
    jobs: int,
    ray_address: str | None,
    progress: Progress | None,
    reduce: bool,
    shrink_failures: bool,
) -> Result:
    from irqio.check.explore import Interrupted, finish

    mode = result.mode
    if mode in ("replay", "portfolio"):
        raise ValueError(f"-j/--ray split exhaustive, random and pct searches, not {mode}")
    spec = (scenario.file, scenario.name)
    find_scenario(*spec)  # fail early, in the master, if workers could not find it
    result.jobs = jobs
    t0 = time.perf_counter()
    pool = _Pool(jobs, ray_address)
    record = reduce and mode == "exhaustive"
    # The workers start now (spawn, imports, the scenario's warm-up and root runs) while the
    # master makes its own runs, not after: a task that only builds a worker's engine.
    for _ in range(jobs):
        pool.submit(spec, {"mode": "warm", "bound": bound, "record": record})
    with virtual_controller_clock(), quiet_abandoned_coroutines():
        engine = Engine(scenario, record_untraced=record)
        engine.quiet = True  # inside quiet_abandoned_coroutines() already
        result.backend = engine.tracer.backend
        gc_was = gc.isenabled()
        try:
            engine.run([], leaf=True, to_end=True)
            gc.disable()
            root = search.root_run(engine, bound)
            result.points = root.horizon
            result.contexts = root.names
            if root.outcome.failure is not None:
                found: search.Found | None = search.Found(root.outcome, [])
                result.schedules_run = 1
            elif bound == 0:
                found = None
                result.schedules_run = 1
            elif mode == "exhaustive":
                found = _exhaustive(pool, spec, engine, root, bound, jobs, reduce, result,
                                    progress)  # fmt: skip
            else:
                found = _sampled(pool, spec, engine, root, bound, runs, jobs, result, progress)
            result.elapsed = time.perf_counter() - t0
            if found is not None:
                finish(engine, result, found, shrink_failures, moves=mode != "exhaustive")
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            result.elapsed = time.perf_counter() - t0
            pool.close()
            engine.close()
            if gc_was:
                gc.enable()
    if result.interrupted:
        raise Interrupted(result)
    return result


def _rep(data: Slim, engine: Engine) -> search.Rep:
    found = None
    slim = data["found"]
    if slim is not None:
        placements = [(int(p), str(n)) for p, n in slim["placements"]]
        out = engine.run(placements, leaf=True)  # the full outcome, here in the master
        if out.failure is None:  # pragma: no cover - runs are deterministic
            out.failure = Failure(slim["kind"], slim["text"])
        found = search.Found(out, placements)
    return search.Rep(data["point"], data["name"], data["runs"], data["pruned"], data["limit"],
                      found, list(data.get("above", [])))  # fmt: skip


class _Guess:
    """A first placement the serial search runs, as the master ran it (the child run)."""

    def __init__(self, point: int, name: str, out: Any, leaf: bool) -> None:
        self.point = point
        self.name = name
        self.out = out
        self.leaf = leaf
        self.horizon = out.horizon  # of its children
        self.switches = search.switches_of(out)  # its children's segments
        scan = out.scans[0] if out.scans else None
        self.limit = search.limit_of(scan, point)


def _guess_chain(engine: Engine, root: search.Root, bound: int, name: str) -> list[_Guess]:
    """The first placements of one context the serial search will run, each with its own run
    (the serial search's run of it). The chain follows each run's own scan; a subtree can end
    a class earlier, which the merge finds and runs."""
    free = search.free_contexts([], root.names, root.threads)
    guesses, k = [], 0
    while k < root.horizon:
        placements = [(k, name)]
        leaf = search.is_leaf(placements, free, name, root.threads, bound)
        out = engine.run(placements, leaf, reduce=True)
        guess = _Guess(k, name, out, leaf)
        guesses.append(guess)
        if out.failure is not None:
            break
        k = min(max(k, guess.limit), root.horizon) + 1
    return guesses


def _child_atoms(
    engine: Engine, root: search.Root, bound: int, g: _Guess
) -> list[tuple[int, float]]:
    """Where the pieces of a first placement's children may start: at the children the
    serial search will run (guessed as `_guess_chain` does, one run each), so that a piece
    seldom starts inside a class (it would run a pruned child's subtree for nothing). Each
    weighs what its own run says of its subtree: (its horizon - its point) ** (placements
    left below it)."""
    prefix = [(g.point, g.name)]
    weights: dict[int, float] = {}
    for lo, hi, cpu in search.segments(prefix, root.threads, g.horizon, g.switches):
        # Every chain starts afresh in a segment, as the serial search's do.
        free = search.free_contexts(prefix, root.names, root.threads, cpu)
        for name in free:
            k = lo
            while k < hi:
                placements = [*prefix, (k, name)]
                leaf = search.is_leaf(placements, free, name, root.threads, bound)
                out = engine.run(placements, leaf, reduce=True)
                below = 0 if leaf else bound - 2
                weights[k] = weights.get(k, 0.0) + float(max(1, out.horizon - k)) ** below
                if out.failure is not None:
                    break
                scan = out.scans[1] if len(out.scans) > 1 else None
                k = min(max(k, search.limit_of(scan, k)), hi - 1) + 1
    return sorted(weights.items())


def _gather(
    pool: _Pool, handles: dict[Any, Any], engine: Engine, progress: Progress | None
) -> list[tuple[Any, search.Search]]:
    """Every piece's answer, with the key `handles` gives its handle (where it starts in the
    serial order), as the workers finish them. A piece that found a failure cancels the
    pieces keyed after it: they cannot hold an earlier one."""
    done: list[tuple[Any, search.Search]] = []
    pending = list(handles)
    try:
        while pending:
            for handle, answer in pool.wait(pending):
                if handle not in pending:
                    continue  # cancelled meanwhile: it cannot hold an earlier failure
                pending.remove(handle)
                key = handles[handle]
                reps = [_rep(r, engine) for r in answer["reps"]]
                done.append((key, search.Search(reps=reps)))
                if any(r.found is not None for r in reps):
                    late = [h for h in pending if handles[h] > key]
                    pool.cancel(late)
                    pending = [h for h in pending if h not in late]
                if progress is not None:
                    runs = sum(r.runs for _, part in done for r in part.reps)
                    progress(len(handles) - len(pending), len(handles), runs)
    except BaseException:
        pool.cancel(pending)
        raise
    return done


def _exhaustive(
    pool: _Pool,
    spec: Spec,
    engine: Engine,
    root: search.Root,
    bound: int,
    jobs: int,
    reduce: bool,
    result: Result,
    progress: Progress | None,
) -> search.Found | None:
    """With the reduction: the master runs the first placements the serial search runs (a
    few runs), and the workers their children, in ranges; both levels merge in the serial
    order. Without it: the workers run ranges of first placements."""
    if not reduce:
        return _exhaustive_ranges(pool, spec, engine, root, bound, jobs, result, progress)
    names = search.free_contexts([], root.names, root.threads)
    guesses = [g for name in names for g in _guess_chain(engine, root, bound, name)]
    handles: dict[Any, tuple[int, str]] = {}
    split = [g for g in guesses if not g.leaf and g.out.failure is None]
    ranges = [(g.point + 1, g.horizon) for g in split]
    if bound <= 2:  # the children are leaves: one run each
        atoms = [even_atoms(a, b, 0) for a, b in ranges]
    else:
        atoms = [_child_atoms(engine, root, bound, g) for g in split]
    for i, a, b, _ in split_points(ranges, atoms, jobs * PIECES_PER_JOB):
        g = split[i]
        task = {"mode": "children", "bound": bound, "prefix": [(g.point, g.name)],
                "horizon": g.horizon, "switches": g.switches, "start": a, "stop": b}  # fmt: skip
        handles[pool.submit(spec, task)] = (g.point, g.name)
    answers: dict[tuple[int, str], list[search.Search]] = {}
    for key, part in _gather(pool, handles, engine, progress):
        answers.setdefault(key, []).append(part)

    def first_level(g: _Guess) -> search.Rep:
        """One first placement: its run and its children, merged in the serial order."""
        if g.out.failure is not None:
            return search.Rep(g.point, g.name, 1, 0, -1, search.Found(g.out, [(g.point, g.name)]))
        if g.leaf:
            return search.Rep(g.point, g.name, 1, 0, g.limit)
        prefix = [(g.point, g.name)]

        def missing_child(point: int, name: str) -> search.Rep:
            part = search.explore_children(engine, root, bound, prefix, g.horizon,
                                           range(point, point + 1), switches=g.switches,
                                           only=name)  # fmt: skip
            return part.reps[0]

        below = search.merge_children(root, prefix, g.horizon, answers.get((g.point, g.name),
                                      []), missing_child, switches=g.switches)  # fmt: skip
        limit = min(g.limit, below.above[0]) if below.above else g.limit
        return search.Rep(g.point, g.name, 1 + below.runs, below.pruned, limit, below.found)

    firsts = [first_level(g) for g in guesses]

    def missing_first(point: int, name: str) -> search.Rep:
        # A first placement the guesses missed (a subtree ended its class early): run here.
        part = search.explore_range(engine, root, bound, range(point, point + 1), only=name)
        return part.reps[0]

    merged = search.merge(root, [search.Search(reps=firsts)], missing_first)
    result.schedules_run = merged.runs
    result.pruned = merged.pruned
    return merged.found


def _exhaustive_ranges(
    pool: _Pool,
    spec: Spec,
    engine: Engine,
    root: search.Root,
    bound: int,
    jobs: int,
    result: Result,
    progress: Progress | None,
) -> search.Found | None:
    handles: dict[Any, int] = {}
    ranges = [(0, root.horizon)]
    atoms = [even_atoms(0, root.horizon, bound - 1)]
    for _, a, b, _ in split_points(ranges, atoms, jobs * PIECES_PER_JOB):
        task = {"mode": "exhaustive", "bound": bound, "reduce": False, "start": a, "stop": b}
        handles[pool.submit(spec, task)] = a
    parts = [part for _, part in _gather(pool, handles, engine, progress)]

    def run_missing(point: int, name: str) -> search.Rep:
        part = search.explore_range(engine, root, bound, range(point, point + 1), reduce=False,
                                    only=name)  # fmt: skip
        return part.reps[0]

    merged = search.merge(root, parts, run_missing)
    result.schedules_run = merged.runs
    result.pruned = merged.pruned
    return merged.found


def _sampled(
    pool: _Pool,
    spec: Spec,
    engine: Engine,
    root: search.Root,
    bound: int,
    runs: int,
    jobs: int,
    result: Result,
    progress: Progress | None,
) -> search.Found | None:
    mode = result.mode
    assert result.seed is not None
    seed = result.seed
    base: dict[str, Any] = {"mode": mode, "bound": bound, "seed": seed, "budget": bound}
    if mode == "pct":
        assert result.pct_depth is not None
        base["depth"] = result.pct_depth
        result.pct_steps = root.outcome.points
        result.pct_bound = walks.pct_bound(len(root.names) + 1, result.pct_steps, result.pct_depth)
    chunk = max(1, min(WALKS_PER_CHUNK, runs // max(1, jobs * CHUNKS_PER_JOB) or 1))
    answers: dict[int, dict[str, Any]] = {}
    handles: dict[Any, int] = {}
    next_first = 0
    total = 1  # the root run
    cursor = 0  # the next index to merge
    found: search.Found | None = None
    stop = False

    def submit() -> None:
        nonlocal next_first
        task = dict(base, first=next_first, stop=next_first + chunk)
        handles[pool.submit(spec, task)] = next_first
        next_first += chunk

    for _ in range(jobs * 2):
        submit()
    try:
        while handles and not stop:
            for handle, answer in pool.wait(list(handles)):
                handles.pop(handle)
                for item in answer["items"]:
                    answers[item["index"]] = item
            # Merge in index order, as the serial search would have run them.
            while cursor in answers and not stop:
                item = answers.pop(cursor)
                made = min(item["runs"], runs - total)
                if item["found"] is not None and item["runs"] <= runs - total:
                    total += item["runs"]
                    data = item["found"]
                    placements = [(int(p), str(n)) for p, n in data["placements"]]
                    out = engine.run(placements, leaf=True)
                    if out.failure is None:  # pragma: no cover
                        out.failure = Failure(data["kind"], data["text"])
                    found = search.Found(out, placements)
                    stop = True
                    break
                total += made
                cursor += 1
                if total >= runs or item["runs"] == 0:
                    stop = True
            if progress is not None:
                progress(total, runs, total)
            if not stop:
                in_flight = next_first - cursor
                while in_flight < chunk * jobs * 2:
                    submit()
                    in_flight += chunk
    except BaseException:
        pool.cancel(list(handles))
        raise
    pool.cancel(list(handles))
    result.schedules_run = total
    return found
