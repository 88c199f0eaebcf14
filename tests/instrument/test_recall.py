"""Recall is part of the trajectory: the ``search_memory`` span, and ``metadata.attributes["recalled"]``.

The span is a child of the current span with the query's source, k, filters, rank and what came
back; the trajectory that recalled carries every memory it was given, written once on its root
span; and the exporter never turns the recall span into a step (nor folds it into one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.helpers.export import fresh_global_provider
from tests.helpers.instrument import attr, by_name
from trajectories import attributes as A
from trajectories._internal.diagnostics import internal_errors
from trajectories._internal.instrument.recall import record_recall
from trajectories._internal.model.recall import RECALLED_ATTRIBUTE, RecalledMemory, encode_recalled, lesson_id, recalled_of
from trajectories._internal.settings import settings
from trajectories.config import configure
from trajectories.export import ListSink, TrajectoryExporter
from trajectories.instrument import step, trajectory
from trajectories.model import Trajectory

PAST = RecalledMemory("trajectory", 1234567, 0.91)
LESSON = RecalledMemory("lesson", lesson_id("Search before answering"), 0.75, "Search before answering")
BIG = RecalledMemory("trajectory", (1 << 64) - 1, 0.5)  # an imported ruvllm id: does not fit OTLP's int64


def _recall(memories: list[RecalledMemory], **extra: Any) -> None:
    record_recall(
        query_source=extra.pop("query_source", "text"),
        k=extra.pop("k", 5),
        filters=extra.pop("filters", {"min_quality": 0.5, "verdict": "success"}),
        memories=memories,
        rank=extra.pop("rank", "similarity"),
        **extra,
    )


@pytest.fixture
def content_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "capture_content", True)


def test_the_span_is_a_child_of_the_current_step_with_what_came_back(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    @step(action="think")
    def think() -> None:
        _recall([PAST, LESSON, BIG], query="how do I reset a password?", start_ns=1)

    with trajectory("agent", tracer_provider=tracer_provider) as t:
        think()
    span = by_name(span_exporter, A.OPERATION_SEARCH_MEMORY)
    parent = by_name(span_exporter, "think")
    assert span.parent is not None
    assert span.parent.span_id == parent.context.span_id
    assert span.kind is trace.SpanKind.INTERNAL
    assert attr(span, A.GEN_AI_OPERATION_NAME) == "search_memory"
    assert attr(span, A.TRAJECTORY_ID) == t.id_int
    assert attr(span, A.STEP_INDEX) is None  # never a step of its own
    assert attr(span, A.RECALL_QUERY_SOURCE) == "text"
    assert attr(span, A.RECALL_K) == 5
    assert attr(span, A.RECALL_RANK) == "similarity"
    assert attr(span, A.RECALL_FILTERS_PREFIX + "min_quality") == 0.5
    assert attr(span, A.RECALL_FILTERS_PREFIX + "verdict") == "success"
    assert attr(span, A.GEN_AI_MEMORY_RECORD_COUNT) == 3
    assert list(attr(span, A.RECALL_KINDS)) == ["trajectory", "lesson", "trajectory"]  # type: ignore[call-overload]
    assert list(attr(span, A.RECALL_IDS)) == [str(PAST.id), str(LESSON.id), str((1 << 64) - 1)]  # type: ignore[call-overload]
    assert list(attr(span, A.RECALL_SIMILARITIES)) == [0.91, 0.75, 0.5]  # type: ignore[call-overload]
    assert span.start_time == 1 < span.end_time  # type: ignore[operator]
    # content capture is off: neither the query nor the records' content
    assert attr(span, A.GEN_AI_MEMORY_QUERY_TEXT) is None
    assert attr(span, A.GEN_AI_MEMORY_RECORDS) is None
    assert t.result is not None
    assert recalled_of(t.result.metadata.attributes) == (PAST, LESSON, BIG)
    root = by_name(span_exporter, "invoke_agent agent")
    assert attr(root, A.TRAJECTORY_ATTRIBUTES_PREFIX + RECALLED_ATTRIBUTE) == encode_recalled([PAST, LESSON, BIG])


@pytest.mark.anyio
async def test_every_recall_of_a_run_is_kept_once_across_tasks(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    """Recalls in concurrent tasks of one trajectory all count; a memory recalled twice is listed
    once, with its best similarity."""
    again = RecalledMemory("trajectory", PAST.id, 0.95)

    async def worker(memories: list[RecalledMemory]) -> None:
        await anyio.lowlevel.checkpoint()
        _recall(memories)

    async with trajectory("agent", tracer_provider=tracer_provider) as t:
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker, [PAST])
            tg.start_soon(worker, [LESSON, again])
    assert t.result is not None
    got = {m.key: m for m in recalled_of(t.result.metadata.attributes)}
    assert got == {PAST.key: again, LESSON.key: LESSON}
    spans = [s for s in span_exporter.get_finished_spans() if s.name == "search_memory"]
    assert len(spans) == 2


def test_query_text_only_with_content_capture_and_redacted(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, content_capture: None
) -> None:
    with trajectory("agent", tracer_provider=tracer_provider):
        _recall([LESSON], query="reset my password, api_key=sk-12345678", rank="effect")
    span = by_name(span_exporter, "search_memory")
    assert attr(span, A.GEN_AI_MEMORY_QUERY_TEXT) == "reset my password, api_key=[REDACTED]"
    records = json.loads(str(attr(span, A.GEN_AI_MEMORY_RECORDS)))
    assert records == [
        {"content": "Search before answering", "id": f"lesson:{LESSON.id}", "score": 0.75, "metadata": {"kind": "lesson"}}
    ]
    assert attr(span, A.RECALL_RANK) == "effect"


def test_an_embedding_query_has_no_text(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, content_capture: None
) -> None:
    with trajectory("agent", tracer_provider=tracer_provider):
        _recall([], query_source="embedding", filters={})
    span = by_name(span_exporter, "search_memory")
    assert attr(span, A.RECALL_QUERY_SOURCE) == "embedding"
    assert attr(span, A.GEN_AI_MEMORY_QUERY_TEXT) is None
    assert attr(span, A.GEN_AI_MEMORY_RECORD_COUNT) == 0
    assert not [k for k in span.attributes or {} if k.startswith(A.RECALL_FILTERS_PREFIX)]


def test_outside_a_trajectory_the_span_is_written_and_nothing_is_credited(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", tracer_provider)
    _recall([PAST])
    span = by_name(span_exporter, "search_memory")
    assert attr(span, A.TRAJECTORY_ID) is None
    assert attr(span, A.RECALL_IDS) == (str(PAST.id),)
    with trajectory("later", tracer_provider=tracer_provider) as t:
        pass
    assert t.result is not None
    assert RECALLED_ATTRIBUTE not in t.result.metadata.attributes


def test_bad_input_never_raises_into_the_caller(tracer_provider: TracerProvider) -> None:
    before = internal_errors.value
    with trajectory("agent", tracer_provider=tracer_provider) as t:
        record_recall(query_source="text", k=5, filters={}, memories=[object()], rank="similarity")  # type: ignore[list-item]
    assert internal_errors.value == before + 1
    assert t.result is not None
    assert RECALLED_ATTRIBUTE not in t.result.metadata.attributes


# --------------------------------------------------------------------------- through the exporter


def _pipeline(tmp_path: Path) -> tuple[TracerProvider, TrajectoryExporter, ListSink]:
    sink = ListSink()
    exporter = TrajectoryExporter([sink], dead_letter_path=tmp_path / "dead.jsonl")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter, sink


def _agent(provider: TracerProvider, recall: bool) -> Trajectory:
    @step(tool="search")
    def search() -> None:
        if recall:
            _recall([PAST])

    with trajectory("agent", tracer_provider=provider) as t:
        if recall:
            _recall([LESSON])
        search()
        t.add_tokens(3, 4)
    assert t.result is not None
    return t.result


def test_the_exporter_never_makes_the_recall_span_a_step(tmp_path: Path) -> None:
    provider, exporter, sink = _pipeline(tmp_path)
    plain = _agent(provider, recall=False)
    recalled = _agent(provider, recall=True)
    stored_plain, stored = sink.trajectories
    assert recalled_of(stored.metadata.attributes) == (LESSON, PAST)
    assert stored.metadata.attributes[RECALLED_ATTRIBUTE] == recalled.metadata.attributes[RECALLED_ATTRIBUTE]
    for live, out in ((plain, stored_plain), (recalled, stored)):
        assert [s.action for s in out.steps] == ["search"] == [s.action for s in live.steps]
        assert (out.metadata.total_input_tokens, out.metadata.total_output_tokens) == (3, 4)
        assert out.metadata.tools_invoked == ("search",)
    stats = exporter.stats
    assert (stats.late_spans, stats.unrelated_spans, stats.incomplete) == (0, 0, 0)
    provider.shutdown()


def test_in_a_framework_run_outside_any_trajectory_it_is_no_step(tmp_path: Path) -> None:
    """A recall under a framework's agent span (no SDK trajectory): the framework trajectory's
    steps are its model call only; a recall on its own is counted as no trajectory's, by reason."""
    provider, exporter, sink = _pipeline(tmp_path)
    tracer = provider.get_tracer("framework")
    with tracer.start_as_current_span("invoke_agent helper", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with trace.use_span(tracer.start_span("chat gpt", attributes={"gen_ai.operation.name": "chat"}), end_on_exit=True):
            pass
        monkey = trace.get_current_span()
        assert monkey.is_recording()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(trace, "_TRACER_PROVIDER", provider)
            _recall([PAST])
    assert [[s.action for s in t.steps] for t in sink.trajectories] == [["chat"]]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(trace, "_TRACER_PROVIDER", provider)
        _recall([PAST])  # no span above it at all
    assert len(sink) == 1
    assert exporter.stats.unrelated_by_reason == {"recall_outside_trajectory": 1}
    provider.shutdown()


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "simple"])
def test_the_live_result_agrees_with_the_stored_one_under_configure(tmp_path: Path, batch: bool) -> None:
    """The observer hands the live handle the framework spans of its trace: not the recall span."""
    sink = ListSink()
    with fresh_global_provider():
        config = configure(sinks=[sink], store=False, batch=batch, dead_letter_path=tmp_path / "d")
        tracer = trace.get_tracer("framework")
        with trajectory("agent") as t:
            _recall([PAST])
            with tracer.start_as_current_span("chat", attributes={"gen_ai.operation.name": "chat"}):
                _recall([LESSON])
        config.flush()
        assert t.result is not None
        [stored] = sink.trajectories
        assert [s.action for s in stored.steps] == [s.action for s in t.result.steps] == ["chat"]
        assert stored.metadata.attributes == t.result.metadata.attributes
        assert recalled_of(stored.metadata.attributes) == (PAST, LESSON)
        config.shutdown()
