"""Live runs of the OpenAI Agents SDK (openinference-instrumentation-openai-agents, a canned `Model`)."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.frameworks._live import run_and_check


def test_two_tool_calls(spans: InMemorySpanExporter) -> None:
    t = run_and_check(spans, "openai_agents", "two_tools")
    assert t.verdict.is_success


def test_a_tool_that_raises(spans: InMemorySpanExporter) -> None:
    t = run_and_check(spans, "openai_agents", "tool_raises")
    assert any(s.outcome.is_failure for s in t.steps)


def test_handoff(spans: InMemorySpanExporter) -> None:
    """A handoff from one agent to another: one trajectory, the nested agent's calls in it."""
    t = run_and_check(spans, "openai_agents", "handoff")
    assert len(t.metadata.models_used) == 2
