"""The verdict rules: how a trajectory's ending becomes its Verdict (docs/instrumentation.md)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..model.aggregate import ratio_verdict, success_ratio
from ..model.cancellation import exception_text
from ..model.trajectory import ScoredStep
from ..model.verdict import RootCause, SuccessVerdict, TrajectoryFailed, Verdict

__all__ = ["decide_verdict"]


def _timeouts() -> tuple[type[BaseException], ...]:
    """TimeoutError, and asyncio's own on Python 3.10 (an alias from 3.11). Read when needed, so
    that importing trajectories does not import asyncio: without it no asyncio timeout exists."""
    asyncio = sys.modules.get("asyncio")
    other = getattr(asyncio, "TimeoutError", TimeoutError)
    return (TimeoutError, other) if isinstance(other, type) and other is not TimeoutError else (TimeoutError,)


def decide_verdict(
    explicit: Verdict | None, exc: BaseException | None, steps: Sequence[ScoredStep], *, cancelled: bool
) -> Verdict:
    """The verdict rules of docs/instrumentation.md (DESIGN §1)."""
    if explicit is not None and not (cancelled and isinstance(explicit, SuccessVerdict)):
        return explicit
    if exc is None:
        return ratio_verdict(steps, success_if_all=True)
    if cancelled:
        return Verdict.partial(success_ratio(steps))
    if isinstance(exc, TrajectoryFailed):
        return Verdict.failure(exc.cause)
    if isinstance(exc, _timeouts()):
        return Verdict.failure(RootCause.resource_constraint("time", str(exc) or "timeout"))
    return Verdict.failure(RootCause.unknown(exception_text(exc)))
