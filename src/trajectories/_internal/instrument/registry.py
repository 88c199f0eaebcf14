"""The steps of one trajectory while it runs: index assignment, the open steps, the finished records.

A :class:`TrajectoryHandle` owns one; a step handle registers with it when it starts (taking
the next index, in start order) and hands it what it recorded when it ends. Thread-safe: steps
may start and end in other tasks and threads.

A finished step is kept as a :class:`StepRecord` (a tuple of its values); the trajectory's end
scores it as it is, and its :class:`TrajectoryStep` is built only when ``t.result`` is first read
(or at the end, when framework spans must be merged among the steps).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from ..foreign import SdkStep
from ..model.constants import elapsed_ms, ns_to_datetime
from ..model.outcome import StepOutcome
from ..model.trajectory import StepMetadata, TrajectoryStep
from ..validate import Embedding

if TYPE_CHECKING:
    from .step_handle import StepHandle

__all__ = ["StepRecord", "StepRegistry", "build_steps", "sdk_steps"]

_logger = logging.getLogger(__name__)


class StepRecord(NamedTuple):
    """What a finished step recorded, before its :class:`TrajectoryStep` is built. The index comes
    first, so records sort by it; ``outcome``, ``confidence`` and ``metadata`` are what the quality,
    the verdict rules and the totals read (:class:`~..model.trajectory.ScoredStep`)."""

    step_index: int
    span_id: int
    start_ns: int
    end_ns: int
    action: str
    rationale: str
    outcome: StepOutcome
    confidence: float
    context_embedding: Embedding | None
    metadata: StepMetadata | None


def build_steps(records: Sequence[StepRecord]) -> tuple[TrajectoryStep, ...]:
    """The steps of *records*, from values every setter checked."""
    trusted = TrajectoryStep._trusted
    return tuple(
        trusted(
            r.step_index,
            r.action,
            r.rationale,
            r.outcome,
            r.confidence,
            elapsed_ms(r.start_ns, r.end_ns),
            ns_to_datetime(r.start_ns),
            r.context_embedding,
            r.metadata,
        )
        for r in records
    )


def sdk_steps(records: Sequence[StepRecord], steps: Sequence[TrajectoryStep]) -> list[SdkStep]:
    """*steps* (built from *records*) with their spans' ids and starts, for merging framework spans."""
    return [SdkStep(r.span_id, r.start_ns, s) for r, s in zip(records, steps, strict=True)]


class StepRegistry:
    __slots__ = ("_counter", "_lock", "_open", "_records", "closed")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._open: dict[int, StepHandle] = {}
        self._records: list[StepRecord] = []
        #: Set when the trajectory ends: steps that start afterwards record plain spans.
        self.closed = False

    def register(self, step: StepHandle) -> int:
        """Take the next step index for *step* (started now) and keep it as open.

        No lock: ``next()`` on an ``itertools.count`` and storing one dict item are each atomic,
        and the readers of ``_open`` (:meth:`finished`, :meth:`still_open`) copy or pop it whole.
        """
        index = next(self._counter)
        self._open[index] = step
        return index

    def finished(self, index: int | None, record: StepRecord | None) -> None:
        """The step at *index* ended; *record* is what it recorded (None: nothing to keep)."""
        with self._lock:
            if index is not None:
                self._open.pop(index, None)
            if record is not None and not self.closed:
                self._records.append(record)
            elif record is not None:
                _logger.debug("step %r ended after its trajectory", record.action)

    def still_open(self) -> list[StepHandle]:
        """The steps that have not ended, in index order."""
        if not self._open:  # the usual end: every step ended (a lock-free read of one dict's size)
            return []
        with self._lock:
            return [self._open[i] for i in sorted(self._open)]

    def close(self) -> list[StepRecord]:
        """Stop taking records; the finished steps' records in index order."""
        with self._lock:
            self.closed = True
            return sorted(self._records)  # indexes are unique: only they are compared
