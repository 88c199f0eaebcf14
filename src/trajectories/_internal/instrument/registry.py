"""The steps of one trajectory while it runs: index assignment, the open steps, the finished records.

A :class:`TrajectoryHandle` owns one; a step handle registers with it when it starts (taking
the next index, in start order) and hands it what it recorded when it ends. Thread-safe: steps
may start and end in other tasks and threads.

A finished step is kept as a plain tuple of its values; its :class:`TrajectoryStep` is built
once, when the trajectory ends (:meth:`StepRegistry.close`), from values every setter checked.
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import TYPE_CHECKING

from ..foreign import SdkStep
from ..model.constants import elapsed_ms, ns_to_datetime
from ..model.outcome import StepOutcome
from ..model.trajectory import StepMetadata, TrajectoryStep
from ..validate import Embedding

if TYPE_CHECKING:
    from .step_handle import StepHandle

__all__ = ["StepRecord", "StepRegistry"]

_logger = logging.getLogger(__name__)

#: What a finished step recorded: (index, span id, start ns, end ns, action, rationale, outcome,
#: confidence, context embedding, metadata). The index comes first, so records sort by it.
StepRecord = tuple[int, int, int, int, str, str, StepOutcome, float, "Embedding | None", "StepMetadata | None"]


class StepRegistry:
    __slots__ = ("_counter", "_done", "_lock", "_open", "_records", "closed")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._open: dict[int, StepHandle] = {}
        self._records: list[StepRecord] = []
        self._done: list[StepRecord] = []  # the records in index order, once closed
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
                _logger.debug("step %r ended after its trajectory", record[4])

    def still_open(self) -> list[StepHandle]:
        """The steps that have not ended, in index order."""
        with self._lock:
            return [self._open[i] for i in sorted(self._open)]

    def close(self) -> list[TrajectoryStep]:
        """Stop taking records; the finished steps in index order."""
        with self._lock:
            self.closed = True
            self._done = done = sorted(self._records)  # indexes are unique: only they are compared
        trusted = TrajectoryStep._trusted
        return [
            trusted(index, action, rationale, outcome, confidence, elapsed_ms(start, end), ns_to_datetime(start), emb, meta)
            for index, _, start, end, action, rationale, outcome, confidence, emb, meta in done
        ]

    def sdk_steps(self, steps: list[TrajectoryStep]) -> list[SdkStep]:
        """*steps* (what :meth:`close` returned) with their spans' ids and starts, for merging framework spans."""
        return [SdkStep(r[1], r[2], s) for r, s in zip(self._done, steps, strict=True)]
