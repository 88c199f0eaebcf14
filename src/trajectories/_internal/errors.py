"""The SDK's own failures: logged and counted, never raised into user code.

Instrumentation must not change what the application does. When something inside the SDK
goes wrong (a span processor that raises, a bug of ours), the user's function still runs,
its return value and exceptions are untouched, and the failure is logged on the
``trajectories`` logger and counted here so that tests and health checks can see it.
"""

from __future__ import annotations

import contextlib
import logging
import threading

__all__ = ["InternalErrorCounter", "internal_errors", "logger", "report_internal_error"]

logger = logging.getLogger("trajectories")


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


internal_errors = InternalErrorCounter()


def report_internal_error(what: str) -> None:
    """Log the exception being handled (with its traceback) and count it.

    Call only from an ``except`` block. Never raises: a broken logging handler must not
    turn an internal failure into an exception in user code either.
    """
    internal_errors.increment()
    with contextlib.suppress(Exception):  # a logging handler that raises
        logger.exception("trajectories internal error while %s", what)
