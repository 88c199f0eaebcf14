"""TrajectoryExporter: an OpenTelemetry SpanExporter whose output is scored trajectories.

Use it under a BatchSpanProcessor (or a SimpleSpanProcessor in tests). ``export`` records
the spans into the pending buffer under a lock (cheap: a few dict operations per span),
then, outside the lock, assembles the trajectories that became complete and hands them to
the sinks. It never raises into the processor: its own failures are logged and counted.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ..diagnostics import InternalErrorCounter, report_internal_error, reset_in_forked_child
from ..model.trajectory import Trajectory
from ..records import SpanLike, record_from_span
from ..text import plural
from ..validate import check_int, check_positive
from .buffer import Pending, TraceBuffer
from .build import build
from .delivery import Delivery
from .late import REASON_NO_FEEDBACK_SINK, LateVerdict, read_evaluations
from .sinks import Sink, as_sink

__all__ = ["DEFAULT_DEAD_LETTER_PATH", "ExporterStats", "TrajectoryExporter"]

logger = logging.getLogger(__name__)

DEFAULT_DEAD_LETTER_PATH = "trajectories-deadletter.jsonl"


@dataclass(frozen=True, slots=True)
class ExporterStats:
    """A snapshot of what a TrajectoryExporter did (see docs/exporter.md for each number)."""

    spans_seen: int
    trajectories_emitted: int
    incomplete: int
    missing_roots: int
    missing_steps: int
    late_spans: int
    unrelated_spans: int
    evicted_traces: int
    sink_failures: int
    sink_failures_by_sink: Mapping[str, int]
    retries_pending: int
    dead_lettered: int
    dead_letter_failures: int
    assembly_errors: int
    internal_errors: int
    pending_traces: int
    pending_spans: int
    pending_bytes: int = 0
    duplicate_spans: int = 0
    #: Of ``trajectories_emitted``, those made from agent frameworks' spans (no ``trajectory.id``).
    framework_trajectories: int = 0
    #: ``unrelated_spans`` by reason: no_agent_or_model_span, outside_agent, parent_cycle, ... (docs/frameworks.md).
    unrelated_by_reason: Mapping[str, int] = field(default_factory=dict)
    #: Evaluation results on spans that arrived after their trajectory (or that no trajectory took)
    #: read as later verdicts and handed to the sinks that take feedback (docs/exporter.md).
    late_verdicts: int = 0
    #: Of those, applied by a sink (the store's ``feedback``).
    late_verdicts_applied: int = 0
    #: Of those, dropped after the retries because no trajectory with that id or uuid is stored.
    late_verdicts_unmatched: int = 0
    #: Of those, written to the feedback dead-letter file after their sink kept failing.
    late_verdicts_dead_lettered: int = 0
    #: Evaluation results of such spans not read as verdicts, by reason: no_label_or_score,
    #: unknown_label, score_out_of_range, score_not_a_number, no_feedback_sink.
    evaluations_ignored_by_reason: Mapping[str, int] = field(default_factory=dict)


class TrajectoryExporter(SpanExporter):
    """Turns finished spans into scored :class:`Trajectory` objects and delivers them to *sinks*.

    Bounds: at most ``max_pending_traces`` traces and ``max_pending_spans`` spans (and, when
    set, ``max_pending_bytes`` bytes of spans that carry a size: the OTLP receiver's) wait for
    their root; a trace idle for ``max_age`` seconds (checked on every export and flush) or
    pushed out by the caps is emitted as incomplete. ``late_memory`` ids of emitted
    trajectories and spans are remembered to count late spans. A failed delivery is retried
    on the next export/flush, ``retry_attempts`` times in all, then written to
    ``dead_letter_path`` (default ``./trajectories-deadletter.jsonl``, resolved now). A sink
    whose call has not returned for ``sink_timeout`` seconds is treated as blocked: it is not
    called again from other threads, and its trajectories are retried, then dead-lettered.
    """

    def __init__(
        self,
        sinks: Iterable[Sink | Callable[[Trajectory], Any]] = (),
        *,
        max_pending_traces: int = 10_000,
        max_pending_spans: int = 200_000,
        max_pending_bytes: int | None = None,
        max_age: float = 300.0,
        late_memory: int = 100_000,
        retry_attempts: int = 3,
        max_retry_queue: int = 10_000,
        dead_letter_path: str | os.PathLike[str] | None = None,
        sink_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(sinks, (str, bytes)) or not isinstance(sinks, Iterable):
            raise TypeError(f"sinks must be an iterable of sinks or callables, got {type(sinks).__name__}")
        checked = [as_sink(s, f"sinks[{i}]") for i, s in enumerate(sinks)]
        for name, value in (
            ("max_pending_traces", max_pending_traces),
            ("max_pending_spans", max_pending_spans),
            ("late_memory", late_memory),
            ("retry_attempts", retry_attempts),
        ):
            check_int(name, value, minimum=1)
        check_int("max_retry_queue", max_retry_queue)
        if max_pending_bytes is not None:
            check_int("max_pending_bytes", max_pending_bytes, minimum=1)
        age = check_positive("max_age", max_age)
        blocked_after = check_positive("sink_timeout", sink_timeout)
        if dead_letter_path is None:
            dead_letter_path = DEFAULT_DEAD_LETTER_PATH
        if not isinstance(dead_letter_path, (str, os.PathLike)):
            raise TypeError(f"dead_letter_path must be a str or os.PathLike, got {type(dead_letter_path).__name__}")
        if not callable(clock):
            raise TypeError(f"clock must be callable, got {type(clock).__name__}")
        self._clock = clock
        self._lock = threading.Lock()
        self._bounds = (max_pending_traces, max_pending_spans, age, late_memory, max_pending_bytes)
        self._buffer = self._new_buffer()
        self._delivery = Delivery(
            checked,
            attempts=retry_attempts,
            max_retry_queue=max_retry_queue,
            dead_letter_path=os.path.abspath(os.fspath(dead_letter_path)),
            blocked_after=blocked_after,
        )
        self._emitted = 0
        self._incomplete = 0
        self._missing_roots = 0
        self._missing_steps = 0
        self._assembly_errors = 0
        self._internal_errors = InternalErrorCounter()
        self._late_verdict_count = 0
        self._evaluations_ignored: dict[str, int] = {}
        #: Why spans may be missing, for the warning about incomplete trajectories (``configure()``
        #: names its batch queue here; the receiver and import have none).
        self.loss_hint = "dropped before they reached the exporter, still running at shutdown, or idle longer than max_age"
        self._done = False
        reset_in_forked_child(self._after_fork_in_child)

    def _new_buffer(self) -> TraceBuffer:
        traces, spans, age, late, max_bytes = self._bounds
        return TraceBuffer(max_traces=traces, max_spans=spans, max_age=age, late_memory=late, max_bytes=max_bytes)

    def _after_fork_in_child(self) -> None:
        """A forked child starts empty: the parent's pending spans and retries stay the parent's
        (the child delivering them too would duplicate them, and replace the parent's complete
        trajectories in the store with incomplete copies at the child's shutdown), and no lock
        may be inherited held by the parent's worker thread."""
        self._lock = threading.Lock()
        self._buffer = self._new_buffer()
        self._delivery.reset_after_fork()

    # ---------------------------------------------------------------- public

    @property
    def sinks(self) -> tuple[Sink, ...]:
        return tuple(self._delivery.sinks)

    @property
    def max_age(self) -> float:
        """Seconds a trace may stay idle before what it holds is emitted incomplete."""
        return self._bounds[2]

    @property
    def dead_letter_path(self) -> str:
        return self._delivery.dead_letter_path

    def add_sink(self, sink: Sink | Callable[[Trajectory], Any]) -> None:
        """Deliver to *sink* too, from the next trajectory on (the store sink plugs in here)."""
        self._delivery.add_sink(as_sink(sink))

    @property
    def stats(self) -> ExporterStats:
        with self._lock:
            c = self._buffer.counters
            d = self._delivery.counters
            return ExporterStats(
                spans_seen=c.spans_seen,
                trajectories_emitted=self._emitted,
                incomplete=self._incomplete,
                missing_roots=self._missing_roots,
                missing_steps=self._missing_steps,
                late_spans=c.late_spans,
                unrelated_spans=c.unrelated_spans,
                evicted_traces=c.evicted_traces,
                sink_failures=d.sink_failures,
                sink_failures_by_sink=MappingProxyType(dict(self._delivery.failures_by_sink)),
                retries_pending=self._delivery.retries_pending,
                dead_lettered=d.dead_lettered,
                dead_letter_failures=d.dead_letter_failures,
                assembly_errors=self._assembly_errors,
                internal_errors=self._internal_errors.value,
                pending_traces=self._buffer.pending_traces,
                pending_spans=self._buffer.pending_spans,
                pending_bytes=self._buffer.pending_bytes,
                duplicate_spans=c.duplicate_spans,
                framework_trajectories=c.framework_trajectories,
                unrelated_by_reason=MappingProxyType(dict(c.unplaced)),
                late_verdicts=self._late_verdict_count,
                late_verdicts_applied=d.late_verdicts_applied,
                late_verdicts_unmatched=d.late_verdicts_unmatched,
                late_verdicts_dead_lettered=d.late_verdicts_dead_lettered,
                evaluations_ignored_by_reason=MappingProxyType(dict(self._evaluations_ignored)),
            )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Buffer *spans*; deliver the trajectories they complete. Never raises."""
        try:
            self.export_records([record_from_span(s) for s in spans])
        except Exception:
            report_internal_error("exporting spans", logger=logger, counter=self._internal_errors)
        return SpanExportResult.SUCCESS

    def export_records(self, records: Iterable[SpanLike]) -> None:
        """Like :meth:`export`, for neutral span records (the OTLP receiver feeds decoded spans here)."""
        with self._lock:
            if self._done:
                n = sum(1 for _ in records)
                self._buffer.counters.spans_seen += n
                self._buffer.counters.late_spans += n
                return
            now = self._clock()
            ready = self._buffer.add(records, now)
            ready.extend(self._buffer.expire(now))
            evaluated = self._buffer.take_evaluations()
        self._deliver(ready, evaluated=evaluated)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Deliver every complete trajectory and retry failed deliveries; emit expired ones.

        Trajectories still waiting for their root stay pending: a flush in the middle of a
        trajectory never sends half of it. Returns False when something is left undelivered
        (failed deliveries waiting for a retry: a sink that raised or is blocked).
        """
        try:
            with self._lock:
                ready = [] if self._done else self._buffer.expire(self._clock())
                evaluated = self._buffer.take_evaluations()
            self._deliver(ready, always=True, evaluated=evaluated)
        except Exception:
            report_internal_error("flushing", logger=logger, counter=self._internal_errors)
            return False
        return self._delivery.retries_pending == 0

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        """Emit everything pending (incomplete ones flagged), deliver, dead-letter what fails, close sinks.

        A delivery still running in another thread (the batch processor's worker) gets
        *timeout_millis* to finish; if it is stuck in a sink that does not return, its
        trajectories are sent to the other sinks and dead-lettered for the blocked one.
        """
        try:
            with self._lock:
                if self._done:
                    return
                self._done = True
                ready = self._buffer.drain()
                evaluated = self._buffer.take_evaluations()
            self._deliver(ready, evaluated=evaluated)
            self._delivery.close(max(0.0, float(timeout_millis)) / 1000)
        except Exception:
            report_internal_error("shutting down", logger=logger, counter=self._internal_errors)

    def treat_busy_sinks_as_blocked(self) -> None:
        """From now on a sink with any call in progress counts as blocked: a process that must exit
        while a delivery is stuck (``configure()``'s bounded exit) delivers around it."""
        self._delivery.blocked_after = 0.0

    # ---------------------------------------------------------------- internals

    def _late_verdicts(self, evaluated: list[tuple[SpanLike, int | None]]) -> list[LateVerdict]:
        """The late verdicts of spans with evaluation results; what cannot be read is counted."""
        verdicts: list[LateVerdict] = []
        ignored: dict[str, int] = {}
        for span, tid in evaluated:
            found, skipped = read_evaluations(span, tid)
            verdicts.extend(found)
            for reason, n in skipped.items():
                ignored[reason] = ignored.get(reason, 0) + n
        if verdicts and not self._delivery.takes_feedback:
            ignored[REASON_NO_FEEDBACK_SINK] = ignored.get(REASON_NO_FEEDBACK_SINK, 0) + len(verdicts)
            logger.info("%d late evaluation results not applied: no sink takes feedback (a store does)", len(verdicts))
            verdicts = []
        elif ignored:
            logger.info("late evaluation results not read as verdicts: %s", ignored)
        with self._lock:
            self._late_verdict_count += len(verdicts)
            for reason, n in ignored.items():
                self._evaluations_ignored[reason] = self._evaluations_ignored.get(reason, 0) + n
        return verdicts

    def _deliver(
        self, ready: list[Pending], *, always: bool = False, evaluated: list[tuple[SpanLike, int | None]] | None = None
    ) -> None:
        verdicts = self._late_verdicts(evaluated) if evaluated else []
        built: list[Trajectory] = []
        for p in ready:
            try:
                built.append(build(p))
            except Exception as exc:
                with self._lock:
                    self._assembly_errors += 1
                # Spans may come from an OTLP payload: the exception's type, its text and traceback at DEBUG.
                logger.warning(
                    "could not assemble trajectory %d from its spans: %s",
                    p.id,
                    type(exc).__name__,
                    exc_info=logger.isEnabledFor(logging.DEBUG),
                )
                continue
        incomplete = sum(1 for p in ready if p.flagged_incomplete)
        rootless = sum(1 for p in ready if p.root is None)
        missing = sum(p.missing_steps for p in ready)
        with self._lock:
            self._emitted += len(built)
            self._incomplete += incomplete
            self._missing_roots += rootless
            self._missing_steps += missing
        if incomplete:
            # Never silently short: the loss happened before the exporter (it cannot see a
            # BatchSpanProcessor drop a span), but it shows here.
            logger.warning(
                "%d %s emitted incomplete (%d without %s root span, %d step %s missing): their spans did not all arrive - %s",
                incomplete,
                plural(incomplete, "trajectory", "trajectories"),
                rootless,
                "its" if incomplete == 1 else "their",
                missing,
                plural(missing, "span", "spans"),
                self.loss_hint,
            )
        if built or always or verdicts or self._delivery.retries_pending:
            self._delivery.deliver(built, verdicts)
