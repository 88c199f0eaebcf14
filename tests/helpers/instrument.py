"""Helpers for the instrumentation tests: find recorded spans and read their attributes."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trajectories import attributes as A


def spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


def by_name(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [s for s in spans(exporter) if s.name == name]
    assert len(found) == 1, f"expected one span named {name!r}, got {[s.name for s in spans(exporter)]}"
    return found[0]


def roots(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in spans(exporter) if attr(s, A.GEN_AI_OPERATION_NAME) == A.OPERATION_INVOKE_AGENT]


def steps_of(exporter: InMemorySpanExporter, trajectory_id: int) -> list[ReadableSpan]:
    found = [s for s in spans(exporter) if attr(s, A.TRAJECTORY_ID) == trajectory_id and attr(s, A.STEP_INDEX) is not None]
    return sorted(found, key=lambda s: int(str(attr(s, A.STEP_INDEX))))


def attr(span: ReadableSpan, key: str) -> object:
    assert span.attributes is not None
    return span.attributes.get(key)


def names(items: Iterable[ReadableSpan]) -> list[str]:
    return [s.name for s in items]
