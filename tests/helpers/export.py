"""Helpers for the exporter tests: spans made by hand with a real SDK tracer, in the §2 contract."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trajectories import attributes as A
from trajectories._internal.model.serde import to_dict
from trajectories.model import RootCause

ID_MASK = (1 << 63) - 1


class HandTracer:
    """Writes trajectory spans by hand (what another process or language would send)."""

    def __init__(self) -> None:
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer("hand")
        self.clock = 1_700_000_000_000_000_000

    def tick(self, ms: int = 10) -> int:
        self.clock += ms * 1_000_000
        return self.clock

    @contextmanager
    def root(self, name: str = "agent", *, verdict: Any = "success", **attrs: Any) -> Iterator[tuple[trace.Span, int]]:
        span = self.tracer.start_span(
            f"invoke_agent {name}",
            attributes={A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT, A.GEN_AI_AGENT_NAME: name},
            start_time=self.tick(),
        )
        tid = span.get_span_context().span_id & ID_MASK
        span.set_attribute(A.TRAJECTORY_ID, tid)
        with trace.use_span(span, end_on_exit=False):
            yield span, tid
        if verdict is not None:
            span.set_attribute(A.TRAJECTORY_VERDICT, verdict)
        span.set_attributes(attrs)
        span.end(end_time=self.tick())

    @contextmanager
    def step(self, tid: int, index: int, action: str, *, outcome: Any = "success", **attrs: Any) -> Iterator[trace.Span]:
        span = self.tracer.start_span(
            action,
            attributes={A.TRAJECTORY_ID: tid, A.STEP_INDEX: index, A.STEP_ACTION: action},
            start_time=self.tick(),
        )
        with trace.use_span(span, end_on_exit=False):
            yield span
        span.set_attributes({A.STEP_OUTCOME: outcome, A.STEP_RATIONALE: "", A.STEP_CONFIDENCE: 1.0, **attrs})
        span.end(end_time=self.tick())

    def foreign(self, name: str, attrs: Mapping[str, Any]) -> None:
        """A span we did not make (an instrumentation's ``chat`` span) under the current span."""
        span = self.tracer.start_span(name, attributes=dict(attrs), start_time=self.tick())
        span.end(end_time=self.tick())

    def spans(self) -> list[ReadableSpan]:
        return list(self.memory.get_finished_spans())


def chat(model: str, inp: int, out: int) -> dict[str, Any]:
    return {
        A.GEN_AI_OPERATION_NAME: "chat",
        A.GEN_AI_REQUEST_MODEL: model,
        A.GEN_AI_USAGE_INPUT_TOKENS: inp,
        A.GEN_AI_USAGE_OUTPUT_TOKENS: out,
    }


def cause_json(cause: RootCause) -> str:
    return json.dumps(to_dict(cause))


def by_root_last(spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    return sorted(spans, key=lambda s: (s.attributes or {}).get(A.GEN_AI_OPERATION_NAME) == A.OPERATION_INVOKE_AGENT)


@contextmanager
def fresh_global_provider() -> Iterator[None]:
    """Let a test install a global tracer provider, and put the previous state back afterwards."""
    from trajectories._internal.settings import settings
    from trajectories._internal.setup import configuration as setup

    saved = (trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE._done)
    saved_settings = (settings.capture_embeddings, settings.embedder)
    trace._TRACER_PROVIDER = None
    trace._TRACER_PROVIDER_SET_ONCE._done = False
    try:
        yield
    finally:
        current = setup.current_configuration()
        if current is not None:
            current.shutdown()
        installed = trace._TRACER_PROVIDER
        trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE._done = saved
        settings.capture_embeddings, settings.embedder = saved_settings
        if isinstance(installed, TracerProvider):
            installed.shutdown()
