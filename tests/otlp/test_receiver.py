"""The OTLP/HTTP receiver answers as the specification says and keeps serving after bad input."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.helpers.otlp import json_body, protobuf_body
from trajectories._internal.otlp.receiver import ReceiverStats, create_app
from trajectories._internal.otlp.server import running_in_thread
from trajectories._internal.records import SpanRecord

TOKEN = "s3cret-token"


class Received:
    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []
        self.shutdowns = 0

    def __call__(self, spans: list[SpanRecord]) -> None:
        self.spans.extend(spans)


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def stats() -> ReceiverStats:
    return ReceiverStats()


@pytest.fixture
def url(received: Received, stats: ReceiverStats) -> Iterator[str]:
    def on_shutdown() -> None:
        received.shutdowns += 1

    app = create_app(received, max_body=64 * 1024, stats=stats, on_shutdown=on_shutdown)
    with running_in_thread(app) as base:
        yield base
    assert received.shutdowns == 1  # the app's shutdown hook ran when the server stopped


def post(url: str, body: bytes, content_type: str, **headers: str) -> tuple[int, bytes, str]:
    request = urllib.request.Request(url + "/v1/traces", data=body, method="POST")
    request.add_header("Content-Type", content_type)
    for key, value in headers.items():
        request.add_header(key.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers.get("content-type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("content-type", "")


def _two_spans(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> list:  # type: ignore[type-arg]
    tracer = tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("root", attributes={"trajectory.id": 7}), tracer.start_as_current_span("child"):
        pass
    return list(span_exporter.get_finished_spans())


def test_protobuf_gets_an_empty_protobuf_response(
    url: str, received: Received, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    status, body, ctype = post(url, protobuf_body(_two_spans(tracer_provider, span_exporter)), "application/x-protobuf")
    assert status == 200
    assert ctype.startswith("application/x-protobuf")
    response = ExportTraceServiceResponse.FromString(body)
    assert not response.HasField("partial_success")
    assert sorted(s.name for s in received.spans) == ["child", "root"]


def test_gzip_json_is_accepted(
    url: str, received: Received, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    body = gzip.compress(json_body(_two_spans(tracer_provider, span_exporter)))
    status, answer, ctype = post(url, body, "application/json; charset=utf-8", Content_Encoding="gzip")
    assert (status, json.loads(answer)) == (200, {})
    assert ctype.startswith("application/json")
    assert len(received.spans) == 2


def test_partial_success_counts_rejected_spans(url: str, received: Received) -> None:
    document = {
        "resourceSpans": [
            {"scopeSpans": [{"spans": [{"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "ok"}, {"traceId": "nothex"}]}]}
        ]
    }
    status, answer, _ = post(url, json.dumps(document).encode(), "application/json")
    assert status == 200
    partial = json.loads(answer)["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "traceId" in partial["errorMessage"]
    assert [s.name for s in received.spans] == ["ok"]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"\xff\x00garbage", "application/x-protobuf", 400),
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"hello", "text/plain", 415),
        (b"x" * (64 * 1024 + 1), "application/x-protobuf", 413),
    ],
)
def test_bad_bodies_get_4xx_and_the_server_keeps_serving(
    url: str, received: Received, stats: ReceiverStats, body: bytes, content_type: str, expected: int
) -> None:
    status, _, _ = post(url, body, content_type)
    assert status == expected
    status, _, _ = post(url, b"{}", "application/json")
    assert status == 200
    assert stats.by_status[expected] == 1


def test_gzip_bomb_is_413_not_memory(url: str, stats: ReceiverStats) -> None:
    bomb = gzip.compress(b"\x00" * (8 * 1024 * 1024))  # 8 MiB inflated from a few KiB
    assert len(bomb) < 64 * 1024
    status, _, _ = post(url, bomb, "application/x-protobuf", Content_Encoding="gzip")
    assert status == 413
    assert stats.too_large == 1


def test_invalid_gzip_is_400(url: str) -> None:
    status, _, _ = post(url, b"not gzip at all", "application/x-protobuf", Content_Encoding="gzip")
    assert status == 400


def test_burst_of_malformed_and_oversized_bodies(url: str, received: Received, stats: ReceiverStats) -> None:
    for i in range(60):
        body = os.urandom(64 * 1024 + 10) if i % 3 == 0 else os.urandom(200 + i)
        status, _, _ = post(url, body, "application/x-protobuf")
        assert status in (400, 413)
    status, _, _ = post(url, b"{}", "application/json")
    assert status == 200
    assert stats.requests == 61


def test_bearer_token_is_required_when_configured(received: Received) -> None:
    app = create_app(received, token=TOKEN)
    with running_in_thread(app) as base:
        assert post(base, b"{}", "application/json")[0] == 401
        assert post(base, b"{}", "application/json", Authorization="Bearer wrong")[0] == 401
        assert post(base, b"{}", "application/json", Authorization=f"Bearer {TOKEN}")[0] == 200


def test_real_sdk_otlp_exporter_from_another_process(url: str, received: Received) -> None:
    script = textwrap.dedent(
        f"""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint="{url}/v1/traces", compression=None)))
        tracer = provider.get_tracer("client")
        for i in range(25):
            with tracer.start_as_current_span(f"root-{{i}}", attributes={{"trajectory.id": i + 1}}):
                with tracer.start_as_current_span("step", attributes={{"trajectory.step.index": 0}}):
                    pass
        provider.shutdown()
        """
    )
    env = dict(os.environ, OTEL_EXPORTER_OTLP_COMPRESSION="gzip")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60, env=env)
    assert len(received.spans) == 50
    roots = sorted(s.attributes["trajectory.id"] for s in received.spans if s.name.startswith("root-"))
    assert roots == list(range(1, 26))


def test_receiver_app_as_a_library_call(search_spans: list[Any], tmp_path: Path) -> None:
    """``trajectories.export.receiver_app``: what ``serve`` runs, usable from Python; /health shows
    the exporter's figures, and stopping the server delivers and reports the final statistics."""
    import httpx

    from trajectories.export import ExporterStats, ListSink, TrajectoryExporter, receiver_app

    sink = ListSink()
    exporter = TrajectoryExporter([sink], dead_letter_path=tmp_path / "dead.jsonl")
    final: list[ExporterStats] = []
    app = receiver_app(exporter, on_stop=final.append)
    with running_in_thread(app) as url:
        r = httpx.post(
            f"{url}/v1/traces", content=protobuf_body(search_spans), headers={"content-type": "application/x-protobuf"}
        )
        assert r.status_code == 200
        health = httpx.get(f"{url}/health").json()
    assert health["spans_accepted"] == len(search_spans)
    assert health["trajectories"] == 1
    assert len(sink) == 1
    assert [s.action for s in sink[0].steps] == ["search"]
    assert len(final) == 1
    assert final[0].trajectories_emitted == 1
