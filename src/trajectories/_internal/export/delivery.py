"""Delivery to sinks: failures counted and logged, retried, then written to a dead-letter file.

No trajectory is dropped silently: a sink that raises gets the trajectory again on the next
export or flush, up to ``attempts`` times in all; then (or when the retry queue is full, or
at shutdown) it goes to the dead-letter JSON-lines file, one line of ruvllm JSON per failed
(trajectory, sink) pair, which ``read_jsonl`` / ``trajectories import`` read back. If even
that write fails, the loss is logged at ERROR with the count.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..trajectory import Trajectory
from .sinks import Sink, sink_name

__all__ = ["Delivery", "DeliveryCounters"]

logger = logging.getLogger("trajectories")


@dataclass(slots=True)
class DeliveryCounters:
    sink_failures: int = 0
    dead_lettered: int = 0
    dead_letter_failures: int = 0
    retried: int = 0


@dataclass(slots=True)
class _Retry:
    trajectory: Trajectory
    sink: int  # index into Delivery.sinks
    attempts: int


class Delivery:
    """Sends trajectories to every sink; thread-safe (its own lock, never held while a sink runs)."""

    def __init__(self, sinks: Sequence[Sink], *, attempts: int, max_retry_queue: int, dead_letter_path: str) -> None:
        self.sinks = list(sinks)
        self.names = _unique_names(self.sinks)
        self.attempts = attempts
        self.max_retry_queue = max_retry_queue
        self.dead_letter_path = dead_letter_path
        self.counters = DeliveryCounters()
        self.failures_by_sink: dict[str, int] = dict.fromkeys(self.names, 0)
        self._lock = threading.Lock()
        self._dead_letter_lock = threading.Lock()
        self._retries: deque[_Retry] = deque()

    def add_sink(self, sink: Sink) -> None:
        with self._lock:
            self.sinks.append(sink)
            self.names = _unique_names(self.sinks)
            self.failures_by_sink.setdefault(self.names[-1], 0)

    @property
    def retries_pending(self) -> int:
        with self._lock:
            return len(self._retries)

    def deliver(self, trajectories: Sequence[Trajectory]) -> None:
        """Retry earlier failures, then send *trajectories* to every sink, then flush the sinks used."""
        with self._lock:
            retries = list(self._retries)
            self._retries.clear()
            self.counters.retried += len(retries)
            sinks = list(enumerate(self.sinks))
        for r in retries:
            self._send(r.sink, r.trajectory, r.attempts + 1)
        for i, sink in sinks:
            if len(trajectories) > 1 and self._send_batch(i, sink, trajectories):
                continue
            for t in trajectories:
                self._send(i, t, 1)
        if trajectories or retries:
            self.flush()

    def flush(self) -> None:
        for i, sink in enumerate(list(self.sinks)):
            try:
                sink.flush()
            except Exception:
                self._count_failure(i)
                logger.warning("trajectories: sink %s failed to flush", self.names[i], exc_info=True)

    def close(self) -> None:
        """Last delivery: one more try for each queued retry, the rest to the dead-letter file; close sinks."""
        self.deliver(())
        with self._lock:
            left = list(self._retries)
            self._retries.clear()
        if left:
            self._dead_letter([(r.trajectory, r.sink) for r in left])
        for i, sink in enumerate(list(self.sinks)):
            try:
                sink.close()
            except Exception:
                self._count_failure(i)
                logger.warning("trajectories: sink %s failed to close", self.names[i], exc_info=True)

    def _send_batch(self, index: int, sink: Sink, trajectories: Sequence[Trajectory]) -> bool:
        """Hand a batch to a sink that takes one (the store writes it in one transaction).

        On failure nothing is counted yet: the caller sends each trajectory on its own, so a
        bad one fails (and is retried or dead-lettered) alone and the good ones still arrive.
        """
        send_many = getattr(sink, "send_many", None)
        if not callable(send_many):
            return False
        try:
            send_many(trajectories)
        except Exception:
            logger.debug("trajectories: sink %s failed on a batch; sending one by one", self.names[index], exc_info=True)
            return False
        return True

    def _send(self, index: int, trajectory: Trajectory, attempt: int) -> None:
        sink = self.sinks[index]
        try:
            sink.send(trajectory)
            return
        except Exception as exc:
            self._count_failure(index)
            logger.warning(
                "trajectories: sink %s failed on trajectory %s (attempt %d of %d): %s: %s",
                self.names[index],
                trajectory.id,
                attempt,
                self.attempts,
                type(exc).__name__,
                exc,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
        if attempt < self.attempts:
            with self._lock:
                if len(self._retries) < self.max_retry_queue:
                    self._retries.append(_Retry(trajectory, index, attempt))
                    return
        self._dead_letter([(trajectory, index)])

    def _count_failure(self, index: int) -> None:
        with self._lock:
            self.counters.sink_failures += 1
            name = self.names[index]
            self.failures_by_sink[name] = self.failures_by_sink.get(name, 0) + 1

    def _dead_letter(self, items: Iterable[tuple[Trajectory, int]]) -> None:
        items = list(items)
        try:
            lines = "".join(t.to_json() + "\n" for t, _ in items)
            with self._dead_letter_lock:
                directory = os.path.dirname(self.dead_letter_path)
                if directory:
                    os.makedirs(directory, exist_ok=True)
                with open(self.dead_letter_path, "a", encoding="utf-8", newline="\n") as f:
                    f.write(lines)
        except Exception:
            with self._lock:
                self.counters.dead_letter_failures += len(items)
            logger.error(
                "trajectories: LOST %d trajectories: their sinks failed and the dead-letter file %s could not be written",
                len(items),
                self.dead_letter_path,
                exc_info=True,
            )
            return
        with self._lock:
            self.counters.dead_lettered += len(items)
        for t, index in items:
            logger.warning(
                "trajectories: trajectory %s written to dead-letter file %s after sink %s failed",
                t.id,
                self.dead_letter_path,
                self.names[index],
            )


def _unique_names(sinks: Sequence[Sink]) -> list[str]:
    names: list[str] = []
    for sink in sinks:
        base = sink_name(sink)
        name, n = base, 2
        while name in names:
            name, n = f"{base}#{n}", n + 1
        names.append(name)
    return names
