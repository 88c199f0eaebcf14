"""configure(): provider handling, sinks, OTLP (real OTLP/HTTP exporter to a local server), flush at exit."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.helpers.export import fresh_global_provider
from tests.helpers.paths import ROOT
from trajectories._internal.model.serde.jsonl import read_jsonl
from trajectories._internal.settings import settings
from trajectories.config import TrajectorySpanProcessor, configure, current_configuration
from trajectories.export import ListSink
from trajectories.instrument import step, trajectory

SRC = str(ROOT / "src")


@pytest.fixture
def fresh() -> Iterator[None]:
    with fresh_global_provider():
        yield


def run_agent(name: str = "agent") -> None:
    with trajectory(name, query="what?"), step("a"):
        pass


def test_creates_and_installs_a_provider_when_none_is_set(fresh: None, tmp_path: Path) -> None:
    sink = ListSink()
    config = configure("svc", sinks=[sink], jsonl_path=tmp_path / "t.jsonl", dead_letter_path=tmp_path / "d")
    assert config.created_provider
    provider = trace.get_tracer_provider()
    assert provider is config.tracer_provider
    assert isinstance(provider, TracerProvider)
    assert provider.resource.attributes["service.name"] == "svc"
    assert isinstance(config.processor, TrajectorySpanProcessor)
    assert config.otlp_processor is None
    run_agent()
    assert len(sink) == 0  # batched: not yet exported
    assert config.flush()
    assert len(sink) == 1
    assert list(read_jsonl(tmp_path / "t.jsonl")) == sink.trajectories
    assert current_configuration() is config
    config.shutdown()
    assert current_configuration() is None


def test_adds_to_the_applications_provider_and_never_replaces_it(fresh: None, tmp_path: Path) -> None:
    app_provider = TracerProvider()
    trace.set_tracer_provider(app_provider)
    sink = ListSink()
    config = configure("ignored", sinks=[sink], batch=False, dead_letter_path=tmp_path / "d")
    assert config.tracer_provider is app_provider
    assert trace.get_tracer_provider() is app_provider
    assert not config.created_provider
    assert isinstance(config.processor, SimpleSpanProcessor)
    run_agent()
    assert len(sink) == 1
    own = TracerProvider()
    second = configure(tracer_provider=own, sinks=[sink], batch=False, dead_letter_path=tmp_path / "d")
    assert second.tracer_provider is own
    assert current_configuration() is second  # the first was shut down
    run_agent()  # through the global (app) provider: the first configuration no longer delivers
    assert len(sink) == 1


def test_settings_and_bad_arguments(fresh: None, tmp_path: Path) -> None:
    def embed(text: str) -> np.ndarray:
        return np.ones(4, dtype=np.float32)

    configure(capture_embeddings=False, embedder=embed, batch=False, dead_letter_path=tmp_path / "d")
    assert settings.capture_embeddings is False
    assert settings.embedder is embed
    with pytest.raises(TypeError, match="service_name"):
        configure(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tracer_provider"):
        configure(tracer_provider=trace.NoOpTracerProvider())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"sinks\[0\]"):
        configure(sinks=[1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="batch"):
        configure(batch="yes")  # type: ignore[arg-type]


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).received.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.received.clear()
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _span_names() -> list[str]:
    names = []
    for path, body in _Collector.received:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        names += [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    return names


def test_otlp_endpoint_sends_every_span_to_a_collector(fresh: None, collector: str, tmp_path: Path) -> None:
    sink = ListSink()
    config = configure("svc", sinks=[sink], otlp_endpoint=collector, dead_letter_path=tmp_path / "d")
    run_agent("otlp-agent")
    assert config.flush()
    assert sorted(_span_names()) == ["a", "invoke_agent otlp-agent"]
    assert len(sink) == 1


def test_otlp_from_the_standard_environment(fresh: None, collector: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
    config = configure("svc", dead_letter_path=tmp_path / "d")
    assert config.otlp_processor is not None
    run_agent("env-agent")
    config.flush()
    assert "invoke_agent env-agent" in _span_names()
    config.shutdown()
    assert configure(otlp=False, dead_letter_path=tmp_path / "d").otlp_processor is None


def test_flush_at_exit_runs_before_the_provider_shuts_down(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    script = textwrap.dedent(
        f"""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from trajectories.config import configure
        from trajectories.instrument import step, trajectory

        # The application's provider never shuts down at exit: only our flush can deliver.
        trace.set_tracer_provider(TracerProvider(shutdown_on_exit=False))
        configure("exit-test", jsonl_path={str(out)!r}, dead_letter_path={str(tmp_path / "d")!r})
        with trajectory("at-exit"):
            with step("a"):
                pass
        print("done")
        """
    )
    env = {"PYTHONPATH": SRC, "TRAJECTORIES_DB": str(tmp_path / "t.db"), "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    (got,) = read_jsonl(out)
    assert got.metadata.attributes["trajectory.name"] == "at-exit"


def test_flush_also_retries_failed_deliveries(fresh: None, tmp_path: Path) -> None:
    calls: list[int] = []

    def flaky(t: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk full")

    config = configure(sinks=[flaky], dead_letter_path=tmp_path / "d")
    run_agent()
    config.flush()  # the batch processor exports (first attempt fails), then the exporter's flush retries
    assert len(calls) == 2
    assert config.exporter.stats.retries_pending == 0
    assert config.exporter.stats.sink_failures == 1
    config.flush()
    assert len(calls) == 2
    assert config.exporter.stats.dead_lettered == 0


def test_spans_a_full_queue_drops_are_counted_and_logged(fresh: None, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The batch processor drops spans its full queue cannot hold; the exporter never sees them,
    so configure()'s processor counts them, even for trajectories that lost every span."""
    release = threading.Event()
    first = threading.Event()
    delivered: list[object] = []

    def blocking_sink(t: object) -> None:  # the worker thread is stuck here: the queue fills
        first.set()
        release.wait(30)
        delivered.append(t)

    config = configure(sinks=[blocking_sink], store=False, max_queue_size=8, dead_letter_path=tmp_path / "d")
    assert isinstance(config.processor, TrajectorySpanProcessor)
    for i in range(4):  # 8 spans, a full batch: the worker exports them and blocks in the sink
        run_agent(f"first{i}")
    assert first.wait(10)
    for i in range(50):  # 100 spans into a queue of 8 while the worker is stuck
        run_agent(f"a{i}")
    release.set()
    caplog.set_level("WARNING", logger="trajectories")
    assert config.flush()
    seen = config.exporter.stats.spans_seen
    produced = 2 * 54
    assert config.spans_dropped == produced - seen
    assert config.spans_dropped >= 100 - 8
    assert any("dropped" in r.getMessage() and "max_queue_size" in r.getMessage() for r in caplog.records)
    config.shutdown()
    assert len(delivered) == config.exporter.stats.trajectories_emitted >= 4  # what was seen is delivered, none twice


