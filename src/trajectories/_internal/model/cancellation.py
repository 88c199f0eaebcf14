"""How an exception ended a step or trajectory: cancellation, or a failure with its text.

One implementation for the recorder and the instrumentation. anyio cancels with its backend's
class (``asyncio.CancelledError`` or ``trio.Cancelled``), so checking those classes covers anyio
too and works outside an event loop; asyncio and trio are recognised without being imported.
"""

from __future__ import annotations

import builtins
import logging
import sys

from ..diagnostics import report_internal_error

__all__ = ["exception_text", "is_cancellation"]

_logger = logging.getLogger(__name__)


def _group_classes() -> tuple[type[BaseException], ...]:
    """BaseExceptionGroup: built in from 3.11, the ``exceptiongroup`` backport (anyio's) before."""
    classes = [
        getattr(builtins, "BaseExceptionGroup", None),
        getattr(sys.modules.get("exceptiongroup"), "BaseExceptionGroup", None),
    ]
    return tuple(c for c in classes if isinstance(c, type))


def _cancel_classes() -> tuple[type[BaseException], ...]:
    classes: list[type[BaseException]] = [GeneratorExit]
    # Like trio: asyncio is not imported here (it costs tens of ms); without it, no asyncio cancellation.
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        cancelled_error = getattr(asyncio, "CancelledError", None)
        if isinstance(cancelled_error, type):
            classes.append(cancelled_error)
    trio = sys.modules.get("trio")
    if trio is not None:
        cancelled = getattr(trio, "Cancelled", None)
        if isinstance(cancelled, type):
            classes.append(cancelled)
    return tuple(classes)


def is_cancellation(exc: BaseException) -> bool:
    """Whether *exc* is asyncio, trio or anyio cancellation (or a group of nothing else).

    ``GeneratorExit`` (a coroutine or generator closed before finishing) counts too.
    """
    if isinstance(exc, _cancel_classes()):
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
        report_internal_error("formatting an exception message", logger=_logger)
        message = ""
    name = type(exc).__name__
    return f"{name}: {message}" if message else name
