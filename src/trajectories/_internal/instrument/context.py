"""Context plumbing: the current trajectory and step, and the tracer lookup.

The current trajectory and step live in :mod:`contextvars`, which anyio task-group
children, asyncio tasks and ``anyio.to_thread.run_sync`` workers inherit, so a step
started anywhere under a trajectory finds it. OpenTelemetry's own current span is a
separate context variable that we attach and detach in the same frame (or around one
resume of a generator), never across tasks: a token reset in another context is what
makes OpenTelemetry log "Failed to detach context" (opentelemetry-python #2606).
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Sequence
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from ..diagnostics import report_internal_error
from ..version import __version__

if TYPE_CHECKING:
    from .step_handle import StepHandle
    from .trajectory_handle import TrajectoryHandle

__all__ = ["CURRENT_STEP", "CURRENT_TRAJECTORY", "get_tracer", "restore_context"]

_logger = logging.getLogger(__name__)

CURRENT_TRAJECTORY: ContextVar[TrajectoryHandle | None] = ContextVar("trajectories.current_trajectory", default=None)
CURRENT_STEP: ContextVar[StepHandle | None] = ContextVar("trajectories.current_step", default=None)

_INSTRUMENTATION_NAME = "trajectories"

_tracers: weakref.WeakKeyDictionary[Any, trace.Tracer] = weakref.WeakKeyDictionary()
#: The provider of the last call and its tracer (a strong reference to that one provider).
_last: tuple[object, trace.Tracer] | None = None


def get_tracer(provider: trace.TracerProvider | None) -> trace.Tracer:
    """The tracer of *provider*, or of the global provider as it is *now*.

    Resolved when a span starts (not at import), so that an application that sets its
    provider after importing us is traced by it. Tracers are cached per provider object.
    """
    global _last
    if provider is None:
        provider = trace.get_tracer_provider()
    last = _last
    if last is not None and last[0] is provider:  # the usual call: the same provider as the last one
        return last[1]
    try:
        tracer = _tracers.get(provider)
    except TypeError:  # a provider that cannot be weakly referenced: no cache
        return provider.get_tracer(_INSTRUMENTATION_NAME)
    if tracer is None:
        tracer = provider.get_tracer(_INSTRUMENTATION_NAME, __version__)
        with contextlib.suppress(TypeError):  # an unhashable provider: no cache
            _tracers[provider] = tracer
    _last = (provider, tracer)  # one tuple, replaced whole: threads never see half of it
    return tracer


def restore_context(otel_token: object, resets: Sequence[tuple[ContextVar[Any], Token[Any]]], kind: str, name: object) -> None:
    """Undo an attach: reset our context variables (*resets*, innermost first), then detach
    OpenTelemetry's context. Never raises. *kind* and *name* (``"step"``, its action) name what
    is detached in a log record, which is only written when something goes wrong.

    When the tokens were made in another context (a ``with`` block inside an async generator
    that another task finalised), everything is left as it is rather than make OpenTelemetry
    log "Failed to detach context": the tokens belong to that other context.
    """
    try:
        for var, token in resets:
            var.reset(token)
    except ValueError:
        _logger.debug("%s %r exited in another context; its context is left as is", kind, name)
        return
    except Exception:
        report_internal_error(f"detaching the context of {kind} {name!r}", logger=_logger)
        return
    try:
        otel_context.detach(otel_token)  # type: ignore[arg-type]
    except Exception:
        report_internal_error(f"detaching the context of {kind} {name!r}", logger=_logger)
