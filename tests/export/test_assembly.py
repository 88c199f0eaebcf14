"""The pure assembly: spans in, scored trajectories out, equal to what the instrumentation saw."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

import anyio
import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.helpers.export import HandTracer, cause_json, chat
from trajectories import attributes as A
from trajectories._internal.model.serde import to_dict
from trajectories.export import SpanRecord, assemble_trajectories, record_from_span
from trajectories.instrument import StepHandle, TrajectoryFailed, current_step, current_trajectory, step, trajectory
from trajectories.model import (
    FailureVerdict,
    PartialVerdict,
    ReasoningErrorType,
    RecoveredVerdict,
    RootCause,
    StepOutcome,
    SuccessVerdict,
    Trajectory,
    Verdict,
)


def assembled(exporter: InMemorySpanExporter) -> list[Trajectory]:
    return assemble_trajectories([record_from_span(s) for s in exporter.get_finished_spans()])


def assert_same(got: Trajectory, want: Trajectory | None) -> None:
    assert want is not None
    assert to_dict(got) == to_dict(want)  # a readable diff first
    assert got == want


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    ("kind", "apply"),
    [
        ("success", lambda s: s.succeed()),
        ("partial", lambda s: s.partial("half", "the rest")),
        ("failure", lambda s: s.fail("it broke")),
        ("skipped", lambda s: s.skip("not needed")),
        ("needs_retry", lambda s: s.retry("flaky", ["wait", "retry"])),
    ],
)
def test_round_trip_every_outcome(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, kind: str, apply: Callable[[StepHandle], None]
) -> None:
    with trajectory("outcomes", tracer_provider=tracer_provider) as t:
        with step("first") as s:
            s.set_confidence(0.7)
            apply(s)
        with step("second", rationale="why not"):
            pass
    (got,) = assembled(span_exporter)
    assert got.steps[0].outcome.kind == kind
    assert_same(got, t.result)


CAUSES = [
    RootCause.insufficient_context(["docs", "examples"]),
    RootCause.invalid_input("bad"),
    RootCause.tool_failure("git", "exit 1"),
    RootCause.reasoning_error(ReasoningErrorType.Hallucination, "made it up"),
    RootCause.resource_constraint("tokens", "8k"),
    RootCause.external_failure("api", "503"),
    RootCause.capability_limit("no vision"),
    RootCause.unknown("who knows"),
]


@pytest.mark.parametrize("cause", CAUSES, ids=lambda c: c.kind)
def test_round_trip_failure_verdict_every_root_cause(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, cause: RootCause
) -> None:
    with trajectory("fails", tracer_provider=tracer_provider) as t:
        with step("try"):
            pass
        t.fail(cause)
    (got,) = assembled(span_exporter)
    assert got.verdict == Verdict.failure(cause)
    assert_same(got, t.result)


def test_round_trip_verdicts_success_partial_recovered_and_raised(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    results = []
    with trajectory("ok", tracer_provider=tracer_provider) as t, step("a"):
        pass
    results.append(t)
    with trajectory("auto-partial", tracer_provider=tracer_provider) as t:
        with step("a") as s:
            s.fail("no")
        with step("b"):
            pass
    results.append(t)
    with trajectory("explicit-partial", tracer_provider=tracer_provider) as t:
        t.partial(0.25)
    results.append(t)
    with trajectory("recovered", tracer_provider=tracer_provider) as t:
        with step("a"):
            pass
        t.recovered(RootCause.tool_failure("x", "y"), 2, 0.85)
    results.append(t)
    with pytest.raises(TrajectoryFailed), trajectory("raised", tracer_provider=tracer_provider) as t:
        raise TrajectoryFailed(RootCause.capability_limit("nope"))
    results.append(t)
    with pytest.raises(TimeoutError), trajectory("timeout", tracer_provider=tracer_provider) as t:
        raise TimeoutError
    results.append(t)
    got = {str(g.metadata.attributes[A.TRAJECTORY_NAME_ATTRIBUTE]): g for g in assembled(span_exporter)}
    assert len(got) == len(results)
    kinds = []
    for handle in results:
        assert_same(got[handle.name], handle.result)
        kinds.append(type(got[handle.name].verdict))
    assert kinds == [SuccessVerdict, PartialVerdict, PartialVerdict, RecoveredVerdict, FailureVerdict, FailureVerdict]


@pytest.mark.anyio
async def test_round_trip_cancelled_trajectory_and_rich_metadata(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    @step(action="search", rationale="need context", tool="web", model="m-1", tags=["io"])
    async def search() -> None:
        s = current_step()
        assert s is not None
        s.add_tokens(input=10, output=5)
        s.set_attribute("source", "web")
        s.set_context_embedding([0.5, -0.25])
        with step("parse"):  # nested: parent_step in metadata
            pass

    with anyio.move_on_after(0.05):
        async with trajectory(
            "rich",
            query="how?",
            session_id="s-1",
            user_id="u-1",
            request_type="qa",
            tags=["a", "b"],
            attributes={"team": "x"},
            tracer_provider=tracer_provider,
        ) as t:
            await search()
            t.add_lesson("search first")
            t.add_tokens(input=1, output=2)
            t.record_model("m-2")
            t.set_response_embedding(np.array([1.0, 2.0], dtype=np.float32))
            await anyio.sleep(5)
    (got,) = assembled(span_exporter)
    assert_same(got, t.result)
    assert got.verdict == Verdict.partial(1.0)
    assert got.metadata.total_input_tokens == 11
    assert got.metadata.models_used == ("m-1", "m-2")
    assert got.steps[1].metadata is not None
    assert got.steps[1].metadata.attributes[A.STEP_PARENT_ATTRIBUTE] == "0"
    assert got.query_embedding.size > 0
    assert got.uuid.int == got.uuid.int
    assert got.lessons == ("search first",)


def test_round_trip_is_independent_of_span_order(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    for n in range(3):
        with trajectory(f"t{n}", tracer_provider=tracer_provider) as t:
            for i in range(4):
                with step(f"s{i}") as s:
                    s.set_confidence(0.25 * i)
            current_trajectory()
    spans = [record_from_span(s) for s in span_exporter.get_finished_spans()]
    want = assemble_trajectories(spans)
    rng = random.Random(7)
    for _ in range(5):
        rng.shuffle(spans)
        got = assemble_trajectories(spans)
        assert sorted(got, key=lambda g: g.id) == sorted(want, key=lambda g: g.id)
    assert [s.index for s in want[0].steps] == [0, 1, 2, 3]
    assert t.result is not None
    assert t.result in want


# --------------------------------------------------------------------------- hand-made spans


def test_ids_times_and_quality_come_from_the_spans() -> None:
    h = HandTracer()
    with h.root("calc", verdict="partial", **{A.TRAJECTORY_VERDICT_COMPLETION_RATIO: 0.5}) as (root, tid):
        with h.step(tid, 0, "add", **{A.STEP_CONFIDENCE: 0.5}):
            pass
        with h.step(tid, 1, "check", outcome="failure", **{A.STEP_OUTCOME_ERROR: "off by one"}):
            pass
    (got,) = assemble_trajectories([record_from_span(s) for s in h.spans()])
    ctx = root.get_span_context()
    assert got.id == ctx.span_id & ((1 << 63) - 1) == tid
    assert got.uuid == uuid.UUID(int=ctx.trace_id)
    assert [s.latency_ms for s in got.steps] == [10, 10]
    assert got.total_latency_ms == 50
    assert (got.completed_at - got.started_at).total_seconds() == 0.05
    assert got.steps[1].outcome == StepOutcome.failure("off by one")
    # mean(0.5, 0) * (0.5 + 0.5 * 0.5) = 0.1875
    assert got.quality == pytest.approx(0.1875)
    assert got.quality == got.compute_quality()


def test_many_trajectories_in_one_trace_stay_apart() -> None:
    h = HandTracer()
    with h.root("outer", verdict=None) as (_, outer), h.step(outer, 0, "delegate"):
        with h.root("inner", verdict="failure", **{A.TRAJECTORY_VERDICT_ROOT_CAUSE: cause_json(RootCause.unknown("x"))}) as (
            _,
            inner,
        ):
            with h.step(inner, 0, "work"):
                h.foreign("chat", chat("m-in", 3, 4))
            with h.step(inner, 1, "more"):
                pass
        h.foreign("chat", chat("m-out", 1, 1))
    spans = h.spans()
    assert len({s.context.trace_id for s in spans if s.context}) == 1
    got = {int(g.id): g for g in assemble_trajectories([record_from_span(s) for s in spans])}
    assert [s.action for s in got[outer].steps] == ["delegate"]
    assert [s.action for s in got[inner].steps] == ["work", "more"]
    assert got[inner].metadata.total_input_tokens == 3
    assert got[inner].metadata.models_used == ("m-in",)
    assert got[outer].metadata.total_input_tokens == 1
    assert got[outer].metadata.models_used == ("m-out",)
    assert got[outer].verdict == Verdict.success()  # no verdict attribute: all steps succeeded
    assert got[inner].verdict == Verdict.failure(RootCause.unknown("x"))


def test_foreign_spans_fold_into_the_nearest_step_and_the_totals() -> None:
    h = HandTracer()
    root_attrs = {A.GEN_AI_USAGE_INPUT_TOKENS: 100, A.GEN_AI_USAGE_OUTPUT_TOKENS: 50, A.TRAJECTORY_MODELS_USED: ["own"]}
    with h.root("agent", **root_attrs) as (_, tid):
        with h.step(tid, 0, "think", **{A.GEN_AI_REQUEST_MODEL: "own", A.GEN_AI_USAGE_INPUT_TOKENS: 100}):
            with h.tracer.start_as_current_span("framework wrapper"):  # no GenAI data: just a link in the chain
                h.foreign("chat", chat("gpt-x", 7, 3))
            h.foreign("tool", {A.GEN_AI_OPERATION_NAME: "execute_tool", A.GEN_AI_TOOL_NAME: "grep"})
        with h.step(tid, 1, "answer"):
            h.foreign("chat", {**chat("gpt-y", 2, 2), A.GEN_AI_REQUEST_MODEL: 5, A.GEN_AI_RESPONSE_MODEL: "gpt-y-2024"})
            h.foreign("agent", {A.GEN_AI_OPERATION_NAME: "invoke_agent", A.GEN_AI_USAGE_INPUT_TOKENS: 999})  # aggregate
        h.foreign("chat", chat("gpt-z", 1, 0))  # a model call under the root, in no step: a step of its own
    (got,) = assemble_trajectories([record_from_span(s) for s in h.spans()])
    assert [(s.index, s.action) for s in got.steps] == [(0, "think"), (1, "answer"), (2, "chat gpt-z")]
    m0, m1, m2 = (s.metadata for s in got.steps)
    assert m2 is not None
    assert (m2.input_tokens, m2.output_tokens, m2.model, m2.tool_used) == (1, 0, "gpt-z", None)
    assert m0 is not None
    assert (m0.input_tokens, m0.output_tokens, m0.model, m0.tool_used) == (107, 3, "own", "grep")
    assert m1 is not None
    assert (m1.input_tokens, m1.output_tokens, m1.model, m1.tool_used) == (2, 2, "gpt-y-2024", None)
    assert got.metadata.total_input_tokens == 100 + 7 + 2 + 1
    assert got.metadata.total_output_tokens == 50 + 3 + 2 + 0
    assert got.metadata.models_used == ("own", "gpt-x", "gpt-y-2024", "gpt-z")
    assert got.metadata.tools_invoked == ("grep",)


def test_missing_root_gives_an_incomplete_partial_flagged() -> None:
    h = HandTracer()
    with h.root("lost") as (_, tid):
        with h.step(tid, 0, "a"):
            h.foreign("chat", chat("m", 4, 1))
        with h.step(tid, 1, "b", outcome="skipped", **{A.STEP_OUTCOME_REASON: "later"}):
            pass
    spans = [record_from_span(s) for s in h.spans() if not s.name.startswith("invoke_agent")]
    assert assemble_trajectories(spans, incomplete=False) == []
    (got,) = assemble_trajectories(spans)
    assert got.id == tid
    assert got.verdict == Verdict.partial(0.5)
    assert got.metadata.attributes == {A.TRAJECTORY_INCOMPLETE_ATTRIBUTE: "true"}
    assert got.metadata.total_input_tokens == 4
    assert got.metadata.models_used == ("m",)
    assert got.quality == got.compute_quality()
    assert got.total_latency_ms > 0


def test_neutral_records_and_unrelated_spans() -> None:
    tid = 42
    records = [
        SpanRecord(1, 10, None, "invoke_agent x", 0, 5_000_000, {A.GEN_AI_OPERATION_NAME: "invoke_agent", A.TRAJECTORY_ID: tid}),
        SpanRecord(1, 11, 10, "s", 1_000_000, 2_000_000, {A.TRAJECTORY_ID: tid, A.STEP_INDEX: 0, A.STEP_CONFIDENCE: 7.0}),
        SpanRecord(2, 20, None, "GET /", 0, 1, {"http.method": "GET"}),
        SpanRecord(2, 21, 20, "chat", 0, 1, chat("m", 1, 1)),  # in another trace, under no SDK trajectory
        SpanRecord(3, 30, None, "GET /health", 0, 1, {"http.method": "GET"}),  # no model call: no trajectory
    ]
    got, bare = assemble_trajectories(records)
    # a model call under no agent: a trajectory of its trace's root (docs/frameworks.md)
    assert (bare.uuid, [s.action for s in bare.steps], bare.metadata.total_input_tokens) == (uuid.UUID(int=2), ["chat m"], 1)
    assert got.verdict == Verdict.success()  # no verdict attribute, no failed step
    assert got.steps[0].confidence == 1.0  # out of range from elsewhere: clamped
    assert got.metadata.total_input_tokens == 0
    assert got.steps[0].latency_ms == 1
    assert got.uuid == uuid.UUID(int=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 1.0), (1, 1.0), (True, 1.0), (0.7, 0.7), (0, 0.0), (-3, 0.0), (7.0, 1.0), ("0.5", 1.0), (float("nan"), 1.0)],
)
def test_a_step_span_written_elsewhere_reads_its_confidence_like_the_sdk_rules(value: object, expected: float) -> None:
    attrs: dict[str, object] = {A.TRAJECTORY_ID: 42, A.STEP_INDEX: 0, A.STEP_ACTION: ""}
    if value is not None:
        attrs[A.STEP_CONFIDENCE] = value
    records = [
        SpanRecord(1, 10, None, "invoke_agent x", 0, 5_000_000, {A.GEN_AI_OPERATION_NAME: "invoke_agent", A.TRAJECTORY_ID: 42}),
        SpanRecord(1, 11, 10, "named by its span", 1_000_000, 2_000_000, attrs),
    ]
    (got,) = assemble_trajectories(records)
    assert got.steps[0].confidence == expected
    assert type(got.steps[0].confidence) is float
    assert got.steps[0].action == "named by its span"  # an empty action: the span's name
    assert got.steps[0].metadata is None


def test_a_step_span_with_keys_beyond_the_plain_ones_reads_its_metadata_and_embedding() -> None:
    plain = {A.TRAJECTORY_ID: 42, A.STEP_INDEX: 0, A.STEP_ACTION: "a", A.STEP_OUTCOME: "failure", A.STEP_OUTCOME_ERROR: "e"}
    extra = {
        **plain,
        A.STEP_INDEX: 1,
        A.STEP_ATTRIBUTES_PREFIX + "k": "v",
        A.STEP_CONTEXT_EMBEDDING: (0.5, 1.0),
        A.GEN_AI_USAGE_INPUT_TOKENS: 3,
        "unrelated.key": "x",
    }
    records = [
        SpanRecord(1, 10, None, "invoke_agent x", 0, 5_000_000, {A.GEN_AI_OPERATION_NAME: "invoke_agent", A.TRAJECTORY_ID: 42}),
        SpanRecord(1, 11, 10, "s", 1_000_000, 2_000_000, plain),
        SpanRecord(1, 12, 10, "s", 2_000_000, 3_000_000, extra),
    ]
    (got,) = assemble_trajectories(records)
    first, second = got.steps
    assert first.outcome == StepOutcome.failure("e")
    assert (first.metadata, first.context_embedding) == (None, None)
    assert second.outcome == StepOutcome.failure("e")
    assert second.metadata is not None
    assert second.metadata.attributes == {"k": "v"}
    assert second.metadata.input_tokens == 3
    assert second.context_embedding is not None
    assert second.context_embedding.tolist() == [0.5, 1.0]
    assert got.metadata.total_input_tokens == 3
