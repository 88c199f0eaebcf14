"""Framework spans inside ``trajectory()``: steps of their own when under no ``@step``, folded into
the step they are under, and ``t.result`` equal to the trajectory the exporter stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from tests.helpers.export import fresh_global_provider
from trajectories import attributes as A
from trajectories.config import configure
from trajectories.export import ListSink
from trajectories.instrument import current_trajectory, step, trajectory
from trajectories.model import StepOutcome, Trajectory


@pytest.fixture(params=[True, False], ids=["batch", "simple"])
def pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ListSink]:
    sink = ListSink()
    with fresh_global_provider():
        config = configure(sinks=[sink], store=False, batch=request.param, dead_letter_path=tmp_path / "d")
        yield sink
        config.shutdown()


def _llm(name: str, model: str, prompt: int, completion: int) -> dict[str, Any]:
    """An OpenInference LLM span's attributes (its token counts are not the GenAI names)."""
    return {
        "openinference.span.kind": "LLM",
        "llm.model_name": model,
        "llm.token_count.prompt": prompt,
        "llm.token_count.completion": completion,
    }


def _run() -> Trajectory:
    tracer = trace.get_tracer("a-framework")

    @step(action="plan", rationale="decide")
    def plan() -> None:
        with tracer.start_as_current_span("ChatOpenAI", attributes=_llm("ChatOpenAI", "gpt-4o", 7, 3)):
            pass

    with trajectory("agent") as t:
        t.add_tokens(1, 1)
        with tracer.start_as_current_span("LangGraph", attributes={"openinference.span.kind": "CHAIN"}):
            plan()
            with tracer.start_as_current_span("search", attributes={"openinference.span.kind": "TOOL", "tool.name": "search"}):
                with tracer.start_as_current_span("inner", attributes=_llm("inner", "small", 2, 1)):
                    pass  # a model call inside a tool call: it folds into the tool step
            with tracer.start_as_current_span("ChatOpenAI", attributes=_llm("ChatOpenAI", "gpt-4o", 11, 5)) as llm:
                llm.set_status(Status(StatusCode.ERROR, "rate limited"))
    assert t.result is not None
    assert current_trajectory() is None
    return t.result


def test_live_result_and_stored_trajectory_agree(pipeline: ListSink) -> None:
    result = _run()
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    from trajectories.config import current_configuration

    config = current_configuration()
    assert config is not None
    config.flush()
    (stored,) = pipeline.trajectories
    assert [(s.index, s.action) for s in result.steps] == [(0, "plan"), (1, "search"), (2, "llm gpt-4o")]
    plan_meta, search_meta, llm_meta = (s.metadata for s in result.steps)
    assert plan_meta is not None
    assert (plan_meta.input_tokens, plan_meta.output_tokens, plan_meta.model) == (7, 3, "gpt-4o")
    assert search_meta is not None
    assert (search_meta.tool_used, search_meta.input_tokens, search_meta.model) == (
        "search",
        2,
        "small",
    )
    assert llm_meta is not None
    assert (llm_meta.input_tokens, llm_meta.output_tokens) == (11, 5)
    assert result.steps[2].outcome == StepOutcome.failure("rate limited")
    assert (result.metadata.total_input_tokens, result.metadata.total_output_tokens) == (1 + 7 + 2 + 11, 1 + 3 + 1 + 5)
    assert result.metadata.models_used == ("gpt-4o", "small")
    assert result.metadata.tools_invoked == ("search",)
    # one failed step of three: partial by the SDK's rules, for the live handle and the store alike
    assert result.verdict.kind == "partial"
    assert stored == result


def test_root_span_counts_only_the_sdk_steps_and_its_own_tokens(pipeline: ListSink) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(memory))  # type: ignore[attr-defined]
    result = _run()
    (root,) = [s for s in memory.get_finished_spans() if s.name == "invoke_agent agent"]
    attrs = root.attributes or {}
    assert attrs[A.TRAJECTORY_STEP_COUNT] == 1  # plan: the framework's steps are spans of their own
    assert (attrs[A.TRAJECTORY_OWN_INPUT_TOKENS], attrs[A.TRAJECTORY_OWN_OUTPUT_TOKENS]) == (1, 1)
    assert attrs[A.GEN_AI_USAGE_INPUT_TOKENS] == result.metadata.total_input_tokens == 21
