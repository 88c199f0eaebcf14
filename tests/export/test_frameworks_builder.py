"""Framework trajectories from real spans (the committed fixtures) and from hand-built span sets.

The fixtures in tests/fixtures/frameworks were recorded from the real frameworks by
tests/frameworks/record_fixtures.py; their .expected.json holds each framework's OWN usage
report, so the token totals here are checked against the framework, not against ourselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.frameworks import CASES, check_scenario
from trajectories._internal.export.frameworks import (
    REASON_CYCLE,
    REASON_NO_AGENT_OR_MODEL,
    REASON_OUTSIDE_AGENT,
    REASON_SDK_TRAJECTORY,
    build_framework_trajectory,
    group_trace,
)
from trajectories._internal.otlp.files import iter_otlp_file
from trajectories.export import SpanRecord
from trajectories.model import (
    FailureOutcome,
    FailureVerdict,
    PartialVerdict,
    SuccessVerdict,
    ToolFailure,
    Unknown,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "frameworks"
ERROR = 2
MS = 1_000_000


def load(name: str) -> tuple[list[SpanRecord], dict[str, Any]]:
    spans = [s for line in iter_otlp_file(FIXTURES / f"{name}.otlp.jsonl") for s in line.spans]
    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text(encoding="utf-8"))
    return spans, expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_becomes_one_exact_trajectory(name: str) -> None:
    spans, expected = load(name)
    check_scenario(name, spans, expected)


def test_fixture_failures_match_the_framework_report() -> None:
    for name in CASES:
        _, expected = load(name)
        assert expected["failed"] == (CASES[name][4] == "failure"), name


# --------------------------------------------------------------------------- hand-built span sets

TRACE = 0xABCDEF0123456789ABCDEF0123456789


def span(
    span_id: int,
    parent: int | None,
    name: str,
    start: int,
    end: int,
    attrs: dict[str, Any] | None = None,
    *,
    status: int = 0,
    events: tuple[Any, ...] = (),
    remote: bool = False,
    trace: int = TRACE,
) -> SpanRecord:
    return SpanRecord(trace, span_id, parent, name, start * MS, end * MS, attrs or {}, events, status, parent_is_remote=remote)


def agent(name: str, **extra: Any) -> dict[str, Any]:
    return {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name, **extra}


def chat(model: str, inp: int, out: int) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": inp,
        "gen_ai.usage.output_tokens": out,
    }


def tool(name: str) -> dict[str, Any]:
    return {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}


REPEATED_TOTALS = {"gen_ai.usage.input_tokens": 999, "llm.token_count.prompt": 999}
OI_LLM_M4 = {
    "openinference.span.kind": "LLM",
    "llm.model_name": "m4",
    "llm.token_count.prompt": 7,
    "llm.token_count.completion": 2,
}


def test_nesting_transparent_agents_steps_by_parent_links_and_no_double_counting() -> None:
    spans = [
        span(1, None, "invoke_agent planner", 0, 100, agent("planner", **{"gen_ai.conversation.id": "c-1", "user.id": "u-1"})),
        span(2, 1, "chat m1", 1, 10, chat("m1", 10, 2)),
        # An inner agent that repeats its children's totals (under both names): never added.
        span(3, 1, "invoke_agent researcher", 11, 60, agent("researcher", **REPEATED_TOTALS)),
        # The model span stays open while the tool it asked for runs beside it: two steps, not one.
        span(4, 3, "chat m2", 12, 40, chat("m2", 5, 1)),
        span(5, 3, "running tool", 20, 50, tool("search")),  # the action is the tool's name, not the span's
        span(6, 5, "chat m3", 21, 30, chat("m3", 3, 3)),  # a model call inside the tool folds into it
        span(7, 1, "outer llm", 61, 90, OI_LLM_M4),
        span(8, 7, "chat m4", 62, 89, chat("m4", 7, 2)),  # the same call seen twice: counts once
        span(9, 1, "loop cycle", 91, 95, {"some.framework.attr": 1}),
    ]  # fmt: skip
    grouped = group_trace(reversed(spans))
    assert grouped.unassigned == []
    [group] = grouped.groups
    t = build_framework_trajectory(group)
    assert [s.action for s in t.steps] == ["chat m1", "chat m2", "search", "llm m4"]
    meta = [s.metadata for s in t.steps]
    assert [(m.input_tokens, m.output_tokens) for m in meta if m] == [(10, 2), (5, 1), (3, 3), (7, 2)]
    assert [m.model for m in meta if m] == ["m1", "m2", "m3", "m4"]
    assert [m.tool_used for m in meta if m] == [None, None, "search", None]
    assert [m.attributes.get("agent") for m in meta if m] == [None, "researcher", "researcher", None]
    assert (t.metadata.total_input_tokens, t.metadata.total_output_tokens) == (25, 8)
    assert t.metadata.models_used == ("m1", "m2", "m3", "m4")
    assert t.metadata.tools_invoked == ("search",)
    assert (t.metadata.session_id, t.metadata.user_id) == ("c-1", "u-1")
    assert t.metadata.attributes == {"trajectory.name": "planner", "source": "gen_ai"}
    assert t.steps[1].latency_ms == 28
    assert t.steps[2].latency_ms == 30
    assert isinstance(t.verdict, SuccessVerdict)
    assert t.quality == 1.0


def test_an_openllmetry_trace() -> None:
    """Traceloop's decorators (workflow/task/agent/tool spans) around its OpenAI instrumentation's spans."""

    def entity(kind: str, name: str, **extra: Any) -> dict[str, Any]:
        return {"traceloop.span.kind": kind, "traceloop.entity.name": name, **extra}

    def openai_chat(**usage: int) -> dict[str, Any]:
        return {
            "llm.request.type": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "llm.usage.total_tokens": 1,
            **usage,
        }

    session = {"traceloop.association.properties.session_id": "s-9"}
    exc = ("exception", {"exception.type": "TimeoutError", "exception.message": "search timed out"})
    spans = [
        span(1, None, "trip_planner.workflow", 0, 100, entity("workflow", "trip_planner", **session)),
        span(2, 1, "plan.task", 1, 30, entity("task", "plan")),
        span(3, 2, "openai.chat", 2, 10, openai_chat(**{"gen_ai.usage.prompt_tokens": 9, "gen_ai.usage.completion_tokens": 3})),
        span(4, 2, "search.tool", 11, 29, entity("tool", "search"), status=ERROR, events=(exc,)),
        span(5, 1, "booker.agent", 31, 90, entity("agent", "booker")),
        span(6, 5, "openai.chat", 32, 40, openai_chat(**{"gen_ai.usage.input_tokens": 4, "gen_ai.usage.output_tokens": 1})),
    ]  # fmt: skip
    [g] = group_trace(spans).groups
    t = build_framework_trajectory(g)
    assert t.metadata.attributes == {"trajectory.name": "trip_planner", "source": "openllmetry"}
    assert [s.action for s in t.steps] == ["chat gpt-4o", "search", "chat gpt-4o"]
    assert [s.metadata.attributes.get("agent") for s in t.steps if s.metadata] == [None, None, "booker"]
    assert t.steps[1].outcome == FailureOutcome("TimeoutError: search timed out")
    assert (t.metadata.total_input_tokens, t.metadata.total_output_tokens) == (13, 4)
    assert t.metadata.session_id == "s-9"
    assert t.metadata.tools_invoked == ("search",)
    assert t.verdict == PartialVerdict(2 / 3)


def test_two_agent_runs_under_one_http_span_are_two_trajectories() -> None:
    spans = [
        span(1, None, "POST /chat", 0, 100, {"http.method": "POST"}),
        span(2, 1, "invoke_agent a", 1, 40, agent("a")),
        span(3, 2, "chat", 2, 10, chat("m", 1, 1)),
        span(4, 1, "invoke_agent b", 50, 90, agent("b")),
        span(5, 4, "chat", 51, 60, chat("m", 2, 2)),
        span(6, 1, "db query", 91, 99, {"db.system": "sqlite"}),
    ]
    grouped = group_trace(spans)
    assert [g.root.span_id for g in grouped.groups] == [2, 4]
    assert sorted((s.span_id, r) for s, r in grouped.unassigned) == [(1, REASON_OUTSIDE_AGENT), (6, REASON_OUTSIDE_AGENT)]
    assert grouped.reasons() == {REASON_OUTSIDE_AGENT: 2}
    a, b = (build_framework_trajectory(g) for g in grouped.groups)
    assert (a.metadata.attributes["trajectory.name"], a.metadata.total_input_tokens) == ("a", 1)
    assert (b.metadata.attributes["trajectory.name"], b.metadata.total_input_tokens) == ("b", 2)
    assert a.id != b.id
    assert a.uuid == b.uuid


def test_a_remote_parent_starts_a_trajectory_of_its_own() -> None:
    spans = [
        span(1, None, "invoke_agent client", 0, 100, agent("client")),
        span(2, 1, "execute_tool ask_server", 1, 90, tool("ask_server")),
        # The server's agent: its parent is the client's tool span, but in another process.
        span(3, 2, "invoke_agent server", 2, 80, agent("server"), remote=True),
        span(4, 3, "chat", 3, 10, chat("m", 4, 4)),
    ]
    grouped = group_trace(spans)
    assert [g.root.span_id for g in grouped.groups] == [1, 3]
    client, server = (build_framework_trajectory(g) for g in grouped.groups)
    assert [s.action for s in client.steps] == ["ask_server"]
    assert client.steps[0].metadata  # the server's tokens are its own
    assert client.steps[0].metadata.input_tokens is None
    assert [s.action for s in server.steps] == ["chat m"]
    assert server.metadata.total_input_tokens == 4


def test_orphans_and_traces_without_agents() -> None:
    # A model span whose parent never arrived: the top of its own part, a trajectory of one step.
    grouped = group_trace([span(7, 99, "chat", 0, 5, chat("m", 1, 2))])
    [g] = grouped.groups
    t = build_framework_trajectory(g)
    assert (t.id, [s.action for s in t.steps], t.metadata.attributes) == (
        7,
        ["chat m"],
        {"trajectory.name": "chat", "source": "gen_ai"},
    )
    # Model and tool spans with no agent above: one trajectory rooted at the root span.
    spans = [
        span(1, None, "GET /", 0, 50, {"http.method": "GET"}),
        span(2, 1, "chat", 1, 5, chat("m", 1, 1)),
        span(3, 1, "execute_tool t", 6, 9, tool("t")),
    ]
    [g] = group_trace(spans).groups
    t = build_framework_trajectory(g)
    assert (g.root.span_id, [s.action for s in t.steps], t.metadata.attributes["trajectory.name"]) == (
        1,
        ["chat m", "t"],
        "GET /",
    )
    assert t.metadata.attributes["source"] == "gen_ai"
    # Nothing of a convention at all: every span counted with its reason.
    grouped = group_trace([span(1, None, "GET /", 0, 5), span(2, 1, "SELECT", 1, 2)])
    assert grouped.groups == []
    assert grouped.reasons() == {REASON_NO_AGENT_OR_MODEL: 2}
    # A chain that holds no model, tool or agent span is no trajectory either.
    grouped = group_trace([span(1, None, "RunnableSequence", 0, 5, {"openinference.span.kind": "CHAIN"})])
    assert grouped.groups == []
    assert grouped.reasons() == {REASON_NO_AGENT_OR_MODEL: 1}


def test_a_model_call_beside_an_agent_run_is_outside_it() -> None:
    spans = [
        span(1, None, "job", 0, 50),
        span(2, 1, "invoke_agent a", 1, 20, agent("a")),
        span(3, 2, "chat", 2, 5, chat("m", 1, 1)),
        span(4, 1, "chat", 30, 40, chat("m", 9, 9)),
    ]
    grouped = group_trace(spans)
    assert [g.root.span_id for g in grouped.groups] == [2]
    assert sorted((s.span_id, r) for s, r in grouped.unassigned) == [(1, REASON_OUTSIDE_AGENT), (4, REASON_OUTSIDE_AGENT)]


def test_parent_cycles_never_loop_and_never_touch_other_spans() -> None:
    spans = [
        span(1, 2, "invoke_agent x", 0, 10, agent("x")),
        span(2, 1, "chat", 1, 5, chat("m", 1, 1)),
        span(3, 3, "invoke_agent self-parent", 0, 10, agent("self")),  # its own parent: a root
        span(4, 3, "chat", 1, 2, chat("m", 2, 2)),
        span(5, None, "invoke_agent fine", 20, 30, agent("fine")),
        span(6, 5, "chat", 21, 22, chat("m", 3, 3)),
    ]
    grouped = group_trace(spans)
    assert sorted((s.span_id, r) for s, r in grouped.unassigned) == [(1, REASON_CYCLE), (2, REASON_CYCLE)]
    built = [build_framework_trajectory(g) for g in grouped.groups]
    assert [(t.metadata.attributes["trajectory.name"], t.metadata.total_input_tokens) for t in built] == [
        ("self", 2),
        ("fine", 3),
    ]


def test_a_deep_chain_is_neither_recursed_nor_walked_per_span() -> None:
    """50 000 nested spans (a malformed or hostile payload): linear work, no RecursionError."""
    depth = 50_000
    spans = [span(1, None, "invoke_agent deep", 0, 10, agent("deep"))]
    spans += [span(i, i - 1, "wrapper", 1, 9, {"openinference.span.kind": "CHAIN"}) for i in range(2, depth)]
    spans.append(span(depth, depth - 1, "chat", 2, 3, chat("m", 5, 1)))
    spans.append(span(depth + 1, depth, "chat inner", 2, 3, chat("m", 5, 1)))
    [g] = group_trace(spans).groups
    t = build_framework_trajectory(g)
    assert [s.action for s in t.steps] == ["chat m"]
    assert (t.metadata.total_input_tokens, t.metadata.total_output_tokens) == (5, 1)


def test_spans_of_an_sdk_trajectory_are_left_to_the_sdk() -> None:
    spans = [
        span(1, None, "invoke_agent mine", 0, 10, {**agent("mine"), "trajectory.id": 42}),
        span(2, 1, "chat", 1, 5, chat("m", 1, 1)),
        span(3, None, "invoke_agent framework", 20, 30, agent("framework")),
        span(4, 3, "chat", 21, 22, chat("m", 3, 3)),
    ]
    grouped = group_trace(spans)
    assert sorted((s.span_id, r) for s, r in grouped.unassigned) == [(1, REASON_SDK_TRAJECTORY), (2, REASON_SDK_TRAJECTORY)]
    assert [g.root.span_id for g in grouped.groups] == [3]


def test_verdicts_by_the_sdk_rules() -> None:
    exc = ("exception", {"exception.type": "ValueError", "exception.message": "bad"})
    # ERROR root with a failed model call (not a tool): Unknown, from the root's error.
    spans = [
        span(1, None, "invoke_agent a", 0, 10, agent("a"), status=ERROR, events=(exc,)),
        span(2, 1, "chat", 1, 5, chat("m", 1, 1), status=ERROR, events=(exc,)),
    ]
    t = build_framework_trajectory(group_trace(spans).groups[0])
    assert isinstance(t.verdict, FailureVerdict)
    assert t.verdict.cause == Unknown("ValueError: bad")
    assert t.steps[0].outcome == FailureOutcome("ValueError: bad")
    assert t.quality == 0.0
    # ERROR root after a failed tool with another error: the tool is the cause.
    spans = [
        span(1, None, "invoke_agent a", 0, 10, agent("a"), status=ERROR, events=(("exception", {"exception.type": "Wrapped"}),)),
        span(2, 1, "execute_tool t", 1, 5, tool("t"), status=ERROR, events=(exc,)),
    ]
    t = build_framework_trajectory(group_trace(spans).groups[0])
    assert t.verdict == FailureVerdict(ToolFailure("t", "ValueError: bad"))
    # ERROR root with no step at all; and an agent that made no call, ended fine.
    t = build_framework_trajectory(group_trace([span(1, None, "invoke_agent a", 0, 10, agent("a"), status=ERROR)]).groups[0])
    assert t.verdict == FailureVerdict(Unknown("span 'invoke_agent a' ended with status ERROR"))
    assert t.steps == ()
    t = build_framework_trajectory(group_trace([span(1, None, "invoke_agent a", 0, 10, agent("a"))]).groups[0])
    assert isinstance(t.verdict, SuccessVerdict)
    assert t.quality == 1.0
    # Some steps failed, the root did not: Partial by ratio.
    spans = [
        span(1, None, "invoke_agent a", 0, 10, agent("a")),
        span(2, 1, "execute_tool t", 1, 2, tool("t"), status=ERROR),
        span(3, 1, "execute_tool t", 3, 4, tool("t")),
        span(4, 1, "execute_tool u", 5, 6, tool("u")),
        span(5, 1, "execute_tool t", 7, 8, tool("t")),
    ]
    t = build_framework_trajectory(group_trace(spans).groups[0])
    assert t.verdict == PartialVerdict(0.75)
    assert t.metadata.tools_invoked == ("t", "u")


def test_malformed_attributes_are_ignored() -> None:
    spans = [
        span(1, None, "agent", 0, 10, {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": 5}),
        span(
            2,
            1,
            "chat",
            1,
            5,
            {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": "12", "gen_ai.usage.output_tokens": -3},
        ),
        span(3, 1, "llm", 6, 7, {"openinference.span.kind": 7, "llm.token_count.prompt": 1 << 70}),
        span(4, 1, "tool", 8, 9, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": ["x"]}),
    ]
    [g] = group_trace(spans).groups
    t = build_framework_trajectory(g)
    assert [s.action for s in t.steps] == ["chat", "tool"]  # no model name; the tool named by its span
    assert (t.metadata.total_input_tokens, t.metadata.total_output_tokens) == (0, 0)
    assert t.metadata.attributes["trajectory.name"] == "agent"


_attr_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(1 << 70), 1 << 70),
    st.text(max_size=5),
    st.floats(),
    st.lists(st.integers(), max_size=2),
)
_attrs = st.dictionaries(
    st.sampled_from(
        [
            "gen_ai.operation.name",
            "openinference.span.kind",
            "traceloop.span.kind",
            "gen_ai.agent.name",
            "gen_ai.tool.name",
            "gen_ai.request.model",
            "gen_ai.usage.input_tokens",
            "llm.token_count.completion",
            "trajectory.id",
        ]
    ),
    st.one_of(
        _attr_values, st.sampled_from(["invoke_agent", "chat", "execute_tool", "AGENT", "CHAIN", "LLM", "TOOL", "workflow"])
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 12),
            st.one_of(st.none(), st.integers(0, 14)),
            st.booleans(),
            _attrs,
            st.integers(-5, 5),
            st.integers(0, 3),
        ),
        max_size=14,
    )
)
def test_random_span_sets_never_raise_and_every_span_is_counted_once(rows: list[Any]) -> None:
    spans = {}
    for sid, parent, remote, attrs, start, status in rows:
        spans[sid] = span(sid, parent, f"s{sid}", start, start + 3, attrs, status=status, remote=remote)
    grouped = group_trace(spans.values())
    seen = [s.span_id for g in grouped.groups for s in g.spans] + [s.span_id for s, _ in grouped.unassigned]
    assert sorted(seen) == sorted(spans)
    for g in grouped.groups:
        t = build_framework_trajectory(g)
        assert [s.index for s in t.steps] == list(range(len(t.steps)))
        assert 0.0 <= t.quality <= 1.0
