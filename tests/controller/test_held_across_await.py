"""Debug mode: a resource that task code holds across an `await` is reported, not silent."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest

from irqio.controller import Controller, HeldAcrossAwait
from irqio.controller.resource import Resource


def _run(main: Any, *, debug: bool = False) -> tuple[Any, list[dict[str, Any]]]:
    reported: list[dict[str, Any]] = []

    async def wrapper() -> Any:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: reported.append(ctx))
        return await asyncio.wait_for(main(), 5.0)

    return asyncio.run(wrapper(), debug=debug), reported


def test_held_across_await_raises_on_exit_and_nothing_stays_masked() -> None:
    log: list[str] = []

    async def main() -> str:
        ctl = Controller(debug=True)
        try:
            res = Resource("buf")
            line = ctl.line("drv", 2, lambda: log.append("drv"), uses=[res])
            ctl.task_uses(res)
            expected = r"Resource 'buf' \(ceiling 2\) across"
            with pytest.raises(HeldAcrossAwait, match=expected), res:
                line.pend()  # masked by the ceiling: stays pending
                await asyncio.sleep(0)  # the mistake
                log.append("still held")
            assert ctl._ceiling == 0
            return "done"
        finally:
            ctl.close()

    result, reported = _run(main)
    assert result == "done"
    # The line ran when the ceiling dropped, before the error left the with-block.
    assert log == ["still held", "drv"]
    (ctx,) = reported
    assert isinstance(ctx["exception"], HeldAcrossAwait)
    assert "leave the `with` block before awaiting" in ctx["message"]


def test_no_await_inside_is_not_reported() -> None:
    async def main() -> int:
        ctl = Controller(debug=True)
        try:
            res = Resource("buf")
            ctl.line("drv", 2, lambda: None, uses=[res])
            ctl.task_uses(res)
            for _ in range(3):
                with res:
                    pass
                await asyncio.sleep(0)  # the watch callbacks run here, after the release
            with ctl.critical():
                pass
            await asyncio.sleep(0)
            return res.hold.count
        finally:
            ctl.close()

    count, reported = _run(main)
    assert count == 3
    assert reported == []


def test_debug_follows_the_loop_and_is_off_by_default() -> None:
    async def flag() -> tuple[bool, bool]:
        ctl = Controller()
        explicit = Controller(debug=False, signum=ctl._signum + 1)
        try:
            return ctl.debug, explicit.debug
        finally:
            explicit.close()
            ctl.close()

    env_debug = sys.flags.dev_mode or bool(os.environ.get("PYTHONASYNCIODEBUG"))
    assert _run(flag, debug=True)[0] == (True, False)
    assert _run(flag, debug=False)[0] == (env_debug, False)


def test_without_debug_a_hold_across_await_is_not_checked() -> None:
    async def main() -> bool:
        ctl = Controller(debug=False)
        try:
            res = Resource("buf")
            ctl.line("drv", 2, lambda: None, uses=[res])
            ctl.task_uses(res)
            with res:
                await asyncio.sleep(0)
            return True
        finally:
            ctl.close()

    assert _run(main) == (True, [])
