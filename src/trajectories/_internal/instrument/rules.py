"""The verdict rules: how a trajectory's ending becomes its Verdict, and ``TrajectoryFailed``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..outcome import RootCause, SuccessOutcome, SuccessVerdict, Verdict
from ..trajectory import TrajectoryStep
from ..validate import shown
from .context import exception_text

__all__ = ["TrajectoryFailed", "decide_verdict"]

_TIMEOUTS: tuple[type[BaseException], ...] = (TimeoutError, asyncio.TimeoutError)


class TrajectoryFailed(Exception):
    """Raise inside a trajectory to end it with ``Verdict.failure(cause)``; it propagates."""

    def __init__(self, cause: RootCause | str) -> None:
        if isinstance(cause, str):
            cause = RootCause.unknown(cause)
        if not isinstance(cause, RootCause):
            raise TypeError(f"cause must be a RootCause or str, got {type(cause).__name__}: {shown(cause)}")
        super().__init__(str(cause))
        self.cause: RootCause = cause


def decide_verdict(
    explicit: Verdict | None, exc: BaseException | None, steps: Sequence[TrajectoryStep], *, cancelled: bool
) -> Verdict:
    """The verdict rules of docs/instrumentation.md (DESIGN §1)."""
    successes = sum(1 for s in steps if isinstance(s.outcome, SuccessOutcome))
    ratio = successes / len(steps) if steps else 0.0
    if explicit is not None and not (cancelled and isinstance(explicit, SuccessVerdict)):
        return explicit
    if exc is None:
        return Verdict.success() if successes == len(steps) else Verdict.partial(ratio)
    if cancelled:
        return Verdict.partial(ratio)
    if isinstance(exc, TrajectoryFailed):
        return Verdict.failure(exc.cause)
    if isinstance(exc, _TIMEOUTS):
        return Verdict.failure(RootCause.resource_constraint("time", str(exc) or "timeout"))
    return Verdict.failure(RootCause.unknown(exception_text(exc)))
