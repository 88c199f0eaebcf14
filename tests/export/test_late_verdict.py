"""A ``gen_ai.evaluation.result`` that arrives after its trajectory becomes feedback in the store,
through the exporter's delivery: retried when the trajectory is not stored yet (then counted),
retried and dead-lettered when the store fails, counted by reason when it cannot be read."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.helpers.late import Recorded
from trajectories import attributes as A
from trajectories._internal.export.late import LateVerdict
from trajectories._internal.model.feedback import verdict_history
from trajectories.export import ListSink, TrajectoryExporter, record_from_span
from trajectories.instrument import step, trajectory
from trajectories.model import RootCause, Verdict
from trajectories.store import SQLiteTrajectoryStore, StoreSink


def _exporter(sinks: list[Any], tmp_path: Path, **kw: Any) -> TrajectoryExporter:
    return TrajectoryExporter(sinks, dead_letter_path=tmp_path / "dead.jsonl", **kw)


def _send(exporter: TrajectoryExporter, spans: list[ReadableSpan]) -> None:
    exporter.export_records([record_from_span(s) for s in spans])


def test_a_thumbs_down_after_the_answer_corrects_the_stored_verdict(tmp_path: Path) -> None:
    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    exporter = _exporter([StoreSink(store)], tmp_path)
    run = Recorded()
    _send(exporter, run.spans)
    assert store.get(run.result.id).verdict.is_success
    evaluation = run.evaluation()
    _send(exporter, [evaluation])
    stored = store.get(run.result.id)
    assert stored.verdict == Verdict.failure(RootCause.unknown("the refund never arrived"))
    assert stored.quality < run.result.quality
    [previous] = verdict_history(stored)
    assert previous["source"] == "evaluation:user_feedback"
    assert previous["verdict"] == "Success"
    stats = exporter.stats
    assert (stats.late_spans, stats.late_verdicts, stats.late_verdicts_applied) == (1, 1, 1)
    assert stats.sink_failures == 0
    # the same span again (a collector's retry): nothing moves
    _send(exporter, [evaluation])
    assert len(verdict_history(store.get(run.result.id))) == 1
    assert exporter.stats.late_verdicts == 1
    exporter.shutdown()
    store.close()


def test_an_evaluator_in_another_process_and_a_restarted_exporter(tmp_path: Path) -> None:
    """A span under a remote parent is the top of its process's part: read at once. After a
    restart the trace is unknown: the evaluation waits as no trajectory's, and is read when its
    trace is given up (here: at shutdown)."""
    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    first = _exporter([StoreSink(store)], tmp_path)
    run = Recorded()
    _send(first, run.spans)
    first.shutdown()
    restarted = _exporter([StoreSink(store)], tmp_path)
    _send(restarted, [run.evaluation({A.GEN_AI_EVALUATION_NAME: "judge", A.GEN_AI_EVALUATION_SCORE_VALUE: 0.5}, remote=True)])
    assert store.get(run.result.id).verdict == Verdict.partial(0.5)
    _send(restarted, [run.evaluation({A.GEN_AI_EVALUATION_NAME: "judge", A.GEN_AI_EVALUATION_SCORE_LABEL: "pass"})])
    assert store.get(run.result.id).verdict == Verdict.partial(0.5)  # waits: its root might still come
    assert restarted.stats.pending_spans == 1
    restarted.shutdown()
    stored = store.get(run.result.id)
    assert stored.verdict.is_success
    assert [h["source"] for h in verdict_history(stored)] == ["evaluation:judge", "evaluation:judge"]
    assert restarted.stats.late_verdicts_applied == 2
    assert restarted.stats.unrelated_spans == 2  # and counted as no trajectory's, as before
    store.close()


def test_a_trajectory_not_stored_is_retried_then_counted_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    exporter = _exporter([StoreSink(store)], tmp_path, retry_attempts=3)
    run = Recorded()  # its spans never reach this exporter
    with caplog.at_level(logging.WARNING, logger="trajectories"):
        _send(exporter, [run.evaluation(remote=True)])
        assert exporter.stats.retries_pending == 1
        assert exporter.force_flush() is False
        assert exporter.stats.late_verdicts_unmatched == 0
        assert exporter.force_flush() is True  # third and last attempt
    stats = exporter.stats
    assert (stats.late_verdicts, stats.late_verdicts_applied, stats.late_verdicts_unmatched) == (1, 0, 1)
    assert stats.sink_failures == 0  # a store that answers is not failing
    assert any("no such trajectory" in r.getMessage() for r in caplog.records)
    exporter.shutdown()
    store.close()


def test_a_verdict_for_a_trajectory_stored_on_a_retry_finds_it(tmp_path: Path) -> None:
    """The store fails while the trajectory and its late verdict arrive; on the next round the
    trajectory is delivered first, then its verdict."""
    path = tmp_path / "t.db"
    down = SQLiteTrajectoryStore(path)
    down.close()
    sink = StoreSink(down)
    exporter = _exporter([sink], tmp_path, retry_attempts=3)
    run = Recorded()
    _send(exporter, [*run.spans, run.evaluation()])
    assert exporter.stats.sink_failures == 2
    assert exporter.stats.retries_pending == 2
    sink.store = up = SQLiteTrajectoryStore(path)  # the store is back
    assert exporter.force_flush() is True
    assert up.get(run.result.id).verdict.kind == "failure"
    assert exporter.stats.late_verdicts_applied == 1
    exporter.shutdown()
    up.close()


def test_a_store_that_stays_down_dead_letters_the_verdict(tmp_path: Path) -> None:
    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    store.close()
    exporter = _exporter([StoreSink(store)], tmp_path, retry_attempts=2)
    run = Recorded()
    _send(exporter, [run.evaluation(remote=True)])
    exporter.force_flush()
    stats = exporter.stats
    assert stats.late_verdicts_dead_lettered == 1
    assert stats.sink_failures_by_sink["store"] == 2
    assert not (tmp_path / "dead.jsonl").exists()  # the trajectories' file stays trajectories only
    [line] = (tmp_path / "dead.feedback.jsonl").read_text(encoding="utf-8").splitlines()
    late = LateVerdict.from_dict(json.loads(line))
    assert late.uuid == run.result.uuid
    assert late.verdict == Verdict.failure(RootCause.unknown("the refund never arrived"))
    assert late.source == "evaluation:user_feedback"
    exporter.shutdown()


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({A.GEN_AI_EVALUATION_NAME: "x", A.GEN_AI_EVALUATION_SCORE_LABEL: "meh"}, "unknown_label"),
        ({A.GEN_AI_EVALUATION_NAME: "x", A.GEN_AI_EVALUATION_SCORE_VALUE: 7.0}, "score_out_of_range"),
        ({A.GEN_AI_EVALUATION_NAME: "x", A.GEN_AI_EVALUATION_SCORE_VALUE: "high"}, "score_not_a_number"),
        ({A.GEN_AI_EVALUATION_NAME: "x"}, "no_label_or_score"),
    ],
)
def test_evaluations_that_are_no_verdict_are_counted_by_reason(tmp_path: Path, event: dict[str, Any], reason: str) -> None:
    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    exporter = _exporter([StoreSink(store)], tmp_path)
    run = Recorded()
    _send(exporter, run.spans)
    _send(exporter, [run.evaluation(event)])
    assert dict(exporter.stats.evaluations_ignored_by_reason) == {reason: 1}
    assert exporter.stats.late_verdicts == 0
    assert store.get(run.result.id).verdict.is_success
    exporter.shutdown()
    store.close()


def test_without_a_store_readable_evaluations_are_counted_not_applied(tmp_path: Path) -> None:
    exporter = _exporter([ListSink()], tmp_path)
    run = Recorded()
    _send(exporter, [*run.spans, run.evaluation()])
    assert dict(exporter.stats.evaluations_ignored_by_reason) == {"no_feedback_sink": 1}
    assert exporter.stats.late_verdicts == 0
    exporter.shutdown()


def test_the_sdks_own_quality_event_and_in_run_evaluations_are_no_feedback(tmp_path: Path) -> None:
    """A re-sent root carries the SDK's own ``trajectory.quality`` event: it restates the verdict.
    An evaluation inside the run (its span arrives before the root) belongs to the run."""
    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    exporter = _exporter([StoreSink(store)], tmp_path)
    run = Recorded()
    inner = run.evaluation()  # a child of the root, arriving before it: part of the pending trajectory
    _send(exporter, [inner, *run.spans])
    _send(exporter, run.spans)  # every span again, the root with its quality event too
    stats = exporter.stats
    assert (stats.late_verdicts, dict(stats.evaluations_ignored_by_reason)) == (0, {})
    assert stats.late_spans == len(run.spans)
    assert store.get(run.result.id).verdict.is_success
    exporter.shutdown()
    store.close()


@pytest.mark.anyio
async def test_in_process_a_later_evaluation_reaches_the_store(tmp_path: Path) -> None:
    """The same through the in-process exporter: an async agent, then its evaluation, both on one provider."""
    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    exporter = _exporter([StoreSink(store)], tmp_path)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    @step(tracer_provider=provider)
    async def answer() -> str:
        await anyio.lowlevel.checkpoint()
        return "42"

    async with trajectory("agent", tracer_provider=provider) as t:
        await answer()
    tracer = provider.get_tracer("judge")
    await anyio.lowlevel.checkpoint()
    with tracer.start_as_current_span("judge", context=trace.set_span_in_context(t.span)) as span:
        span.add_event(A.EVENT_EVALUATION_RESULT, {A.GEN_AI_EVALUATION_NAME: "judge", A.GEN_AI_EVALUATION_SCORE_VALUE: 0.0})
    assert provider.force_flush()
    stored = store.get(t.id)
    assert stored.verdict.kind == "failure"
    assert verdict_history(stored)[-1]["source"] == "evaluation:judge"
    provider.shutdown()
    store.close()
