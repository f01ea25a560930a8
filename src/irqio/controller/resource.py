"""Resources: shared state guarded by the immediate priority-ceiling protocol (SRP / ICPP).

A `Resource` is declared by the lines that use it (``controller.line(..., uses=[res])``) and by
task code (``controller.task_uses(res)``). Its **ceiling** is derived from those declarations,
never set by hand: the highest priority among its users (tasks count as 0).

``with res:`` raises the controller's running ceiling to ``res.ceiling`` for the duration.
Masking is optimistic: entering is a store of a number, not a system call. A line at or under
the ceiling that is pended meanwhile stays pending; the exit that drops the ceiling runs it at
once (before `__exit__` returns). A line above the ceiling preempts as usual.

The guarantee (Baker's Stack Resource Policy; with fixed priorities the same as the immediate
ceiling protocol). Let line L have priority P:

* L is delayed by resources at most once per activation, by **one** critical section of a
  lower-priority context (task or handler) whose resource's ceiling is >= P, and only before
  L's handler starts. Why: a lower context can enter a resource only while it runs, and it runs
  only while nothing above it is pending and unmasked; once L is pending, no lower context can
  start and so none can enter a new critical section; the one already held (nested sections
  count as one: they are LIFO) ends, the ceiling drops below P and L runs.
* No deadlock: a context that has started never waits for a resource (entering is a store, it
  cannot block); every resource it may enter has a ceiling >= its priority, so no context that
  could hold one of them can preempt it. Holding is LIFO (``with``), like the stack.
* Sections whose ceiling is below P do not delay L at all: that is the point of ceilings over
  `controller.critical()`, whose ceiling is above every line.

Sections must nest (LIFO), as `with` blocks do, and that is enforced. The first bullet needs
it: released out of order ("hand over hand": enter A, enter B, exit A, enter C, exit B...), the
sections overlap and the ceiling never drops, so L waits for the whole chain instead of one
section. And LIFO makes each exit O(1): it restores the ceiling its own enter saved. Releasing a
resource that is not the innermost one held raises `OutOfOrderRelease`, naming both; releasing
one that is not held (twice) raises `NotHeld`. Both leave the controller as if the sections had
nested: the out-of-order release is still done, the ceiling (and signal mask) become what the
sections still held need, and lines no longer masked run before the error is raised, so
nothing stays masked by a resource nobody holds.

Two masking modes per resource: ``masking="optimistic"`` (default) and ``masking="sigmask"``,
which additionally blocks, with `signal.pthread_sigmask`, the real signals bound to lines at or
under the ceiling, so their arrival does not even interrupt the section (the kernel delivers
them on exit). The ceiling store happens in both modes, so correctness never depends on the
signal mask; see docs/controller.md for the measured cost of each. MicroPython has no signals:
there only ``"optimistic"`` exists (the ceiling store, which is all correctness rests on).
"""

from irqio._compat import MICROPYTHON, TYPE_CHECKING, get_ident, now
from irqio.controller.errors import (
    CeilingViolation,
    ControllerError,
    HeldAcrossAwait,
    NotHeld,
    OutOfOrderRelease,
    UnusedResource,
    WrongThread,
)
from irqio.controller.samples import Samples

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from irqio.controller.core import Controller, Line

MASKING_MODES = ("optimistic", "sigmask")


def ceiling_of(user_priorities: "Iterable[int]") -> int:
    """A resource's ceiling: the highest priority among its users (task context counts as 0).
    Derived, never set by hand; the timing model uses the same rule."""
    ceiling = 0
    for priority in user_priorities:
        if priority > ceiling:
            ceiling = priority
    return ceiling


