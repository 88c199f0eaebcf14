"""tests/frameworks: the real frameworks, offline (make frameworks installs them into .venv-frameworks).

One SDK TracerProvider for the session, since the frameworks' instrumentation is global:
``spans`` clears its in-memory exporter before each test and hands it over.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.frameworks import scenarios


@pytest.fixture(scope="session")
def provider_and_exporter() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    scenarios.install(provider)
    return provider, exporter


@pytest.fixture
def spans(provider_and_exporter: tuple[TracerProvider, InMemorySpanExporter]) -> Iterator[InMemorySpanExporter]:
    _, exporter = provider_and_exporter
    exporter.clear()
    yield exporter
    exporter.clear()
