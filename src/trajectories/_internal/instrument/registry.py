"""The steps of one trajectory while it runs: index assignment, the open steps, the finished records.

A :class:`TrajectoryHandle` owns one; a step handle registers with it when it starts (taking
the next index, in start order) and hands it its finished :class:`TrajectoryStep`. Thread-safe:
steps may start and end in other tasks and threads.
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import TYPE_CHECKING

from ..foreign import SdkStep
from ..model.trajectory import TrajectoryStep

if TYPE_CHECKING:
    from .step_handle import StepHandle

__all__ = ["StepRegistry"]

_logger = logging.getLogger(__name__)


class StepRegistry:
    __slots__ = ("_counter", "_lock", "_open", "_records", "closed")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._open: dict[int, StepHandle] = {}
        self._records: list[SdkStep] = []
        #: Set when the trajectory ends: steps that start afterwards record plain spans.
        self.closed = False

    def register(self, step: StepHandle) -> int:
        """Take the next step index for *step* (started now) and keep it as open."""
        with self._lock:
            index = next(self._counter)
            self._open[index] = step
        return index

    def finished(self, index: int | None, record: TrajectoryStep | None, span_id: int = 0, start_ns: int = 0) -> None:
        """The step at *index* ended; *record* is what it recorded (None: nothing to keep), its span
        *span_id* started at *start_ns*."""
        with self._lock:
            if index is not None:
                self._open.pop(index, None)
            if record is not None and not self.closed:
                self._records.append(SdkStep(span_id, start_ns, record))
            elif record is not None:
                _logger.debug("step %r ended after its trajectory", record.action)

    def still_open(self) -> list[StepHandle]:
        """The steps that have not ended, in index order."""
        with self._lock:
            return [self._open[i] for i in sorted(self._open)]

    def close(self) -> list[SdkStep]:
        """Stop taking records; the finished steps in index order."""
        with self._lock:
            self.closed = True
            return sorted(self._records, key=lambda s: s.step.index)
