"""trajectory() and step in all their forms: spans, attributes, outcomes, the result."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.helpers.instrument import attr, by_name, roots, spans, steps_of
from trajectories import attributes as A
from trajectories._internal.model.serde import to_dict
from trajectories._internal.settings import settings
from trajectories.instrument import current_step, current_trajectory, step, trajectory
from trajectories.model import (
    FailureOutcome,
    NeedsRetryOutcome,
    PartialOutcome,
    SkippedOutcome,
    StepOutcome,
    SuccessOutcome,
    Verdict,
)

pytestmark = pytest.mark.anyio


@step
def plain(x: int, *, y: int = 2) -> int:
    """Doc kept."""
    return x + y


@step(action="lookup", rationale="need context", confidence=0.75, tags=("io",), attributes={"source": "kb"})
async def lookup(q: str) -> list[str]:
    return [q, q]


@step(tool="calculator", model="gpt-x")
def calc(expr: str) -> float:
    return 42.0


@step
def numbers(n: int) -> Iterator[int]:
    yield from range(n)


@step
async def anumbers(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


def test_decorated_functions_keep_signature_and_kind() -> None:
    assert inspect.signature(plain) == inspect.signature(plain.__wrapped__)  # type: ignore[attr-defined]
    assert str(inspect.signature(plain)) == "(x: 'int', *, y: 'int' = 2) -> 'int'"
    assert plain.__doc__ == "Doc kept."
    assert plain.__name__ == "plain"
    assert inspect.iscoroutinefunction(lookup)
    assert inspect.isgeneratorfunction(numbers)
    assert inspect.isasyncgenfunction(anumbers)
    assert not inspect.iscoroutinefunction(plain)


async def test_all_forms_record_steps_in_start_order(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    async with trajectory("agent", session_id="s-1", user_id="u-1", request_type="qa", tracer_provider=tracer_provider) as t:
        assert current_trajectory() is t
        assert current_step() is None
        assert plain(1) == 3
        assert await lookup("q") == ["q", "q"]
        assert calc("1+1") == 42.0
        assert list(numbers(3)) == [0, 1, 2]
        assert [i async for i in anumbers(2)] == [0, 1]
        with step("sync-block", rationale="r") as s:
            assert current_step() is s
        async with step(action="async-block") as s2:
            assert current_step() is s2
            s2.succeed()
    assert current_trajectory() is None
    result = t.result
    assert result is not None
    assert [s.action for s in result.steps] == ["plain", "lookup", "calc", "numbers", "anumbers", "sync-block", "async-block"]
    assert [s.index for s in result.steps] == list(range(7))
    assert result.verdict == Verdict.success()
    assert result.quality == pytest.approx((6 + 0.75) / 7, rel=1e-6)
    assert result.metadata.session_id == "s-1"
    assert result.metadata.user_id == "u-1"
    assert result.metadata.request_type == "qa"
    assert result.metadata.attributes[A.TRAJECTORY_NAME_ATTRIBUTE] == "agent"
    assert result.metadata.models_used == ("gpt-x",)
    assert result.metadata.tools_invoked == ("calculator",)

    step_spans = steps_of(span_exporter, int(t.id))
    assert [s.name for s in step_spans] == [
        "plain",
        "lookup",
        "execute_tool calculator",
        "numbers",
        "anumbers",
        "sync-block",
        "async-block",
    ]
    root = by_name(span_exporter, "invoke_agent agent")
    assert root.kind == SpanKind.INTERNAL
    assert root.parent is None
    for sp in step_spans:
        assert sp.parent is not None
        assert sp.parent.span_id == root.context.span_id
        assert sp.context.trace_id == root.context.trace_id
        assert attr(sp, A.STEP_OUTCOME) == "success"
    lk = step_spans[1]
    assert attr(lk, A.STEP_ACTION) == "lookup"
    assert attr(lk, A.STEP_RATIONALE) == "need context"
    assert attr(lk, A.STEP_CONFIDENCE) == 0.75
    assert attr(lk, A.STEP_TAGS) == ("io",)
    assert attr(lk, A.STEP_ATTRIBUTES_PREFIX + "source") == "kb"
    tool = step_spans[2]
    assert attr(tool, A.GEN_AI_OPERATION_NAME) == A.OPERATION_EXECUTE_TOOL
    assert attr(tool, A.GEN_AI_TOOL_NAME) == "calculator"
    assert attr(tool, A.GEN_AI_REQUEST_MODEL) == "gpt-x"
    assert attr(root, A.GEN_AI_OPERATION_NAME) == A.OPERATION_INVOKE_AGENT
    assert attr(root, A.GEN_AI_AGENT_NAME) == "agent"
    assert attr(root, A.GEN_AI_CONVERSATION_ID) == "s-1"
    assert attr(root, A.SESSION_ID) == "s-1"
    assert attr(root, A.USER_ID) == "u-1"
    assert attr(root, A.TRAJECTORY_REQUEST_TYPE) == "qa"
    assert attr(root, A.TRAJECTORY_VERDICT) == "success"
    assert attr(root, A.TRAJECTORY_QUALITY) == result.quality
    assert attr(root, A.TRAJECTORY_MODELS_USED) == ("gpt-x",)
    assert attr(root, A.TRAJECTORY_TOOLS_INVOKED) == ("calculator",)
    assert root.status.status_code == StatusCode.UNSET
    (event,) = [e for e in root.events if e.name == A.EVENT_EVALUATION_RESULT]
    assert event.attributes is not None
    assert event.attributes[A.GEN_AI_EVALUATION_NAME] == A.QUALITY_EVALUATION_NAME
    assert event.attributes[A.GEN_AI_EVALUATION_SCORE_VALUE] == result.quality
    assert event.attributes[A.GEN_AI_EVALUATION_SCORE_LABEL] == "success"


def test_trajectory_id_and_uuid_come_from_the_root_span(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    for _ in range(20):
        with trajectory("ids", tracer_provider=tracer_provider) as t:
            pass
        root = spans(span_exporter)[-1]
        assert int(t.id) == root.context.span_id & (2**63 - 1)
        assert 0 <= int(t.id) < 2**63
        assert attr(root, A.TRAJECTORY_ID) == int(t.id)
        assert t.result is not None
        assert t.result.uuid.int == root.context.trace_id


def test_result_matches_span_times(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    with trajectory("times", tracer_provider=tracer_provider) as t:
        plain(1)
    root = by_name(span_exporter, "invoke_agent times")
    (s,) = steps_of(span_exporter, int(t.id))
    result = t.result
    assert result is not None
    assert root.start_time is not None
    assert root.end_time is not None
    assert s.start_time is not None
    assert s.end_time is not None
    assert result.total_latency_ms == (root.end_time - root.start_time) // 1_000_000
    assert result.started_at.timestamp() == pytest.approx(root.start_time / 1e9, abs=1e-5)
    assert result.steps[0].latency_ms == (s.end_time - s.start_time) // 1_000_000
    assert result.steps[0].timestamp.timestamp() == pytest.approx(s.start_time / 1e9, abs=1e-5)


def test_step_handle_setters_reach_span_and_result(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    with trajectory("handles", tracer_provider=tracer_provider) as t:
        with step("a") as s:
            s.set_confidence(0.5)
            s.set_rationale("because")
            s.add_tokens(input=10, output=5)
            s.add_tokens(input=1)
            s.set_model("m-1")
            s.set_tool("search")
            s.add_tag("t1")
            s.set_attribute("k", "v")
            s.set_context_embedding([0.5, 0.25])
            s.retry("rate limited", ["wait", "smaller batch"])
        with step("b") as s:
            s.partial(achieved="half", missing="rest")
        with step("c") as s:
            s.fail("bad data")
        with step("d") as s:
            s.skip("not needed")
        with step("e") as s:
            s.fail("x")
            s.succeed()
        t.add_tokens(input=100, output=50)
        t.record_model("m-2")
        t.record_model("m-1")
        t.record_tool("browser")
        t.add_tag("tag-a")
        t.set_attribute("team", "core")
        t.add_lesson("lesson one")
        t.set_response_embedding([1.0, 0.0])
    result = t.result
    assert result is not None
    a, b, c, d, e = result.steps
    assert a.outcome == NeedsRetryOutcome("rate limited", ("wait", "smaller batch"))
    assert a.confidence == 0.5
    assert a.rationale == "because"
    assert a.metadata is not None
    assert (a.metadata.input_tokens, a.metadata.output_tokens, a.metadata.model, a.metadata.tool_used) == (11, 5, "m-1", "search")
    assert a.metadata.tags == ("t1",)
    assert a.metadata.attributes == {"k": "v"}
    assert a.context_embedding is not None
    assert a.context_embedding.tolist() == [0.5, 0.25]
    assert b.outcome == PartialOutcome("half", "rest")
    assert b.metadata is None
    assert c.outcome == FailureOutcome("bad data")
    assert d.outcome == SkippedOutcome("not needed")
    assert e.outcome == StepOutcome.success()
    assert result.verdict == Verdict.partial(1 / 5)
    assert result.metadata.total_input_tokens == 111
    assert result.metadata.total_output_tokens == 55
    assert result.metadata.models_used == ("m-1", "m-2")
    assert result.metadata.tools_invoked == ("search", "browser")
    assert result.metadata.tags == ("tag-a",)
    assert result.metadata.attributes == {A.TRAJECTORY_NAME_ATTRIBUTE: "handles", "team": "core"}
    assert result.lessons == ("lesson one",)
    assert result.response_embedding is not None
    assert result.response_embedding.tolist() == [1.0, 0.0]

    sa, sb, sc, sd, _ = steps_of(span_exporter, int(t.id))
    assert sa.name == "execute_tool search"
    assert attr(sa, A.STEP_OUTCOME) == "needs_retry"
    assert attr(sa, A.STEP_OUTCOME_REASON) == "rate limited"
    assert attr(sa, A.STEP_OUTCOME_SUGGESTIONS) == ("wait", "smaller batch")
    assert attr(sa, A.STEP_CONFIDENCE) == 0.5
    assert attr(sa, A.GEN_AI_USAGE_INPUT_TOKENS) == 11
    assert attr(sa, A.GEN_AI_USAGE_OUTPUT_TOKENS) == 5
    assert attr(sa, A.GEN_AI_REQUEST_MODEL) == "m-1"
    assert attr(sa, A.GEN_AI_TOOL_NAME) == "search"
    assert attr(sa, A.STEP_TAGS) == ("t1",)
    assert attr(sa, A.STEP_ATTRIBUTES_PREFIX + "k") == "v"
    assert attr(sa, A.STEP_CONTEXT_EMBEDDING) == (0.5, 0.25)
    assert attr(sb, A.STEP_OUTCOME_ACHIEVED) == "half"
    assert attr(sb, A.STEP_OUTCOME_MISSING) == "rest"
    assert attr(sc, A.STEP_OUTCOME_ERROR) == "bad data"
    assert sc.status.status_code == StatusCode.UNSET  # an outcome set by hand is not an exception
    assert attr(sd, A.STEP_OUTCOME_REASON) == "not needed"
    root = by_name(span_exporter, "invoke_agent handles")
    assert attr(root, A.TRAJECTORY_VERDICT) == "partial"
    assert attr(root, A.TRAJECTORY_VERDICT_COMPLETION_RATIO) == pytest.approx(0.2)
    assert attr(root, A.GEN_AI_USAGE_INPUT_TOKENS) == 111
    assert attr(root, A.GEN_AI_USAGE_OUTPUT_TOKENS) == 55
    assert attr(root, A.TRAJECTORY_TAGS) == ("tag-a",)
    assert attr(root, A.TRAJECTORY_ATTRIBUTES_PREFIX + "team") == "core"
    assert attr(root, A.TRAJECTORY_LESSONS) == ("lesson one",)
    assert attr(root, A.TRAJECTORY_RESPONSE_EMBEDDING) == (1.0, 0.0)


def test_explicit_verdicts(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    from trajectories.model import RootCause

    with trajectory("rec", tracer_provider=tracer_provider) as t:
        plain(1)
        t.recovered(RootCause.tool_failure("web", "timeout"), 2, 0.9)
    assert t.result is not None
    assert t.result.verdict == Verdict.recovered(RootCause.tool_failure("web", "timeout"), 2, 0.9)
    root = by_name(span_exporter, "invoke_agent rec")
    assert attr(root, A.TRAJECTORY_VERDICT) == "recovered_via_reflection"
    assert attr(root, A.TRAJECTORY_VERDICT_REFLECTION_ATTEMPTS) == 2
    assert attr(root, A.TRAJECTORY_VERDICT_FINAL_QUALITY) == pytest.approx(0.9)
    assert json.loads(str(attr(root, A.TRAJECTORY_VERDICT_ROOT_CAUSE))) == to_dict(RootCause.tool_failure("web", "timeout"))

    with trajectory("failed-by-hand", tracer_provider=tracer_provider) as t:
        t.fail("no good")
    assert t.result is not None
    assert t.result.verdict == Verdict.failure(RootCause.unknown("no good"))
    root = by_name(span_exporter, "invoke_agent failed-by-hand")
    assert root.status.status_code == StatusCode.ERROR
    assert json.loads(str(attr(root, A.TRAJECTORY_VERDICT_ROOT_CAUSE))) == {"Unknown": {"details": "no good"}}

    with trajectory("partial-by-hand", tracer_provider=tracer_provider) as t:
        plain(1)
        t.partial(0.25)
    assert t.result is not None
    assert t.result.verdict == Verdict.partial(0.25)

    with trajectory("success-by-hand", tracer_provider=tracer_provider) as t:
        with step("x") as s:
            s.fail("meh")
        t.set_verdict(Verdict.success())
    assert t.result is not None
    assert t.result.verdict == Verdict.success()
    assert t.verdict == Verdict.success()


def test_nested_steps_are_child_spans_with_parent_index(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    @step
    def outer() -> int:
        return plain(1) + plain(2)

    with trajectory("nest", tracer_provider=tracer_provider) as t:
        outer()
    assert t.result is not None
    o, c1, c2 = t.result.steps
    assert (o.action, c1.action, c2.action) == ("outer", "plain", "plain")
    assert o.metadata is None
    assert c1.metadata is not None
    assert c1.metadata.attributes == {A.STEP_PARENT_ATTRIBUTE: "0"}
    so, sc1, sc2 = steps_of(span_exporter, int(t.id))
    assert sc1.parent is not None
    assert sc1.parent.span_id == so.context.span_id
    assert attr(sc2, A.STEP_ATTRIBUTES_PREFIX + A.STEP_PARENT_ATTRIBUTE) == "0"


def test_step_outside_any_trajectory_records_a_plain_span(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    with step("lonely", tracer_provider=tracer_provider) as s:
        assert current_step() is s
        assert s.trajectory is None
        assert s.index is None
        s.partial("a", "b")
    (span,) = spans(span_exporter)
    assert span.name == "lonely"
    assert attr(span, A.STEP_ACTION) == "lonely"
    assert attr(span, A.STEP_OUTCOME) == "partial"
    assert attr(span, A.TRAJECTORY_ID) is None
    assert attr(span, A.STEP_INDEX) is None


def test_nested_trajectories_are_separate(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    with trajectory("outer", tracer_provider=tracer_provider) as outer:
        plain(1)
        with trajectory("inner", tracer_provider=tracer_provider) as inner:
            assert current_trajectory() is inner
            plain(2)
            plain(3)
        assert current_trajectory() is outer
        plain(4)
    assert outer.result is not None
    assert inner.result is not None
    assert outer.id != inner.id
    assert outer.result.uuid != inner.result.uuid
    assert [s.index for s in outer.result.steps] == [0, 1]
    assert [s.index for s in inner.result.steps] == [0, 1]
    assert len(steps_of(span_exporter, int(inner.id))) == 2
    inner_root = by_name(span_exporter, "invoke_agent inner")
    outer_root = by_name(span_exporter, "invoke_agent outer")
    assert inner_root.parent is None  # each trajectory is its own trace...
    assert [link.context.span_id for link in inner_root.links] == [outer_root.context.span_id]  # ...linked to its caller
    assert len(roots(span_exporter)) == 2


def test_query_embedding_from_text_and_capture_switch(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    with trajectory("q", query="find the refund policy", tracer_provider=tracer_provider) as t:
        pass
    assert t.result is not None
    expected = settings.embedder("find the refund policy")
    assert np.array_equal(t.result.query_embedding, expected)
    root = by_name(span_exporter, "invoke_agent q")
    assert np.array_equal(np.asarray(attr(root, A.TRAJECTORY_QUERY_EMBEDDING), dtype=np.float32), expected)

    with trajectory("given", query="ignored text", query_embedding=[1, 2, 3], tracer_provider=tracer_provider) as t:
        t.set_query_embedding([3.0, 2.0, 1.0])
    assert t.result is not None
    assert t.result.query_embedding.tolist() == [3.0, 2.0, 1.0]

    before = settings.capture_embeddings
    settings.capture_embeddings = False
    try:
        with trajectory("hidden", query="secret text", tracer_provider=tracer_provider) as t:
            with step("s") as s:
                s.set_context_embedding([1.0])
            t.set_response_embedding([1.0])
    finally:
        settings.capture_embeddings = before
    hidden = by_name(span_exporter, "invoke_agent hidden")
    assert attr(hidden, A.TRAJECTORY_QUERY_EMBEDDING) is None
    assert attr(hidden, A.TRAJECTORY_RESPONSE_EMBEDDING) is None
    assert attr(by_name(span_exporter, "s"), A.STEP_CONTEXT_EMBEDDING) is None
    assert t.result is not None
    assert t.result.query_embedding.size > 0

    with trajectory("none", tracer_provider=tracer_provider) as t:
        pass
    assert t.result is not None
    assert t.result.query_embedding.size == 0
    assert attr(by_name(span_exporter, "invoke_agent none"), A.TRAJECTORY_QUERY_EMBEDDING) is None


def test_empty_trajectory_is_success(tracer_provider: TracerProvider) -> None:
    with trajectory("empty", tracer_provider=tracer_provider) as t:
        pass
    assert t.result is not None
    assert t.result.verdict == Verdict.success()
    assert t.result.quality == 1.0
    assert isinstance(SuccessOutcome(), StepOutcome)
