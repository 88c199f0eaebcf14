"""A real trajectory's spans, and an evaluator's span in the same trace made after it (late verdicts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from trajectories import attributes as A
from trajectories.instrument import step, trajectory

THUMBS_DOWN = {
    A.GEN_AI_EVALUATION_NAME: "user_feedback",
    A.GEN_AI_EVALUATION_SCORE_LABEL: "thumbs_down",
    A.GEN_AI_EVALUATION_EXPLANATION: "the refund never arrived",
}


class Recorded:
    """A real trajectory's spans, and an evaluator's span in the same trace made afterwards."""

    def __init__(self) -> None:
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer("evaluator")

        @step(tool="refund", tracer_provider=self.provider)
        def refund() -> str:
            return "ok"

        with trajectory("support", tracer_provider=self.provider) as t:
            refund()
        assert t.result is not None
        self.result = t.result
        self.root = t.span.get_span_context()
        self.spans = list(self.memory.get_finished_spans())
        self.memory.clear()

    def evaluation(self, event: Mapping[str, Any] | None = None, *, remote: bool = False, name: str = "evaluate") -> ReadableSpan:
        parent = NonRecordingSpan(SpanContext(self.root.trace_id, self.root.span_id, is_remote=remote, trace_flags=TraceFlags(1)))
        with self.tracer.start_as_current_span(name, context=trace.set_span_in_context(parent)) as span:
            span.add_event(A.EVENT_EVALUATION_RESULT, dict(THUMBS_DOWN if event is None else event))
        [out] = self.memory.get_finished_spans()
        self.memory.clear()
        return out
