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

Late verdicts (:class:`~.late.LateVerdict`: an evaluation result that arrived after its
trajectory) travel the same way to the sinks that take feedback (``send_feedback``: the store).
One whose trajectory is not stored (yet) is retried too, then counted and logged as unmatched;
one whose sink keeps failing is dead-lettered beside the trajectories, in
``<dead-letter name>.feedback.jsonl``.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from ..exceptions import TrajectoryNotFoundError
from ..model.trajectory import Trajectory
from .late import LateVerdict, feedback_dead_letter_path
from .sinks import Sink, sink_name

#: What is delivered: a trajectory to every sink, a late verdict to the sinks that take feedback.
Item = Trajectory | LateVerdict

__all__ = ["Delivery", "DeliveryCounters"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class DeliveryCounters:
    sink_failures: int = 0
    dead_lettered: int = 0
    dead_letter_failures: int = 0
    retried: int = 0
    late_verdicts_applied: int = 0
    late_verdicts_unmatched: int = 0
    late_verdicts_dead_lettered: int = 0


@dataclass(slots=True)
class _Retry:
    trajectory: Item
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
        self._inflight: dict[int, tuple[Item, int]] = {}
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

    @property
    def takes_feedback(self) -> bool:
        """Whether any sink takes late verdicts (has ``send_feedback``)."""
        return any(_feedback_of(s) is not None for s in list(self.sinks))

    def deliver(self, trajectories: Sequence[Trajectory], verdicts: Sequence[LateVerdict] = ()) -> None:
        """Retry earlier failures, then send *trajectories* to every sink and *verdicts* to those
        that take feedback, then flush the sinks used."""
        with self._lock:
            retries = list(self._retries)
            self._retries.clear()
            self.counters.retried += len(retries)
            sinks = list(enumerate(self.sinks))
            retry_keys = [self._track(r.trajectory, r.sink) for r in retries]
            keys = {i: [self._track(t, i) for t in trajectories] for i, _ in sinks}
            feedback = [i for i, sink in sinks if _feedback_of(sink) is not None]
            verdict_keys = {i: [self._track(v, i) for v in verdicts] for i in feedback}
        for r, key in zip(retries, retry_keys, strict=True):
            self._send(r.sink, r.trajectory, r.attempts + 1, key)
        for i, sink in sinks:
            if len(trajectories) > 1 and self._send_batch(i, sink, trajectories, keys[i]):
                continue
            for t, key in zip(trajectories, keys[i], strict=True):
                self._send(i, t, 1, key)
        for i in feedback:  # after the trajectories: a verdict for one delivered just now finds it
            for v, key in zip(verdicts, verdict_keys[i], strict=True):
                self._send(i, v, 1, key)
        if trajectories or retries or verdicts:
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

    def _take_over(self, stuck: Sequence[tuple[Item, int]]) -> None:
        blocked = [(t, i) for t, i in stuck if self._is_blocked(i)]
        if blocked:
            self._dead_letter(blocked)
        for t, i in stuck:
            if not self._is_blocked(i):
                with self._lock:
                    key = self._track(t, i)
                self._send(i, t, self.attempts, key)  # its last chance: a failure is dead-lettered

    # ---------------------------------------------------------------- bookkeeping (callers hold _lock)

    def _track(self, trajectory: Item, sink: int) -> int:
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

    def _send(self, index: int, trajectory: Item, attempt: int, key: int) -> None:
        with self._lock:
            if key not in self._inflight:
                return  # taken over at shutdown while this round was stuck
        sink = self.sinks[index]
        what = "trajectory" if isinstance(trajectory, Trajectory) else "late verdict"
        if self._is_blocked(index):
            self._count_failure(index)
            logger.warning(
                "sink %s is blocked (a call has not returned for %.0f s or more); %s %s not sent to it (attempt %d of %d)",
                self.names[index],
                self.blocked_after,
                what,
                trajectory.id,
                attempt,
                self.attempts,
            )
        else:
            try:
                with self._calling(index):
                    if isinstance(trajectory, Trajectory):
                        sink.send(trajectory)
                    else:
                        send_feedback = _feedback_of(sink)
                        assert send_feedback is not None  # only such sinks get late verdicts
                        send_feedback(trajectory)
            except TrajectoryNotFoundError as exc:
                if isinstance(trajectory, Trajectory):
                    self._failed(index, trajectory, attempt, exc)
                elif self._not_found(index, trajectory, attempt, key):
                    return
            except Exception as exc:
                self._failed(index, trajectory, attempt, exc)
            else:
                if self._settle(key) and isinstance(trajectory, LateVerdict):
                    with self._lock:
                        self.counters.late_verdicts_applied += 1
                return
        if not self._settle(key):
            return  # taken over (and dead-lettered) at shutdown meanwhile
        if attempt < self.attempts:
            with self._lock:
                if len(self._retries) < self.max_retry_queue:
                    self._retries.append(_Retry(trajectory, index, attempt))
                    return
        self._dead_letter([(trajectory, index)])

    def _failed(self, index: int, item: Item, attempt: int, exc: Exception) -> None:
        self._count_failure(index)
        logger.warning(
            "sink %s failed on %s %s (attempt %d of %d): %s: %s",
            self.names[index],
            "trajectory" if isinstance(item, Trajectory) else "late verdict",
            item.id,
            attempt,
            self.attempts,
            type(exc).__name__,
            exc,
            exc_info=logger.isEnabledFor(logging.DEBUG),
        )

    def _not_found(self, index: int, verdict: LateVerdict, attempt: int, key: int) -> bool:
        """A late verdict whose trajectory the sink does not have (yet): retried on the next round,
        then counted and logged as unmatched. True when it is settled here (not sent on)."""
        if not self._settle(key):
            return True
        with self._lock:
            if attempt < self.attempts and len(self._retries) < self.max_retry_queue:
                self._retries.append(_Retry(verdict, index, attempt))
                return True
            self.counters.late_verdicts_unmatched += 1
        logger.warning(
            "late verdict %s dropped after %d attempts: sink %s has no such trajectory", verdict.id, attempt, self.names[index]
        )
        return True

    def _count_failure(self, index: int) -> None:
        with self._lock:
            self.counters.sink_failures += 1
            name = self.names[index]
            self.failures_by_sink[name] = self.failures_by_sink.get(name, 0) + 1

    def _dead_letter(self, items: Iterable[tuple[Item, int]]) -> None:
        items = list(items)
        trajectories = [(t, i) for t, i in items if isinstance(t, Trajectory)]
        verdicts = [(v, i) for v, i in items if isinstance(v, LateVerdict)]
        if trajectories:
            self._write_dead_letters(trajectories, self.dead_letter_path, "trajectories")
        if verdicts:
            self._write_dead_letters(verdicts, feedback_dead_letter_path(self.dead_letter_path), "late verdicts")

    def _write_dead_letters(self, items: Sequence[tuple[Item, int]], path: str, what: str) -> None:
        try:
            lines = "".join(_dead_letter_line(t) + "\n" for t, _ in items)
            with self._dead_letter_lock:
                directory = os.path.dirname(path)
                if directory:
                    os.makedirs(directory, exist_ok=True)
                with open(path, "a", encoding="utf-8", newline="\n") as f:
                    f.write(lines)
        except Exception:
            with self._lock:
                self.counters.dead_letter_failures += len(items)
            logger.error(
                "LOST %d %s: their sinks failed and the dead-letter file %s could not be written",
                len(items),
                what,
                path,
                exc_info=True,
            )
            return
        with self._lock:
            if what == "trajectories":
                self.counters.dead_lettered += len(items)
            else:
                self.counters.late_verdicts_dead_lettered += len(items)
        for t, index in items:
            logger.warning(
                "%s %s written to dead-letter file %s after sink %s failed",
                "trajectory" if isinstance(t, Trajectory) else "late verdict",
                t.id,
                path,
                self.names[index],
            )


def _dead_letter_line(item: Item) -> str:
    if isinstance(item, Trajectory):
        return item.to_json()
    return json.dumps(item.to_dict(), ensure_ascii=False, separators=(",", ":"))


def _feedback_of(sink: Sink) -> Callable[[LateVerdict], object] | None:
    """The sink's ``send_feedback``, if it takes late verdicts."""
    method = getattr(sink, "send_feedback", None)
    return method if callable(method) else None


def _unique_names(sinks: Sequence[Sink]) -> list[str]:
    names: list[str] = []
    for sink in sinks:
        base = sink_name(sink)
        name, n = base, 2
        while name in names:
            name, n = f"{base}#{n}", n + 1
        names.append(name)
    return names
