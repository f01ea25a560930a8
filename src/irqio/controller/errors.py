"""The controller's and resources' errors (each message says what was wrong and what to do),
and `HandlerFailure`, the record of a handler that raised or awaited."""

from irqio._compat import RuntimeErrorBase, ValueErrorBase


class ControllerError(Exception):
    """Base class of the controller's and resources' errors."""


class InvalidPriority(ControllerError, ValueErrorBase):
    """A line's priority is not an integer in 1..MAX_PRIORITY."""


class LineExists(ControllerError, ValueErrorBase):
    """A line with this name is already registered on this controller."""


class ControllerClosed(ControllerError, RuntimeErrorBase):
    """The controller was closed; its lines can no longer be pended."""


class WrongThread(ControllerError, RuntimeErrorBase):
    """Something that belongs to the controller's thread was used from another thread."""


class CeilingViolation(ControllerError, RuntimeErrorBase):
    """A handler (or task) entered a resource it did not declare, so its ceiling is wrong."""


class UnusedResource(ControllerError, RuntimeErrorBase):
    """A resource no line and no task declared was entered: it has no ceiling."""


class OutOfOrderRelease(ControllerError, RuntimeErrorBase):
    """A resource was released while a resource entered after it was still held. Sections
    nest (LIFO, as `with` blocks do): the guarantee that a line waits for at most one lower
    section rests on it. The release was still done (see `Resource.__exit__`)."""


class NotHeld(ControllerError, RuntimeErrorBase):
    """A resource was released that is not held: released twice, or never entered."""


class SignalInUse(ControllerError, ValueErrorBase):
    """A signal is already bound to this controller (its kick signal or another line)."""


class HeldAcrossAwait(ControllerError, RuntimeErrorBase):
    """Task code held a resource across an `await` (seen in debug mode): other tasks ran while
    its ceiling kept lines masked."""


class HandlerFailure:
    """A handler that raised or returned an awaitable; kept in `Controller.failures`."""

    __slots__ = ("error", "kind", "line")

    def __init__(self, line: str, kind: str, error: "BaseException | None") -> None:
        self.line = line  # the line's name
        self.kind = kind  # "raised" or "awaited"
        self.error = error

    def __repr__(self) -> str:
        return f"HandlerFailure(line={self.line!r}, kind={self.kind!r}, error={self.error!r})"
