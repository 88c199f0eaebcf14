"""Shared fixtures. Async tests run under asyncio and trio via anyio's own pytest plugin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trajectories import step, trajectory


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(span_exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """A real SDK provider exporting synchronously to memory; pass it as ``tracer_provider=``."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def search_spans(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> list[Any]:
    """The finished spans of one valid trajectory with one tool step: a request body the receiver accepts."""

    @step(tool="search")
    def search(q: str) -> str:
        return q

    with trajectory("agent", query="q", tracer_provider=tracer_provider):
        search("x")
    return list(span_exporter.get_finished_spans())


@pytest.fixture(autouse=True)
def _isolated_database(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """``configure()`` and the CLI default to ``$TRAJECTORIES_DB``: never let a test touch ./trajectories.db."""
    monkeypatch.setenv("TRAJECTORIES_DB", str(tmp_path_factory.mktemp("db") / "trajectories.db"))
