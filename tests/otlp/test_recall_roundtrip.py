"""What a run recalled and what it was asked survive every path: the in-process exporter, OTLP to
``serve`` (protobuf and JSON), JSON lines, ruvllm's JSON, and the store; and the request text
(``query=``) is stored only with content capture on, redacted and cut like other content."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.helpers.otlp import json_body, protobuf_body
from trajectories import attributes as A
from trajectories._internal.instrument.recall import record_recall
from trajectories._internal.model.recall import (
    QUERY_ATTRIBUTE,
    RECALLED_ATTRIBUTE,
    RecalledMemory,
    encode_recalled,
    lesson_id,
    recalled_of,
)
from trajectories._internal.otlp.server import running_in_thread
from trajectories._internal.settings import settings
from trajectories.export import ListSink, TrajectoryExporter, receiver_app
from trajectories.instrument import step, trajectory
from trajectories.model import Trajectory, read_jsonl, write_jsonl
from trajectories.store import SQLiteTrajectoryStore, StoreSink

MEMORIES = [
    RecalledMemory("trajectory", 42, 0.875),
    RecalledMemory(
        "lesson", lesson_id("Avoid: 'web' failed — ünïcode \u2028 too"), 0.5, "Avoid: 'web' failed — ünïcode \u2028 too"
    ),
    RecalledMemory("trajectory", (1 << 64) - 1, 0.125),  # a u64 id from imported ruvllm JSON
]
QUERY = 'Where is my order #123? "urgent"\nBearer abcdefgh12345678'


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "capture_content", True)


def _run(tmp_path: Path) -> tuple[Trajectory, list[ReadableSpan], Trajectory]:
    """One trajectory that recalled, its spans, and what the in-process exporter assembled."""
    memory = InMemorySpanExporter()
    sink = ListSink()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(SimpleSpanProcessor(TrajectoryExporter([sink], dead_letter_path=tmp_path / "d.jsonl")))

    @step(action="answer")
    def answer() -> None:
        record_recall(query_source="text", k=3, filters={}, memories=MEMORIES[1:], rank="similarity")

    with trajectory("support", query=QUERY, tracer_provider=provider) as t:
        record_recall(query_source="text", k=3, filters={}, memories=MEMORIES[:1], rank="similarity")
        answer()
    assert t.result is not None
    provider.shutdown()
    [exported] = sink.trajectories
    return t.result, list(memory.get_finished_spans()), exported


def _via_serve(spans: list[ReadableSpan], body: bytes, content_type: str, tmp_path: Path) -> Trajectory:
    store = SQLiteTrajectoryStore(tmp_path / f"serve-{content_type.split('/')[-1]}.db")
    exporter = TrajectoryExporter([StoreSink(store)], dead_letter_path=tmp_path / "dead.jsonl")
    with running_in_thread(receiver_app(exporter)) as url:
        r = httpx.post(f"{url}/v1/traces", content=body, headers={"content-type": content_type})
        assert r.status_code == 200
    [stored] = store.list()
    store.close()
    return stored


def test_recalled_and_query_survive_every_path(tmp_path: Path, capture: None) -> None:
    live, spans, exported = _run(tmp_path)
    expected = encode_recalled(MEMORIES)
    assert recalled_of(live.metadata.attributes) == tuple(MEMORIES)
    assert live.metadata.attributes[RECALLED_ATTRIBUTE] == expected
    assert live.metadata.attributes[QUERY_ATTRIBUTE] == 'Where is my order #123? "urgent"\nBearer [REDACTED]'
    paths = {
        "exporter": exported,
        "serve protobuf": _via_serve(spans, protobuf_body(spans), "application/x-protobuf", tmp_path),
        "serve json": _via_serve(spans, json_body(spans), "application/json", tmp_path),
        "ruvllm json": Trajectory.from_json(exported.to_json()),
    }
    buffer = io.StringIO()
    write_jsonl(buffer, [exported])
    buffer.seek(0)
    [paths["json lines"]] = list(read_jsonl(buffer))
    for path, t in paths.items():
        assert t.metadata.attributes[RECALLED_ATTRIBUTE] == expected, path
        assert t.metadata.attributes[QUERY_ATTRIBUTE] == live.metadata.attributes[QUERY_ATTRIBUTE], path
        assert [s.action for s in t.steps] == ["answer"], path
        assert t.metadata.attributes == live.metadata.attributes, path


def test_without_content_capture_the_query_is_never_stored(tmp_path: Path) -> None:
    assert settings.capture_content is False
    live, spans, exported = _run(tmp_path)
    for t in (live, exported):
        assert QUERY_ATTRIBUTE not in t.metadata.attributes
        assert recalled_of(t.metadata.attributes) == tuple(MEMORIES)  # what was recalled is no content
    assert not any(QUERY in str(dict(s.attributes or {})) for s in spans)
    assert not any("order #123" in str(dict(s.attributes or {})) for s in spans)


def test_a_long_query_is_cut_to_the_content_limit(
    tracer_provider: TracerProvider, capture: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "max_content_length", 40)
    with trajectory("agent", query="x" * 1000, tracer_provider=tracer_provider) as t:
        pass
    assert t.result is not None
    text = t.result.metadata.attributes[QUERY_ATTRIBUTE]
    assert len(text) <= 40
    assert text.startswith("x" * 20)
    assert text.endswith("chars]")
    assert f"+{1000 - text.index('…')} chars" in text


def test_the_redact_hook_applies_and_a_failing_hook_stores_nothing(
    tracer_provider: TracerProvider, capture: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "redact", lambda value: value.replace("secret", "***"))
    with trajectory("agent", query="my secret plan", tracer_provider=tracer_provider) as t:
        pass
    assert t.result is not None
    assert t.result.metadata.attributes[QUERY_ATTRIBUTE] == "my *** plan"

    def broken(value: object) -> object:
        raise RuntimeError("no")

    monkeypatch.setattr(settings, "redact", broken)
    with trajectory("agent", query="my secret plan", tracer_provider=tracer_provider) as t2:
        pass
    assert t2.result is not None
    assert QUERY_ATTRIBUTE not in t2.result.metadata.attributes


def test_the_users_own_query_attribute_wins(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, capture: None
) -> None:
    with trajectory("agent", query="asked", attributes={"query": "mine"}, tracer_provider=tracer_provider) as t:
        pass
    assert t.result is not None
    assert t.result.metadata.attributes[QUERY_ATTRIBUTE] == "mine"
    [root] = span_exporter.get_finished_spans()
    assert root.attributes is not None
    assert root.attributes[A.TRAJECTORY_ATTRIBUTES_PREFIX + "query"] == "mine"
