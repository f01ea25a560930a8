"""Bugs the explorer found in irqio's own code, kept as regression tests (replayed schedules)."""

import pytest

import irqio
from irqio.check import Setup, explore, scenario


@scenario(ports=("kernel", "asyncio"))
def message_value_set_during_wait(s: Setup) -> None:
    msg: irqio.Message[int] = irqio.Message()
    got: list[int] = []

    async def main() -> None:
        got.append(await msg.wait())

    s.run(main)
    s.handler(lambda: msg.set(7), "isr")
    s.at_end(lambda: got == [7], "the waiter received 7")


@pytest.mark.parametrize("port", ["kernel", "asyncio"])
def test_message_wait_returns_the_value_set_after_it_read_the_cell(port: str) -> None:
    # Found by `explore`: a set() landing in Message.wait() after it read `_cell` but before it
    # re-checked is_set() made wait() return the stale cell (None) instead of 7.
    sc = message_value_set_during_wait.on(port)
    result = explore(sc, preemptions=1)
    assert result.ok, result.report()
