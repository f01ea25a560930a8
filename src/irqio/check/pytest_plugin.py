"""A pytest plugin: `@scenario` functions collected and explored as tests.

In a test module, a scenario named like a test (`test_*`, or whatever `python_functions`
says) becomes one test item per port it declares (`test_flag[kernel]`, `test_flag[asyncio]`),
so `-k` selects them as any test. With `--irqio-check`, every `@scenario` of the collected
modules is a test, whatever its name (`pytest --irqio-check examples/check/`).

A failing item shows the explorer's report and the command that replays the failing
schedule (`--irqio-replay`); the schedule is also kept in pytest's cache, and the next run
of that item replays it first, so a known failure shows up in one run before any search.

Loaded by name: `pytest -p irqio.check.pytest_plugin`, or `pytest_plugins = [...]` in a
conftest. Not a `pytest11` entry point on purpose: an auto-loaded plugin makes pytest rewrite the
asserts of its whole package, irqio's runtime included, and the preemption points (and so the
replay handles) would then differ between pytest and `irqio check`.

Options: `--irqio-check`, `--irqio-replay=SCHEDULE`, `--irqio-preemptions=N`,
`--irqio-mode=MODE`, `--irqio-runs=N`, `--irqio-seed=N`, `--irqio-jobs=N`.
"""

from __future__ import annotations

from typing import Any

import pytest

from irqio.check.explore import MODES, Result, explore
from irqio.check.scenario import Scenario

_CACHE = "irqio/replay/"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("irqio", "irqio.check scenarios")
    group.addoption(
        "--irqio-check",
        action="store_true",
        default=False,
        help="collect every @scenario as a test, not only those named like tests",
    )
    group.addoption(
        "--irqio-replay",
        default=None,
        metavar="SCHEDULE",
        help="replay this schedule in the selected scenario(s) (use with -k)",
    )
    group.addoption(
        "--irqio-preemptions",
        type=int,
        default=None,
        metavar="N",
        help="preemption bound (default: each scenario's own)",
    )
    group.addoption(
        "--irqio-mode",
        choices=MODES,
        default=None,
        help="how the explorer chooses schedules (default: exhaustive)",
    )
    group.addoption(
        "--irqio-runs",
        type=int,
        default=None,
        metavar="N",
        help="schedules for random, pct and portfolio modes",
    )
    group.addoption(
        "--irqio-seed",
        type=int,
        default=None,
        metavar="N",
        help="seed for random, pct and portfolio modes",
    )
    group.addoption(
        "--irqio-jobs", type=int, default=1, metavar="N", help="processes to split each search over"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "irqio_scenario: an irqio.check scenario explored as a test")


def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> list[ScenarioItem] | None:
    if not isinstance(obj, Scenario):
        return None
    if not (collector.config.getoption("irqio_check") or collector.funcnamefilter(name)):
        return None
    return [ScenarioItem.from_parent(collector, name=v.name, scenario=v) for v in obj.variants()]


class ScenarioFailed(Exception):
    def __init__(self, result: Result, replayed: bool) -> None:
        super().__init__(result.report())
        self.result = result
        self.replayed = replayed


class ScenarioItem(pytest.Item):
    """One scenario on one port, explored when run."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.add_marker("irqio_scenario")

    def runtest(self) -> None:
        config = self.config
        key = _CACHE + self.nodeid
        cache = getattr(config, "cache", None)
        handle = config.getoption("irqio_replay")
        if handle is None and cache is not None:
            handle = cache.get(key, None)
        if handle:
            replayed = explore(self.scenario, replay=handle)
            if not replayed.ok:
                raise ScenarioFailed(replayed, replayed=True)
            if config.getoption("irqio_replay"):
                return  # asked to replay one schedule: it passes
        options: dict[str, Any] = {
            "preemptions": config.getoption("irqio_preemptions"),
            "runs": config.getoption("irqio_runs"),
            "seed": config.getoption("irqio_seed"),
            "jobs": config.getoption("irqio_jobs"),
        }
        mode = config.getoption("irqio_mode")
        if mode is not None:
            options["mode"] = mode
        elif options["runs"] is not None or options["seed"] is not None:
            options["mode"] = "random"
        result = explore(self.scenario, **options)
        if cache is not None:
            cache.set(key, None if result.ok else result.replay)
        if not result.ok:
            raise ScenarioFailed(result, replayed=False)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        error = excinfo.value
        if not isinstance(error, ScenarioFailed):
            return str(super().repr_failure(excinfo))
        result = error.result
        lines = [result.report()]
        if error.replayed:
            lines.append("(the schedule that failed last time, replayed first)")
        lines.append(f"replay: pytest '{self.nodeid}' --irqio-replay={result.replay}")
        return "\n".join(lines)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        code = self.scenario.build.__code__
        return self.path, code.co_firstlineno - 1, f"scenario {self.scenario.name}"
