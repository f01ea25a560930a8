"""Errors of the runtime's primitives. Each message says what was wrong and what to do."""


class QueueFull(Exception):
    """`Queue.put_nowait` found the queue full; the item was refused and counted in `overruns`."""


class QueueEmpty(Exception):
    """`Queue.get_nowait` found nothing to take."""


class WrongScheduler(RuntimeError):
    """A primitive bound to one scheduler (event loop) was awaited from another."""


class NoScheduler(RuntimeError):
    """A task-side method was called with no scheduler running in this thread."""
