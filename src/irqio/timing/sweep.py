"""`irqio sweep`'s engine: one task per variant (or per random system when validating), run
serially or as Ray tasks, with the same rows either way.

A task carries everything it needs (the file's data, the point, the seed), so its rows depend on
nothing else: a Ray run gives the rows a serial run gives, in the same order (they are put back
in task order). A task that fails returns one row saying why instead of raising: a failed variant
is reported, never fatal to the sweep.
"""

from __future__ import annotations

import copy
import logging
import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from irqio.percentile import nearest_rank
from irqio.timing.analysis import analyze
from irqio.timing.budget import check_run
from irqio.timing.errors import SystemFileError
from irqio.timing.model import simulate
from irqio.timing.sweep_params import SweepSpecError, Value, apply
from irqio.timing.system import POLICIES, System, parse_system

Row = dict[str, Any]
INSTALL_HINT = "pip install 'irqio[sweep]'"  # the extra that brings Ray


@dataclass(frozen=True)
class VariantTask:
    """One variant of a system file: the file's data with `point` written into it."""

    index: int
    data: dict[str, Any]
    path: str
    point: dict[str, Value]
    policies: tuple[str, ...] = ()  # () = the file's (or the point's `policy`)
    seconds: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class ValidateTask:
    """One random system (generate.py), drawn from `seed` and `index` alone."""

    index: int
    seed: int
    seconds: float | None = None


Task = VariantTask | ValidateTask


@dataclass
class Outcome:
    rows: list[Row] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (task index, why)


def run_task(task: Task) -> list[Row]:
    """The rows of one task; a failure is one row with `error` set."""
    try:
        if isinstance(task, ValidateTask):
            return _validate_rows(task)
        return _variant_rows(task)
    except (SystemFileError, SweepSpecError) as exc:
        return [_error_row(task, str(exc))]
    except Exception as exc:  # a bug in the model or analysis: report it, keep sweeping
        return [_error_row(task, f"{type(exc).__name__}: {exc}")]


def _error_row(task: Task, why: str) -> Row:
    if isinstance(task, ValidateTask):
        return {"system": task.index, "seed": task.seed, "error": why}
    return {"variant": task.index, **task.point, "error": why}


def variant_system(task: VariantTask) -> tuple[System, list[str]]:
    """The variant's system and the policies to run on it."""
    data = copy.deepcopy(task.data)
    variant: str | None = None
    policies = list(task.policies)
    for path, value in task.point.items():
        if path == "policy":
            policies = [str(value)]
        elif path == "variant":
            variant = None if value == "none" else str(value)
        else:
            apply(data, path, value)
    system = parse_system(data, task.path, variant)
    policies = policies or list(system.policies)
    for pol in policies:
        if pol not in POLICIES:
            raise SweepSpecError(f"policy {pol!r}: allowed: {', '.join(POLICIES)}")
        if pol == "basepri" and not system.profile.basepri:
            raise SweepSpecError(f"chip {system.profile.name} has no BASEPRI")
    return system, policies


def _variant_rows(task: VariantTask) -> list[Row]:
    system, policies = variant_system(task)
    rows = []
    for pol in policies:
        rows += _policy_rows(
            system, pol, task.seconds, task.seed, {"variant": task.index, **task.point}
        )
    return rows


def _policy_rows(
    system: System, policy: str, seconds: float | None, seed: int | None, head: Row
) -> list[Row]:
    # A variant whose run the simulator cannot do in bounded work fails, as `sim` refuses it.
    check_run(system, system.seconds if seconds is None else seconds, "--seconds")
    result = simulate(system, policy, seconds=seconds, seed=seed)
    bounds = {b.line: b for b in analyze(system, policy)}
    us = system.profile.us
    rows = []
    for line in system.lines:
        st = result.stats[line.name]
        b = bounds[line.name]
        lat = sorted(st.latencies)
        start_max = lat[-1] if lat else None
        resp_max = max(st.responses) if st.responses else None
        within = (b.start is None or start_max is None or start_max <= b.start) and (
            b.response is None or resp_max is None or resp_max <= b.response
        )
        rows.append(
            {
                **head,
                "policy": policy,
                "line": line.name,
                "priority": line.priority,
                "count": len(lat),
                "overruns": st.overruns,
                "sim_start_max_cycles": start_max,
                "sim_start_max_us": None if start_max is None else round(us(start_max), 4),
                "sim_start_p99_us": round(us(int(nearest_rank(lat, 0.99))), 4) if lat else None,
                "bound_start_cycles": b.start,
                "bound_start_us": None if b.start is None else round(us(b.start), 4),
                "sim_response_max_us": None if resp_max is None else round(us(resp_max), 4),
                "bound_response_us": None if b.response is None else round(us(b.response), 4),
                "within_bound": within,
                "error": "",
            }
        )
    return rows


def _validate_rows(task: ValidateTask) -> list[Row]:
    from irqio.timing.generate import random_system  # the property test's generator

    data = random_system(random.Random(f"{task.seed}:validate:{task.index}"))
    system = parse_system(data, f"random-{task.index}")
    rows = []
    for pol in system.policies:
        head: Row = {"system": task.index, "seed": task.seed, "chip": system.profile.name}
        rows += _policy_rows(system, pol, task.seconds, None, head)
    return rows


# -- runners ------------------------------------------------------------------------------------
Progress = Callable[[int, list[Row]], None]  # (task index, its rows), as each task finishes


def run_serial(tasks: list[Task], progress: Progress | None = None) -> list[list[Row]]:
    out: list[list[Row]] = []
    for task in tasks:
        rows = run_task(task)
        out.append(rows)
        if progress:
            progress(task.index, rows)
    return out


class RayStartError(RuntimeError):
    """Ray could not start or reach its cluster; `str()` says why."""


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def run_ray(
    tasks: list[Task],
    *,
    address: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> list[list[Row]]:
    """Each task a Ray task: on a local Ray started here (`workers` CPUs, default all of this
    machine's), or on the cluster at `address` (irqio must be importable on its nodes)."""
    import ray

    started = not ray.is_initialized()
    if started:
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
            else:
                ray.init(
                    num_cpus=workers or os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                )
        except Exception as exc:  # Ray says why in its own exception types
            where = f"the cluster at {address}" if address else "a local Ray"
            raise RayStartError(f"cannot start {where}: {type(exc).__name__}: {exc}") from exc
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_task)
        by_ref = {remote.remote(task): (i, task) for i, task in enumerate(tasks)}
        results: list[list[Row] | None] = [None] * len(tasks)
        waiting = list(by_ref)
        while waiting:
            # Whatever is done within a short wait (one at a time would scan the list each time).
            done, waiting = ray.wait(waiting, num_returns=min(64, len(waiting)), timeout=0.2)
            for ref in done:
                i, task = by_ref[ref]
                try:
                    rows = ray.get(ref)
                except Exception as exc:  # the worker died or Ray failed: report, go on
                    rows = [_error_row(task, f"Ray task failed: {type(exc).__name__}: {exc}")]
                results[i] = rows
                if progress:
                    progress(task.index, rows)
        return [r if r is not None else [] for r in results]
    finally:
        if started:
            ray.shutdown()


def collect(results: Iterable[list[Row]]) -> Outcome:
    out = Outcome()
    for rows in results:
        for row in rows:
            if row.get("error"):
                key = "system" if "system" in row else "variant"
                out.failed.append((int(row[key]), str(row["error"])))
        out.rows += rows
    return out
