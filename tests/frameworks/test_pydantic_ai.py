"""Live runs of pydantic-ai (native GenAI semconv, `Agent.instrument_all()`, FunctionModel / TestModel)."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.frameworks._live import run_and_check


def test_two_tool_calls(spans: InMemorySpanExporter) -> None:
    t = run_and_check(spans, "pydantic_ai", "two_tools")
    assert t.verdict.is_success


def test_a_tool_that_raises(spans: InMemorySpanExporter) -> None:
    t = run_and_check(spans, "pydantic_ai", "tool_raises")
    assert any(s.outcome.is_failure for s in t.steps)


def test_delegation(spans: InMemorySpanExporter) -> None:
    """An agent called inside a tool (pydantic-ai's agent delegation): one trajectory, the nested agent's calls in it."""
    t = run_and_check(spans, "pydantic_ai", "delegation")
    assert len(t.metadata.models_used) == 2
