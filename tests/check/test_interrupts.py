"""Handlers nest on every Python, and by the controller's rules when they have priorities."""

import sched_queue_two_handlers as sq

from irqio.check import Setup, explore, scenario


def test_a_higher_priority_handler_nests_inside_a_lower_one() -> None:
    result = explore(sq.without_atomic_section)
    assert not result.ok
    outer, inner = result.schedule
    assert (outer.context, outer.inside) == ("uart_isr", "task context")
    # The timer's handler runs inside the UART's, between its read of len and its store.
    assert (inner.context, inner.inside) == ("timer_isr", "handler uart_isr")
    assert inner.source == "self.items[i] = callback"
    assert "both callbacks are in the queue" in (result.invariant or "")
    assert explore(sq.without_atomic_section, replay=result.replay).invariant == result.invariant


def test_equal_priorities_do_not_preempt_each_other() -> None:
    assert explore(sq.same_priority).ok


def test_a_critical_section_masks_every_line() -> None:
    result = explore(sq.with_atomic_section)
    assert result.ok
    assert result.schedules_run > result.points  # nesting was tried: the mask holds it off


def _masked_world(s: Setup, *, use_resource: bool) -> None:
    import irqio

    ctl = s.controller()
    fifo = irqio.Resource("fifo")
    ctl.task_uses(fifo)
    st = {"count": 0}

    def task() -> None:
        if use_resource:
            with fifo:
                n = st["count"]
                st["count"] = n + 1
        else:
            n = st["count"]
            st["count"] = n + 1

    def isr() -> None:
        with fifo:
            st["count"] += 1

    s.task(task)
    s.handler(isr, "can_rx", priority=3, uses=[fifo])
    s.at_end(lambda: st["count"] == 2, "no increment lost")


@scenario(modules=["@scenario"])
def unmasked_task(s: Setup) -> None:
    _masked_world(s, use_resource=False)


@scenario(modules=["@scenario"])
def masked_task(s: Setup) -> None:
    _masked_world(s, use_resource=True)


def test_task_code_under_a_resource_masks_the_lines_that_use_it() -> None:
    assert not explore(unmasked_task).ok
    result = explore(masked_task)
    assert result.ok, result.report()


def test_a_masked_handler_is_reported_pending_then_run_when_the_ceiling_drops() -> None:
    # Place the handler inside the task's critical section: it stays pending and runs at the
    # `with` block's exit, as the runtime's controller runs it.
    from irqio.check.engine import Engine

    engine = Engine(masked_task)
    try:
        engine.run([], leaf=True)
        for point in range(40):
            out = engine.run([(point, "can_rx")], leaf=True)
            ran = [p for p in out.fired if p.kind == "ran"]
            if ran:
                break
        else:
            raise AssertionError("no placement inside the critical section")
    finally:
        engine.close()
    assert out.failure is None
    placed = out.fired[0]
    assert placed.note.startswith("stayed pending") and "ceiling 3 (fifo)" in placed.note
    assert "with fifo:" in ran[0].source or ran[0].function.endswith("task")
