"""The verdict rules: how a trajectory's ending becomes its Verdict (docs/instrumentation.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..model.aggregate import ratio_verdict, success_ratio
from ..model.cancellation import exception_text
from ..model.trajectory import TrajectoryStep
from ..model.verdict import RootCause, SuccessVerdict, TrajectoryFailed, Verdict

__all__ = ["decide_verdict"]

_TIMEOUTS: tuple[type[BaseException], ...] = (TimeoutError, asyncio.TimeoutError)


def decide_verdict(
    explicit: Verdict | None, exc: BaseException | None, steps: Sequence[TrajectoryStep], *, cancelled: bool
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
    if isinstance(exc, _TIMEOUTS):
        return Verdict.failure(RootCause.resource_constraint("time", str(exc) or "timeout"))
    return Verdict.failure(RootCause.unknown(exception_text(exc)))
