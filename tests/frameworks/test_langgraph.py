"""Live runs of LangGraph (openinference-instrumentation-langchain, langchain-core's fake chat model)."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.frameworks._live import run_and_check


def test_two_tool_calls(spans: InMemorySpanExporter) -> None:
    t = run_and_check(spans, "langgraph", "two_tools")
    assert t.verdict.is_success


def test_a_tool_that_raises(spans: InMemorySpanExporter) -> None:
    t = run_and_check(spans, "langgraph", "tool_raises")
    assert any(s.outcome.is_failure for s in t.steps)
