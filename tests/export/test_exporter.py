"""TrajectoryExporter: buffering until the root, bounds, expiry, shutdown, late spans, statistics."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult

from tests.helpers.export import HandTracer, by_root_last, chat
from trajectories import attributes as A
from trajectories.export import ListSink, TrajectoryExporter
from trajectories.instrument import TrajectoryHandle, step, trajectory
from trajectories.model import Verdict


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


@pytest.fixture
def exporter(sink: ListSink, tmp_path: Path) -> Iterator[TrajectoryExporter]:
    exp = TrajectoryExporter([sink], dead_letter_path=tmp_path / "dead.jsonl")
    yield exp
    exp.shutdown()


def provider_with(processor: SpanProcessor) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider


def run_agent(provider: TracerProvider, name: str, n_steps: int = 3) -> TrajectoryHandle:
    with trajectory(name, tracer_provider=provider) as t:
        for i in range(n_steps):
            with step(f"{name}-{i}"), step(f"{name}-{i}-nested"):
                pass
    return t


def test_simple_processor_delivers_what_the_instrumentation_saw(exporter: TrajectoryExporter, sink: ListSink) -> None:
    provider = provider_with(SimpleSpanProcessor(exporter))
    handles = [run_agent(provider, f"agent{i}") for i in range(3)]
    assert len(sink) == 3
    for handle, got in zip(handles, sink, strict=True):
        assert got == handle.result
        assert [s.metadata.attributes[A.STEP_PARENT_ATTRIBUTE] for s in got.steps if s.metadata] == ["0", "2", "4"]
    stats = exporter.stats
    assert (stats.trajectories_emitted, stats.incomplete, stats.late_spans) == (3, 0, 0)
    assert stats.spans_seen == 3 * 7
    assert stats.pending_traces == 0
    assert stats.pending_spans == 0


def test_batch_processor_split_mid_trajectory_delivers_each_once(exporter: TrajectoryExporter, sink: ListSink) -> None:
    processor = BatchSpanProcessor(exporter, max_export_batch_size=2, schedule_delay_millis=60_000)
    provider = provider_with(processor)
    handles = [run_agent(provider, f"agent{i}", n_steps=4) for i in range(5)]
    assert processor.force_flush()
    assert len(sink) == 5
    assert {t.id: t for t in sink} == {h.result.id: h.result for h in handles if h.result is not None}
    assert exporter.stats.spans_seen == 5 * 9
    assert exporter.stats.pending_spans == 0
    provider.shutdown()
    assert len(sink) == 5  # shutdown sends no duplicate


def test_flush_in_the_middle_of_a_trajectory_sends_nothing_half(exporter: TrajectoryExporter, sink: ListSink) -> None:
    h = HandTracer()
    with h.root("slow") as (_, tid):
        with h.step(tid, 0, "a"):
            h.foreign("chat", chat("m", 5, 5))
        with h.step(tid, 1, "b"):
            pass
    spans = h.spans()
    exporter.export(spans[:-1])  # everything but the root
    assert exporter.force_flush()
    assert len(sink) == 0
    assert exporter.stats.pending_spans == 3
    exporter.export(spans[-1:])
    (got,) = sink
    assert [s.action for s in got.steps] == ["a", "b"]
    assert got.metadata.total_input_tokens == 5
    assert A.TRAJECTORY_INCOMPLETE_ATTRIBUTE not in got.metadata.attributes
    exporter.force_flush()
    exporter.shutdown()
    assert len(sink) == 1


def test_children_after_the_root_are_counted_late_not_duplicated(exporter: TrajectoryExporter, sink: ListSink) -> None:
    h = HandTracer()
    with h.root("r") as (_, tid):
        with h.step(tid, 0, "early"):
            pass
        with h.step(tid, 1, "straggler"):
            h.foreign("chat", chat("m", 1, 1))
    early, chat_span, straggler, root = h.spans()
    for batch in ([early], [root], [chat_span], [straggler]):
        assert exporter.export(batch) is SpanExportResult.SUCCESS
    (got,) = sink
    assert [s.action for s in got.steps] == ["early"]
    assert exporter.stats.late_spans == 2
    exporter.shutdown()
    assert len(sink) == 1
    assert exporter.stats.incomplete == 0


def test_many_trajectories_per_trace_and_interleaved_batches(exporter: TrajectoryExporter, sink: ListSink) -> None:
    h = HandTracer()
    with h.root("outer") as (_, outer), h.step(outer, 0, "delegate"):
        for i in range(3):
            with h.root(f"inner{i}") as (_, inner), h.step(inner, 0, f"work{i}"):
                h.foreign("chat", chat(f"m{i}", i, i))
    spans = h.spans()
    assert len({s.context.trace_id for s in spans if s.context}) == 1
    for span in spans:  # one span per batch
        exporter.export([span])
    assert [t.metadata.attributes[A.TRAJECTORY_NAME_ATTRIBUTE] for t in sink] == ["inner0", "inner1", "inner2", "outer"]
    assert [t.metadata.models_used for t in sink] == [("m0",), ("m1",), ("m2",), ()]
    assert exporter.stats.pending_traces == 0


def test_expiry_emits_incomplete_and_counts_the_late_root(sink: ListSink, tmp_path: Path) -> None:
    clock = FakeClock()
    exporter = TrajectoryExporter([sink], max_age=30, clock=clock, dead_letter_path=tmp_path / "d.jsonl")
    h = HandTracer()
    with h.root("never") as (_, tid):
        with h.step(tid, 0, "a"):
            pass
        with h.step(tid, 1, "b", outcome="failure", **{A.STEP_OUTCOME_ERROR: "x"}):
            pass
    *steps, root = h.spans()
    exporter.export(steps)
    clock.now += 29
    exporter.force_flush()
    assert len(sink) == 0
    clock.now += 1
    exporter.force_flush()
    (got,) = sink
    assert got.id == tid
    assert got.verdict == Verdict.partial(0.5)
    assert got.metadata.attributes[A.TRAJECTORY_INCOMPLETE_ATTRIBUTE] == "true"
    exporter.export([root])
    assert len(sink) == 1
    assert exporter.stats.late_spans == 1
    assert exporter.stats.incomplete == 1


def test_expiry_is_by_idleness_and_checked_on_export(sink: ListSink, tmp_path: Path) -> None:
    clock = FakeClock()
    exporter = TrajectoryExporter([sink], max_age=10, clock=clock, dead_letter_path=tmp_path / "d.jsonl")
    h = HandTracer()
    with h.root("long") as (_, tid):
        for i in range(3):
            with h.step(tid, i, f"s{i}"):
                pass
    *steps, root = h.spans()
    for span in steps:  # a step every 8 s keeps the trace alive
        exporter.export([span])
        clock.now += 8
    exporter.export([root])
    (got,) = sink
    assert len(got.steps) == 3
    assert A.TRAJECTORY_INCOMPLETE_ATTRIBUTE not in got.metadata.attributes
    other = HandTracer()
    with other.root("other") as (_, tid2), other.step(tid2, 0, "x"):
        pass
    exporter.export(other.spans()[:1])
    clock.now += 11
    exporter.export([])  # an export with nothing new still expires
    assert len(sink) == 2
    assert sink[1].metadata.attributes == {A.TRAJECTORY_INCOMPLETE_ATTRIBUTE: "true"}


def test_shutdown_with_pending_spans_delivers_them_flagged(sink: ListSink, tmp_path: Path) -> None:
    exporter = TrajectoryExporter([sink], dead_letter_path=tmp_path / "d.jsonl")
    h = HandTracer()
    with h.root("cut") as (_, tid), h.step(tid, 0, "a"):
        h.foreign("chat", chat("m", 2, 3))
    *pending, root = h.spans()
    exporter.export(pending)
    exporter.shutdown()
    (got,) = sink
    assert got.id == tid
    assert got.verdict == Verdict.partial(1.0)
    assert got.metadata.attributes[A.TRAJECTORY_INCOMPLETE_ATTRIBUTE] == "true"
    assert got.metadata.total_output_tokens == 3
    assert exporter.export([root]) is SpanExportResult.SUCCESS
    exporter.shutdown()  # idempotent
    assert len(sink) == 1
    assert exporter.stats.late_spans == 1


def test_caps_evict_the_least_recently_active_trace_as_incomplete(sink: ListSink, tmp_path: Path) -> None:
    exporter = TrajectoryExporter([sink], max_pending_traces=2, max_pending_spans=1000, dead_letter_path=tmp_path / "d.jsonl")
    tracers = [HandTracer() for _ in range(3)]
    for h in tracers:
        with h.root("t") as (_, tid), h.step(tid, 0, "a"):
            pass
    for h in tracers:
        exporter.export(h.spans()[:1])
    assert exporter.stats.pending_traces == 2
    assert exporter.stats.evicted_traces == 1
    assert len(sink) == 1
    assert sink[0].metadata.attributes[A.TRAJECTORY_INCOMPLETE_ATTRIBUTE] == "true"
    small = TrajectoryExporter([sink], max_pending_spans=3, dead_letter_path=tmp_path / "d.jsonl")
    h = HandTracer()
    with h.root("big") as (_, tid):
        for i in range(5):
            with h.step(tid, i, "s"):
                pass
    *steps, root = h.spans()
    small.export(steps)  # the 4th span overflows: the trajectory goes out incomplete, the 5th is late
    assert small.stats.pending_spans == 0
    assert small.stats.evicted_traces == 1
    assert small.stats.late_spans == 1
    assert len(sink[-1].steps) == 4
    assert sink[-1].metadata.attributes[A.TRAJECTORY_INCOMPLETE_ATTRIBUTE] == "true"
    small.export([root])
    assert small.stats.late_spans == 2
    assert small.stats.incomplete == 1
    small.shutdown()
    exporter.shutdown()


def test_spans_of_no_trajectory_are_released_and_counted_by_reason(exporter: TrajectoryExporter, sink: ListSink) -> None:
    h = HandTracer()
    with h.tracer.start_as_current_span("GET /health"):
        h.foreign("db", {"db.system": "sqlite"})
        h.foreign("cache", {"db.system": "redis"})
    exporter.export(by_root_last(h.spans()))
    stats = exporter.stats
    assert (stats.unrelated_spans, stats.pending_traces, stats.pending_spans, len(sink)) == (3, 0, 0, 0)
    assert dict(stats.unrelated_by_reason) == {"no_agent_or_model_span": 3}


def test_a_model_call_under_no_agent_is_a_trajectory_of_its_trace(exporter: TrajectoryExporter, sink: ListSink) -> None:
    h = HandTracer()
    with h.tracer.start_as_current_span("GET /ask"):
        h.foreign("db", {"db.system": "sqlite"})
        h.foreign("chat", chat("m", 1, 1))
    exporter.export(by_root_last(h.spans()))
    stats = exporter.stats
    assert (stats.unrelated_spans, stats.framework_trajectories, stats.pending_spans) == (0, 1, 0)
    (got,) = sink
    assert [s.action for s in got.steps] == ["chat m"]
    assert got.metadata.attributes["trajectory.name"] == "GET /ask"


def test_concurrent_threads_each_trajectory_once(exporter: TrajectoryExporter, sink: ListSink) -> None:
    provider = provider_with(SimpleSpanProcessor(exporter))
    results: list[object] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for i in range(20):
            t = run_agent(provider, f"w{k}-{i}", n_steps=2)
            with lock:
                results.append(t.result)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(sink) == 120 == len(results)
    by_id = {t.id: t for t in sink}
    assert all(by_id[r.id] == r for r in results)  # type: ignore[attr-defined]


def test_bad_arguments_raise_at_construction(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="sinks\\[0\\]"):
        TrajectoryExporter([42])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="max_age"):
        TrajectoryExporter(max_age=0)
    with pytest.raises(ValueError, match="max_pending_traces"):
        TrajectoryExporter(max_pending_traces=0)
    with pytest.raises(TypeError, match="dead_letter_path"):
        TrajectoryExporter(dead_letter_path=3)  # type: ignore[arg-type]


def test_export_survives_garbage_spans(exporter: TrajectoryExporter, sink: ListSink) -> None:
    class Broken(ReadableSpan):
        @property
        def context(self) -> None:
            raise RuntimeError("boom")

    assert exporter.export([Broken(name="x")]) is SpanExportResult.SUCCESS
    assert exporter.stats.internal_errors == 1
    h = HandTracer()
    with h.root("fine") as (_, tid), h.step(tid, 0, "a", **{A.STEP_CONFIDENCE: "high", A.STEP_INDEX: "zero"}):
        pass
    exporter.export(h.spans())
    assert len(sink) == 1
    assert sink[0].steps[0].confidence == 1.0


def test_a_foreign_span_under_an_emitted_step_is_late(exporter: TrajectoryExporter, sink: ListSink) -> None:
    h = HandTracer()
    with h.root("r") as (_, tid), h.step(tid, 0, "s"):
        h.foreign("chat", chat("m", 1, 1))
    chat_span, step_span, root = h.spans()
    exporter.export([step_span, root])
    exporter.export([chat_span])
    assert exporter.stats.late_spans == 1
    assert sink[0].metadata.total_input_tokens == 0
    assert exporter.stats.pending_spans == 0


def test_neutral_records_and_remote_parents(exporter: TrajectoryExporter, sink: ListSink) -> None:
    from trajectories.export import SpanRecord

    exporter.export_records(
        [
            SpanRecord(9, 3, 2, "http", 0, 1, {}),  # waits for its parent...
            SpanRecord(9, 2, 1, "chat", 0, 1, chat("m", 1, 1), parent_is_remote=True),  # ...whose parent is in another process
            SpanRecord(9, 4, 5, "step", 0, 1_000_000, {A.TRAJECTORY_ID: 77, A.STEP_INDEX: 0}),
            SpanRecord(9, 5, None, "invoke_agent", 0, 2_000_000, {A.GEN_AI_OPERATION_NAME: "invoke_agent", A.TRAJECTORY_ID: 77}),
        ]
    )
    # the remote part (a model call in another process, and a span under it) is a trajectory of its
    # own at once, without waiting for expiry; it never folds into the caller's
    assert (exporter.stats.unrelated_spans, exporter.stats.framework_trajectories) == (0, 1)
    assert exporter.stats.pending_spans == 0
    remote, got = sorted(sink, key=lambda t: int(t.id) != 2)
    assert [s.action for s in remote.steps] == ["chat m"]
    assert got.id == 77
    assert [s.latency_ms for s in got.steps] == [1]


def _recorded(n_steps: int = 3) -> tuple[TrajectoryHandle, list[ReadableSpan]]:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    handle = run_agent(provider_with(SimpleSpanProcessor(memory)), "agent", n_steps=n_steps)
    return handle, list(memory.get_finished_spans())


def test_steps_arriving_after_their_root_are_waited_for(exporter: TrajectoryExporter, sink: ListSink) -> None:
    handle, spans = _recorded()
    root = spans[-1]
    assert root.attributes is not None
    assert root.attributes[A.TRAJECTORY_STEP_COUNT] == 6
    exporter.export([root])  # the root first, as a collector's retry may deliver it
    exporter.force_flush()
    assert len(sink) == 0  # not complete: its root counts six steps
    for span in reversed(spans[:-1]):
        exporter.export([span])
    (got,) = sink
    assert got == handle.result
    stats = exporter.stats
    assert (stats.late_spans, stats.incomplete, stats.pending_spans) == (0, 0, 0)


def test_a_step_that_never_arrives_is_flagged_not_silently_short(sink: ListSink, tmp_path: Path) -> None:
    clock = FakeClock()
    exporter = TrajectoryExporter([sink], dead_letter_path=tmp_path / "dead.jsonl", max_age=10, clock=clock)
    handle, spans = _recorded()
    lost = spans[1]  # a step span the batch processor dropped, say
    exporter.export([s for s in spans if s is not lost])
    exporter.force_flush()
    assert len(sink) == 0  # a flush does not send it half done
    clock.now += 11
    exporter.force_flush()  # expired: emitted with what arrived, and flagged
    (got,) = sink
    assert handle.result is not None
    assert len(got.steps) == len(handle.result.steps) - 1
    assert got.verdict == handle.result.verdict
    assert got.metadata.attributes[A.TRAJECTORY_INCOMPLETE_ATTRIBUTE] == "true"
    assert got.metadata.attributes[A.TRAJECTORY_MISSING_STEPS_ATTRIBUTE] == "1"
    assert exporter.stats.incomplete == 1
    exporter.shutdown()
    assert len(sink) == 1


def test_shutdown_flags_a_rooted_trajectory_missing_steps(exporter: TrajectoryExporter, sink: ListSink) -> None:
    _, spans = _recorded(n_steps=2)
    exporter.export(spans[-1:])
    exporter.shutdown()
    (got,) = sink
    assert got.steps == ()
    assert got.metadata.attributes[A.TRAJECTORY_MISSING_STEPS_ATTRIBUTE] == "4"
    assert exporter.stats.incomplete == 1
    assert (exporter.stats.missing_roots, exporter.stats.missing_steps) == (0, 4)


def test_incomplete_trajectories_are_counted_by_kind_and_logged(
    sink: ListSink, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The spans a batch processor drops never reach the exporter; what it sees is the evidence:
    a root short of steps, steps without a root. Both are counted and logged, never silent."""
    exporter = TrajectoryExporter([sink], dead_letter_path=tmp_path / "dead.jsonl")
    _, first = _recorded(n_steps=2)
    _, second = _recorded(n_steps=2)
    exporter.export(first[-1:])  # only the root: 4 steps missing
    exporter.export(second[:1])  # only a step: no root
    with caplog.at_level(logging.WARNING, logger="trajectories"):
        exporter.shutdown()
    stats = exporter.stats
    assert (stats.incomplete, stats.missing_roots, stats.missing_steps) == (2, 1, 4)
    (message,) = [r.getMessage() for r in caplog.records if r.name.startswith("trajectories")]
    assert "2 trajectories emitted incomplete (1 without their root span, 4 step spans missing)" in message
    # A bare exporter has no queue in front of it to blame (configure()'s says so: tests/setup).
    assert "max_queue_size" not in message


def test_complete_trajectories_log_nothing(
    exporter: TrajectoryExporter, sink: ListSink, caplog: pytest.LogCaptureFixture
) -> None:
    _, spans = _recorded(n_steps=2)
    with caplog.at_level(logging.DEBUG, logger="trajectories"):
        exporter.export(spans)
        exporter.shutdown()
    assert len(sink) == 1
    assert caplog.records == []
    assert (exporter.stats.incomplete, exporter.stats.missing_roots, exporter.stats.missing_steps) == (0, 0, 0)
