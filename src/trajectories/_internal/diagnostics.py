"""The SDK's own failures: logged and counted, never raised into user code. One mechanism.

Instrumentation must not change what the application does. When something inside the SDK
goes wrong (a span processor that raises, a bug of ours), the user's function still runs,
its return value and exceptions are untouched, and the failure goes through
:func:`report_internal_error`: logged with its traceback on the logger of the module where it
happened (every logger of the SDK is ``getLogger(__name__)``, under ``trajectories``) and
counted in :data:`internal_errors` (and in a component's own counter, such as an exporter's
``stats.internal_errors``, when one is given).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Callable

__all__ = ["InternalErrorCounter", "internal_errors", "report_internal_error", "reset_in_forked_child"]

_logger = logging.getLogger(__name__)


class InternalErrorCounter:
    """A thread-safe count of internal failures since start (or the last :meth:`reset`)."""

    __slots__ = ("_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    @property
    def value(self) -> int:
        return self._value

    def increment(self) -> None:
        with self._lock:
            self._value += 1

    def reset(self) -> None:
        with self._lock:
            self._value = 0

    def __repr__(self) -> str:
        return f"InternalErrorCounter(value={self._value})"


#: Every internal failure of the process, whichever component it happened in.
internal_errors = InternalErrorCounter()


def report_internal_error(
    what: str, *, logger: logging.Logger | None = None, counter: InternalErrorCounter | None = None
) -> None:
    """Log the exception being handled (with its traceback) and count it.

    Call only from an ``except`` block. *what* says what was being done ("ending a step").
    *logger* is the caller's module logger; *counter* a component's own count, incremented
    beside the process-wide one. Never raises: a broken logging handler must not turn an
    internal failure into an exception in user code either.
    """
    internal_errors.increment()
    if counter is not None:
        counter.increment()
    with contextlib.suppress(Exception):  # a logging handler that raises
        (logger or _logger).error("internal error while %s", what, exc_info=True)


def reset_in_forked_child(method: Callable[[], None]) -> None:
    """Call the bound *method* in a child process right after ``os.fork`` (fresh locks, empty
    queues: a child must not inherit a lock held by the parent's threads, nor deliver the
    parent's work). Holds the object weakly, so registering does not keep it alive."""
    if not hasattr(os, "register_at_fork"):
        return
    weak = weakref.WeakMethod(method)

    def after_fork_in_child() -> None:
        bound = weak()
        if bound is not None:
            bound()

    os.register_at_fork(after_in_child=after_fork_in_child)
