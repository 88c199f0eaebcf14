"""Delivery to sinks: failures counted and logged, retried, then written to a dead-letter file.

No trajectory is dropped silently: a sink that raises gets the trajectory again on the next
export or flush, up to ``attempts`` times in all; then (or when the retry queue is full, or
at shutdown) it goes to the dead-letter JSON-lines file, one line of ruvllm JSON per failed
(trajectory, sink) pair, which ``read_jsonl`` / ``trajectories import`` read back. If even
that write fails, the loss is logged at ERROR with the count.

A sink that *blocks* (a call that has not returned for ``blocked_after`` seconds) is not
called again from another thread: its trajectories are queued for retry, then dead-lettered,
so a flush or shutdown from the application's thread never hangs behind it. At shutdown the
trajectories a stuck delivery round still holds are taken over: sent to the sinks that work,
dead-lettered for the blocked one.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from ..model.trajectory import Trajectory
from .sinks import Sink, sink_name

__all__ = ["Delivery", "DeliveryCounters"]

logger = logging.getLogger(__name__)


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

    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        attempts: int,
        max_retry_queue: int,
        dead_letter_path: str,
        blocked_after: float = 5.0,
    ) -> None:
        self.sinks = list(sinks)
        self.names = _unique_names(self.sinks)
        self.attempts = attempts
        self.max_retry_queue = max_retry_queue
        self.dead_letter_path = dead_letter_path
        self.blocked_after = blocked_after
        self.counters = DeliveryCounters()
        self.failures_by_sink: dict[str, int] = dict.fromkeys(self.names, 0)
        self.reset_after_fork()

    def reset_after_fork(self) -> None:
        """Fresh locks and empty queues (also the initial state): a forked child must not
        inherit a lock held by the parent's worker thread, nor deliver the parent's retries."""
        self._lock = threading.Lock()
        self._dead_letter_lock = threading.Lock()
        self._retries: deque[_Retry] = deque()
        self._keys = itertools.count()
        #: (trajectory, sink index) pairs handed to a delivery round and not yet settled
        #: (delivered, queued for retry or dead-lettered), by key.
        self._inflight: dict[int, tuple[Trajectory, int]] = {}
        #: sink index -> start times (monotonic) of the calls into it that have not returned.
        self._busy: dict[int, list[float]] = {}

    def add_sink(self, sink: Sink) -> None:
        with self._lock:
            self.sinks.append(sink)
            self.names = _unique_names(self.sinks)
            self.failures_by_sink.setdefault(self.names[-1], 0)

    @property
    def retries_pending(self) -> int:
        with self._lock:
            return len(self._retries)

    @property
    def inflight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def deliver(self, trajectories: Sequence[Trajectory]) -> None:
        """Retry earlier failures, then send *trajectories* to every sink, then flush the sinks used."""
        with self._lock:
            retries = list(self._retries)
            self._retries.clear()
            self.counters.retried += len(retries)
            sinks = list(enumerate(self.sinks))
            retry_keys = [self._track(r.trajectory, r.sink) for r in retries]
            keys = {i: [self._track(t, i) for t in trajectories] for i, _ in sinks}
        for r, key in zip(retries, retry_keys, strict=True):
            self._send(r.sink, r.trajectory, r.attempts + 1, key)
        for i, sink in sinks:
            if len(trajectories) > 1 and self._send_batch(i, sink, trajectories, keys[i]):
                continue
            for t, key in zip(trajectories, keys[i], strict=True):
                self._send(i, t, 1, key)
        if trajectories or retries:
            self.flush()

    def flush(self) -> None:
        for i, sink in enumerate(list(self.sinks)):
            if self._is_blocked(i):
                continue
            try:
                with self._calling(i):
                    sink.flush()
            except Exception:
                self._count_failure(i)
                logger.warning("sink %s failed to flush", self.names[i], exc_info=True)

    def close(self, timeout: float = 30.0) -> None:
        """Last delivery: one more try for each queued retry, the rest to the dead-letter file; close sinks.

        Delivery rounds still running in other threads get *timeout* seconds to finish; what
        they still hold then (they are stuck in a blocked sink) is taken over here.
        """
        deadline = time.monotonic() + timeout
        while self.inflight and time.monotonic() < deadline:
            time.sleep(0.005)
        with self._lock:
            stuck = list(self._inflight.values())
            self._inflight.clear()  # the stuck round, if it ever resumes, finds its work settled
        if stuck:
            logger.error(
                "%d deliveries still stuck at shutdown (a sink that does not return); "
                "sending them to the other sinks, dead-lettering them for the blocked one",
                len(stuck),
            )
            self._take_over(stuck)
        self.deliver(())
        with self._lock:
            left = list(self._retries)
            self._retries.clear()
        if left:
            self._dead_letter([(r.trajectory, r.sink) for r in left])
        for i, sink in enumerate(list(self.sinks)):
            if self._is_blocked(i):
                logger.error("sink %s is blocked; not closing it", self.names[i])
                continue
            try:
                with self._calling(i):
                    sink.close()
            except Exception:
                self._count_failure(i)
                logger.warning("sink %s failed to close", self.names[i], exc_info=True)

    def _take_over(self, stuck: Sequence[tuple[Trajectory, int]]) -> None:
        blocked = [(t, i) for t, i in stuck if self._is_blocked(i)]
        if blocked:
            self._dead_letter(blocked)
        for t, i in stuck:
            if not self._is_blocked(i):
                with self._lock:
                    key = self._track(t, i)
                self._send(i, t, self.attempts, key)  # its last chance: a failure is dead-lettered

    # ---------------------------------------------------------------- bookkeeping (callers hold _lock)

    def _track(self, trajectory: Trajectory, sink: int) -> int:
        key = next(self._keys)
        self._inflight[key] = (trajectory, sink)
        return key

    def _settle(self, key: int) -> bool:
        """Mark a pair done; False when it was already settled by someone else (taken over at shutdown)."""
        with self._lock:
            return self._inflight.pop(key, None) is not None

    def _is_blocked(self, index: int) -> bool:
        with self._lock:
            starts = self._busy.get(index)
            return starts is not None and bool(starts) and time.monotonic() - min(starts) >= self.blocked_after

    @contextmanager
    def _calling(self, index: int) -> Iterator[None]:
        start = time.monotonic()
        with self._lock:
            self._busy.setdefault(index, []).append(start)
        try:
            yield
        finally:
            with self._lock:
                self._busy[index].remove(start)

    def _send_batch(self, index: int, sink: Sink, trajectories: Sequence[Trajectory], keys: Sequence[int]) -> bool:
        """Hand a batch to a sink that takes one (the store writes it in one transaction).

        On failure nothing is counted yet: the caller sends each trajectory on its own, so a
        bad one fails (and is retried or dead-lettered) alone and the good ones still arrive.
        """
        send_many = getattr(sink, "send_many", None)
        if not callable(send_many) or self._is_blocked(index):
            return False
        try:
            with self._calling(index):
                send_many(trajectories)
        except Exception:
            logger.debug("sink %s failed on a batch; sending one by one", self.names[index], exc_info=True)
            return False
        for key in keys:
            self._settle(key)
        return True

    def _send(self, index: int, trajectory: Trajectory, attempt: int, key: int) -> None:
        with self._lock:
            if key not in self._inflight:
                return  # taken over at shutdown while this round was stuck
        sink = self.sinks[index]
        if self._is_blocked(index):
            self._count_failure(index)
            logger.warning(
                "sink %s is blocked (a call has not returned for %.0f s or more); "
                "trajectory %s not sent to it (attempt %d of %d)",
                self.names[index],
                self.blocked_after,
                trajectory.id,
                attempt,
                self.attempts,
            )
        else:
            try:
                with self._calling(index):
                    sink.send(trajectory)
            except Exception as exc:
                self._count_failure(index)
                logger.warning(
                    "sink %s failed on trajectory %s (attempt %d of %d): %s: %s",
                    self.names[index],
                    trajectory.id,
                    attempt,
                    self.attempts,
                    type(exc).__name__,
                    exc,
                    exc_info=logger.isEnabledFor(logging.DEBUG),
                )
            else:
                self._settle(key)
                return
        if not self._settle(key):
            return  # taken over (and dead-lettered) at shutdown meanwhile
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
                "LOST %d trajectories: their sinks failed and the dead-letter file %s could not be written",
                len(items),
                self.dead_letter_path,
                exc_info=True,
            )
            return
        with self._lock:
            self.counters.dead_lettered += len(items)
        for t, index in items:
            logger.warning(
                "trajectory %s written to dead-letter file %s after sink %s failed",
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
