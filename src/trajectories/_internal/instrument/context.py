"""Context plumbing: the current trajectory/step, tracer lookup, cancellation, clocks.

The current trajectory and step live in :mod:`contextvars`, which anyio task-group
children, asyncio tasks and ``anyio.to_thread.run_sync`` workers inherit, so a step
started anywhere under a trajectory finds it. OpenTelemetry's own current span is a
separate context variable that we attach and detach in the same frame (or around one
resume of a generator), never across tasks: a token reset in another context is what
makes OpenTelemetry log "Failed to detach context" (opentelemetry-python #2606).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import sys
import weakref
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from ..errors import report_internal_error

if TYPE_CHECKING:
    from .step_handle import StepHandle
    from .trajectory_handle import TrajectoryHandle

__all__ = [
    "CURRENT_STEP",
    "CURRENT_TRAJECTORY",
    "exception_text",
    "get_tracer",
    "is_cancellation",
    "ns_to_datetime",
]

CURRENT_TRAJECTORY: ContextVar[TrajectoryHandle | None] = ContextVar("trajectories.current_trajectory", default=None)
CURRENT_STEP: ContextVar[StepHandle | None] = ContextVar("trajectories.current_step", default=None)

_INSTRUMENTATION_NAME = "trajectories"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_tracers: weakref.WeakKeyDictionary[Any, trace.Tracer] = weakref.WeakKeyDictionary()


def get_tracer(provider: trace.TracerProvider | None) -> trace.Tracer:
    """The tracer of *provider*, or of the global provider as it is *now*.

    Resolved when a span starts (not at import), so that an application that sets its
    provider after importing us is traced by it. Tracers are cached per provider object.
    """
    if provider is None:
        provider = trace.get_tracer_provider()
    try:
        tracer = _tracers.get(provider)
    except TypeError:  # a provider that cannot be weakly referenced: no cache
        return provider.get_tracer(_INSTRUMENTATION_NAME)
    if tracer is None:
        from ... import __version__

        tracer = provider.get_tracer(_INSTRUMENTATION_NAME, __version__)
        with contextlib.suppress(TypeError):  # an unhashable provider: no cache
            _tracers[provider] = tracer
    return tracer


def ns_to_datetime(ns: int) -> datetime:
    """An aware UTC datetime (microsecond precision) from epoch nanoseconds.

    Integer arithmetic, so the exporter turns a span's start time into exactly the same
    datetime as the instrumentation did.
    """
    return _EPOCH + timedelta(microseconds=ns // 1000)


def _group_classes() -> tuple[type[BaseException], ...]:
    """BaseExceptionGroup: built in from 3.11, the ``exceptiongroup`` backport (anyio's) before."""
    classes = [
        getattr(builtins, "BaseExceptionGroup", None),
        getattr(sys.modules.get("exceptiongroup"), "BaseExceptionGroup", None),
    ]
    return tuple(c for c in classes if isinstance(c, type))


def _cancel_classes() -> tuple[type[BaseException], ...]:
    classes: list[type[BaseException]] = [asyncio.CancelledError, GeneratorExit]
    trio = sys.modules.get("trio")
    if trio is not None:
        cancelled = getattr(trio, "Cancelled", None)
        if isinstance(cancelled, type):
            classes.append(cancelled)
    return tuple(classes)


def is_cancellation(exc: BaseException) -> bool:
    """Whether *exc* is asyncio, trio or anyio cancellation (or a group of nothing else).

    anyio cancels with its backend's class (asyncio.CancelledError or trio.Cancelled), so
    checking those classes also covers anyio, and works outside an event loop.
    ``GeneratorExit`` (a coroutine or generator closed before finishing) counts too.
    """
    classes = _cancel_classes()
    if isinstance(exc, classes):
        return True
    groups = _group_classes()
    if groups and isinstance(exc, groups):
        excs: tuple[BaseException, ...] = getattr(exc, "exceptions", ())
        return bool(excs) and all(is_cancellation(e) for e in excs)
    return False


def exception_text(exc: BaseException) -> str:
    """``"ExcType: message"``, or just ``"ExcType"`` when the message is empty."""
    try:
        message = str(exc)
    except Exception:
        report_internal_error("formatting an exception message")
        message = ""
    name = type(exc).__name__
    return f"{name}: {message}" if message else name