def test_max_queue_size(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = TracerProvider()
    config = configure(tracer_provider=provider, store=False)
    assert config.processor.max_queue_size == 16_384  # type: ignore[attr-defined]
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4096")  # OpenTelemetry's own setting is honoured
    config = configure(tracer_provider=provider, store=False)
    assert config.processor.max_queue_size == 4096  # type: ignore[attr-defined]
    config = configure(tracer_provider=provider, store=False, max_queue_size=100)
    assert config.processor.max_queue_size == 100  # type: ignore[attr-defined]
    assert config.spans_dropped == 0
    config.shutdown()
    with pytest.raises(ValueError, match="max_queue_size"):
        configure(tracer_provider=provider, store=False, max_queue_size=0)
    with pytest.raises(TypeError, match="max_queue_size"):
        configure(tracer_provider=provider, store=False, max_queue_size="big")  # type: ignore[arg-type]


def test_configure_again_resets_the_embedder(fresh: None, tmp_path: Path) -> None:
    from trajectories._internal.embedding import HashingEmbedder

    def mine(text: str) -> list[float]:
        return [1.0, 0.0]

    configure(embedder=mine, dead_letter_path=tmp_path / "d", store=False)
    assert settings.embedder is mine
    configure(dead_letter_path=tmp_path / "d", store=False)
    assert isinstance(settings.embedder, HashingEmbedder)


def test_a_configured_exporter_names_its_queue_when_trajectories_arrive_incomplete(
    fresh: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = configure(dead_letter_path=tmp_path / "d", store=False)
    with caplog.at_level(logging.WARNING, logger="trajectories"):
        with trajectory("short"):
            with step("a"):
                pass
            config.processor.force_flush()  # the step reaches the exporter; the root is still running
            config.exporter.shutdown()  # ... and never arrives
    (message,) = [r.getMessage() for r in caplog.records if "emitted incomplete" in r.getMessage()]
    assert message.startswith("1 trajectory emitted incomplete (1 without its root span, 0 step spans missing)")
    assert "max_queue_size" in message