class Resource:
    """Shared state with a derived ceiling. See the module docstring."""

    __slots__ = (
        "_critical",
        "_ctl",
        "_late",
        "_sigset",
        "_tasks",
        "_users",
        "ceiling",
        "hold",
        "masking",
        "name",
    )

    def __init__(self, name: str, *, masking: str = "optimistic") -> None:
        if masking not in MASKING_MODES:
            raise ValueError(f"Resource {name!r}: masking={masking!r}; use one of {MASKING_MODES}")
        self.name = name
        self.masking = masking
        #: Highest priority among the users; derived by the controller, never set by hand.
        self.ceiling = 0
        self._ctl: Controller | None = None
        self._users: list[Line] = []
        self._tasks = False
        self._critical = False
        self._sigset: frozenset[int] = frozenset()
        # Debug mode: entries found held across an await, with their error (see __exit__).
        self._late: list[tuple[int, HeldAcrossAwait]] = []
        #: Hold times in ns (written by the holder only: a resource has one holder at a time).
        self.hold = Samples()

    # -- declarations (task context) ---------------------------------------------------------

    @property
    def users(self) -> list[str]:
        """Names of the lines that declared this resource, plus "task" if tasks did."""
        names = [line.name for line in self._users]
        if self._tasks:
            names.append("task")
        return names

    def _bind(self, ctl: "Controller") -> None:
        if self._ctl is None:
            if self.masking == "sigmask" and MICROPYTHON:
                raise ControllerError(
                    f"Resource {self.name!r}: masking='sigmask' blocks POSIX signals, which "
                    "MicroPython has not; use the default 'optimistic'"
                )
            if self.masking == "sigmask" and not ctl.preemptive:
                raise ControllerError(
                    f"Resource {self.name!r}: masking='sigmask' needs a controller in the main "
                    "thread (signals only reach the main thread); use the default 'optimistic'"
                )
            self._ctl = ctl
            ctl._resources.append(self)
        elif self._ctl is not ctl:
            raise ControllerError(
                f"Resource {self.name!r} already belongs to another controller; a resource's "
                "ceiling is per controller: create one Resource per controller"
            )

    def _add_user(self, line: "Line") -> None:
        self._users.append(line)

    def _recompute(self) -> None:
        if self._critical:
            return
        ceiling = ceiling_of(line.priority for line in self._users)
        self.ceiling = ceiling
        if self.masking == "sigmask" and self._ctl is not None:
            self._sigset = frozenset(
                line.signum
                for line in self._ctl.lines()
                if line.signum is not None and line.priority <= ceiling
            )

    # -- holding (task or interrupt context, controller's thread) -------------------------

    def __enter__(self) -> "Resource":
        ctl = self._ctl
        if ctl is None:
            raise UnusedResource(
                f"Resource {self.name!r} is used by nobody, so it has no ceiling: declare its "
                "users with controller.line(..., uses=[res]) and/or controller.task_uses(res)"
            )
        if get_ident() != ctl._ident:
            raise WrongThread(
                f"Resource {self.name!r} was entered from another thread; resources mask the "
                "controller's lines and only work in the controller's thread (use a "
                "primitive to hand data across threads)"
            )
        if not self._critical:
            line = ctl._current
            if line is None:
                if not self._tasks:
                    raise CeilingViolation(
                        f"task code entered Resource {self.name!r} without declaring it: call "
                        f"controller.task_uses({self.name}) once at set-up"
                    )
            elif self not in line.uses:
                raise CeilingViolation(
                    f"the handler of line {line.name!r} (priority {line.priority}) entered "
                    f"Resource {self.name!r} (ceiling {self.ceiling}) without declaring it; "
                    f"add it to uses= when registering {line.name!r} so the ceiling covers it"
                )
        prev = ctl._ceiling
        holder = ctl._holder
        # why: optimistic masking is this one store. A handler that preempts between the read
        # of `prev` and this store restores `_ceiling` to `prev` before it returns (LIFO), so
        # the value we overwrite is still `prev`.
        if self.ceiling > prev:
            ctl._ceiling = self.ceiling
            ctl._holder = self
        old_mask = None
        if self._sigset:
            old_mask = ctl._delivery.block(self._sigset)
        # why: one stack per controller, of every section held in its thread, most recent
        # last. Contexts nest, so a handler that preempts us pushes and pops its own entries
        # above ours before we run again: the stack is LIFO across contexts, and each exit
        # finds its own entry on top unless its context released out of order. An entry is
        # known by its resource and enter time (the slow path of __exit__ rebuilds entries).
        ctl._held.append((self, prev, holder, old_mask, now()))
        if ctl.debug and ctl._current is None:
            from irqio.controller.debug import watch_hold

            watch_hold(ctl, self, ctl._held[-1][4])  # our entry: handlers leave none above
        return self

    def __exit__(self, *exc: object) -> None:
        ctl: Controller = self._ctl  # type: ignore[assignment]  # None: never entered, below
        try:
            entry = ctl._held.pop()
        except (AttributeError, IndexError):  # never entered, or nothing held at all
            self._release_not_innermost(ctl)
            return  # not reached: it raises
        res, prev, holder, old_mask, entered = entry
        if res is not self:  # not the innermost section: put it back, take the slow path
            ctl._held.append(entry)
            self._release_not_innermost(ctl)
            return  # not reached: it raises
        released_at = now()
        self.hold.add(released_at - entered)
        raised = ctl._ceiling > prev
        ctl._ceiling = prev
        ctl._holder = holder
        if old_mask is not None:
            ctl._delivery.restore_mask(old_mask)
        if raised:
            # The ceiling dropped: run what it held back now, as the NVIC takes a pending
            # interrupt the instant BASEPRI is lowered. Blame goes to this resource.
            ctl._dispatch(self, released_at)
        if self._late:
            for i, (late, error) in enumerate(self._late):
                if late == entered:
                    del self._late[i]
                    raise error  # state restored above: nothing stays masked

    def _release_not_innermost(self, ctl: "Controller | None") -> None:
        """`__exit__` when this resource's section is not the innermost one held: released
        twice (NotHeld) or out of order (OutOfOrderRelease). Both raise, after leaving the
        controller as if the sections had been LIFO: the ceiling and the signal mask become
        what the sections still held need, and the lines that no longer masks run now."""
        held: list[Any] = ctl._held if ctl is not None else []
        i = len(held) - 1
        while i >= 0 and held[i][0] is not self:
            i -= 1
        if i < 0 or ctl is None:
            raise NotHeld(
                f"Resource {self.name!r} was released but is not held: each exit must match "
                "one enter (was it released twice, or exited without `with`?)"
            )
        later = ", ".join([repr(e[0].name) for e in held[i + 1 :]])
        verb = "is" if len(held) - i == 2 else "are"
        _res, prev, holder, old_mask, entered = held.pop(i)
        released_at = now()
        self.hold.add(released_at - entered)
        # Each entry above saved the ceiling, holder and signal mask below it, which included
        # this section: rebuild them as their enters would have made them without it.
        # O(sections held), on this misuse path only.
        level, level_holder, mask = prev, holder, old_mask
        for j in range(i, len(held)):
            res, _prev, _holder, res_mask, res_entered = held[j]
            if mask is not None and res_mask is not None:
                res_mask, mask = mask, set(mask) | set(res._sigset)
            held[j] = (res, level, level_holder, res_mask, res_entered)
            if res.ceiling > level:
                level, level_holder = res.ceiling, res
        dropped = ctl._ceiling > level
        ctl._ceiling = level
        ctl._holder = level_holder
        if mask is not None:
            ctl._delivery.restore_mask(mask)
        for j, (late, _error) in enumerate(self._late):
            if late == entered:  # debug mode reported it to the loop already
                del self._late[j]
                break
        if dropped:
            ctl._dispatch(self, released_at)
        raise OutOfOrderRelease(
            f"Resource {self.name!r} was released while {later} "
            f"(entered after it) {verb} still held: release resources in the reverse order "
            "of entry (nest the `with` blocks). The release was done: the ceiling is now "
            f"{level}, what the resources still held need"
        )

    def __repr__(self) -> str:
        return f"Resource({self.name!r}, ceiling={self.ceiling}, users={self.users})"
