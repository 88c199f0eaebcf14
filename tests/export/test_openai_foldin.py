"""Spans we did not make: OpenTelemetry's own OpenAI instrumentation, driving the real openai client
against a local chat-completions server, folds its tokens and model into the enclosing step."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import openai
import pytest
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trajectories import attributes as A
from trajectories.export import ListSink, TrajectoryExporter
from trajectories.instrument import step, trajectory

USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


class _ChatCompletions(BaseHTTPRequestHandler):
    """Answers ``POST /v1/chat/completions`` like the API does, with fixed usage."""

    requests: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
        type(self).requests.append(body)
        payload = json.dumps(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": f"{body['model']}-2024-01-01",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "42"}, "finish_reason": "stop"}],
                "usage": USAGE,
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def chat_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _ChatCompletions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TracerProvider, ListSink, InMemorySpanExporter]]:
    sink = ListSink()
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(TrajectoryExporter([sink], dead_letter_path=tmp_path / "d")))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]
    instrumentor.instrument(tracer_provider=provider)
    yield provider, sink, memory
    instrumentor.uninstrument()
    provider.shutdown()


def test_openai_chat_spans_fold_into_the_step_and_the_totals(
    chat_server: str, setup: tuple[TracerProvider, ListSink, InMemorySpanExporter]
) -> None:
    provider, sink, memory = setup
    client = openai.OpenAI(base_url=chat_server, api_key="test-key", max_retries=0)

    @step(action="ask", rationale="the model knows")
    def ask(question: str) -> str:
        reply = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": question}])
        return reply.choices[0].message.content or ""

    with trajectory("qa", tracer_provider=provider) as t:
        assert ask("meaning of life?") == "42"
        assert ask("again?") == "42"
        with step("think"):
            pass
    assert len(_ChatCompletions.requests) >= 2

    chat_spans = [s for s in memory.get_finished_spans() if (s.attributes or {}).get(A.GEN_AI_OPERATION_NAME) == "chat"]
    assert len(chat_spans) == 2  # the instrumentation's own spans, children of our step spans
    assert all((s.attributes or {}).get(A.TRAJECTORY_ID) is None for s in chat_spans)

    (got,) = sink
    assert t.result is not None
    assert got.id == t.result.id
    assert [s.action for s in got.steps] == ["ask", "ask", "think"]
    for s in got.steps[:2]:
        assert s.metadata is not None
        assert (s.metadata.input_tokens, s.metadata.output_tokens, s.metadata.model) == (11, 7, "gpt-test")
    assert got.steps[2].metadata is None
    # The instrumentation (which never saw the chat spans) had no tokens; the exporter adds them.
    assert (t.result.metadata.total_input_tokens, t.result.metadata.total_output_tokens) == (0, 0)
    assert (got.metadata.total_input_tokens, got.metadata.total_output_tokens) == (22, 14)
    assert got.metadata.models_used == ("gpt-test",)
    assert got.quality == t.result.quality
    assert got.verdict == t.result.verdict
