"""What each framework scenario must become: shared by tests/export (fixtures) and tests/frameworks (live).

The values follow from the scenarios' design (tests/frameworks/scenarios.py): which calls the
fake model makes, which tool raises, and the SDK's verdict and quality rules. Tokens, tool
calls and the model are compared with the framework's OWN report of the run.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from trajectories._internal.export.frameworks import FrameworkSpan, build_framework_trajectory, group_trace
from trajectories.model import (
    FailureOutcome,
    FailureVerdict,
    PartialVerdict,
    SuccessOutcome,
    SuccessVerdict,
    ToolFailure,
    Trajectory,
)

MS = 1_000_000

# What each scenario must give: (name, source, actions, failed step indexes, verdict, quality).
CASES: dict[str, tuple[str, str, list[str], set[int], str, float]] = {
    "pydantic_ai_two_tools": (
        "weather_agent",
        "gen_ai",
        ["chat weather-fn", "get_weather", "get_weather", "chat weather-fn"],
        set(),
        "success",
        1.0,
    ),
    "pydantic_ai_tool_raises": ("clock_agent", "gen_ai", ["chat test-model", "get_time"], {1}, "failure", 0.15),
    "openai_agents_two_tools": (
        "weather_agent",
        "openinference",
        ["llm canned-gpt", "oai_get_weather", "oai_get_weather", "llm canned-gpt"],
        set(),
        "success",
        1.0,
    ),
    # The Agents SDK hands the tool's error back to the model and the run goes on: 2 of 3 steps succeeded.
    "openai_agents_tool_raises": (
        "clock_agent",
        "openinference",
        ["llm canned-gpt", "oai_get_time", "llm canned-gpt"],
        {1},
        "partial",
        0.5555556,
    ),
    "langgraph_two_tools": (
        "LangGraph",
        "openinference",
        ["llm fake-chat", "lg_get_weather", "lg_get_weather", "llm fake-chat"],
        set(),
        "success",
        1.0,
    ),
    "langgraph_tool_raises": ("LangGraph", "openinference", ["llm fake-chat", "lg_get_time"], {1}, "failure", 0.15),
    # An agent called inside a tool: its model call folds into the tool's step.
    "pydantic_ai_delegation": (
        "router_agent",
        "gen_ai",
        ["chat router-fn", "ask_expert", "chat router-fn"],
        set(),
        "success",
        1.0,
    ),
    # A handoff: the triage agent's steps, then the weather agent's, marked with its name.
    "openai_agents_handoff": (
        "triage_agent",
        "openinference",
        ["llm canned-triage", "handoff to weather_agent", "llm canned-weather", "oai_get_weather", "llm canned-weather"],
        set(),
        "success",
        1.0,
    ),
}

#: Per step (model, agent attribute) where a scenario nests agents; every other scenario's model
#: steps use expected["model"] and no step has an agent attribute.
NESTED_STEPS: dict[str, list[tuple[str | None, str | None]]] = {
    "pydantic_ai_delegation": [("router-fn", None), ("expert-model", None), ("router-fn", None)],
    "openai_agents_handoff": [
        ("canned-triage", None),
        (None, None),
        ("canned-weather", "weather_agent"),
        (None, "weather_agent"),
        ("canned-weather", "weather_agent"),
    ],
}


def check_scenario(name: str, spans: Sequence[FrameworkSpan], expected: dict[str, Any]) -> Trajectory:
    """Group and build *spans* (one scenario's run) and assert every fact of the trajectory exactly."""
    assert len({s.trace_id for s in spans}) == 1
    grouped = group_trace(spans)
    assert grouped.unassigned == []
    assert len(grouped.groups) == 1  # LangGraph's two "agent" node spans under its CHAIN root are one run
    t = build_framework_trajectory(grouped.groups[0])
    check_trajectory(name, t, expected, next(s for s in spans if s.parent_span_id is None))
    return t


def check_trajectory(name: str, t: Trajectory, expected: dict[str, Any], root: FrameworkSpan) -> None:
    """Every fact of scenario *name*'s trajectory, whichever path made it (*root*: its root span)."""
    title, source, actions, failed, verdict, quality = CASES[name]
    assert t.id == root.span_id & ((1 << 63) - 1)
    assert t.uuid == uuid.UUID(int=root.trace_id)
    assert t.metadata.attributes == {"trajectory.name": title, "source": source}
    assert [s.action for s in t.steps] == actions
    assert [s.index for s in t.steps] == list(range(len(actions)))
    assert {i for i, s in enumerate(t.steps) if isinstance(s.outcome, FailureOutcome)} == failed
    assert all(isinstance(s.outcome, SuccessOutcome) for i, s in enumerate(t.steps) if i not in failed)
    # Tokens: equal to the framework's own usage report, summed over the model calls only.
    assert t.metadata.total_input_tokens == expected["usage"]["input_tokens"]
    assert t.metadata.total_output_tokens == expected["usage"]["output_tokens"]
    model_steps = [s for s in t.steps if s.action.startswith(("chat ", "llm "))]
    tool_steps = [s for s in t.steps if s not in model_steps]
    assert all(s.metadata and s.metadata.input_tokens and s.metadata.output_tokens for s in model_steps)
    assert [s.metadata.tool_used for s in tool_steps if s.metadata] == expected["tool_calls"]
    if name in NESTED_STEPS:
        assert [(s.metadata.model, s.metadata.attributes.get("agent")) for s in t.steps if s.metadata] == NESTED_STEPS[name]
    else:
        assert all(s.metadata and s.metadata.model == expected["model"] for s in model_steps)
        assert all(s.metadata and "agent" not in s.metadata.attributes for s in t.steps)
    # A tool step has tokens only when a model call ran inside it (an agent used as a tool).
    for s in tool_steps:
        assert s.metadata is not None
        assert (s.metadata.input_tokens is not None) == (s.metadata.model is not None)
    assert t.metadata.models_used == tuple(expected["models"])
    assert t.metadata.tools_invoked == tuple(dict.fromkeys(expected["tool_calls"]))
    assert t.quality == quality
    if verdict == "success":
        assert isinstance(t.verdict, SuccessVerdict)
    elif verdict == "partial":
        assert isinstance(t.verdict, PartialVerdict)
        assert t.verdict.completion_ratio == 0.6666667
    else:
        assert expected["failed"] is True
        assert isinstance(t.verdict, FailureVerdict)
        cause = t.verdict.cause
        assert isinstance(cause, ToolFailure)
        assert cause.tool == expected["tool_calls"][-1]
        assert cause.error.startswith("tests.frameworks.scenarios.ToolBroke: clock broken for ")
        assert t.steps[-1].outcome == FailureOutcome(cause.error)
    assert t.total_latency_ms == (root.end_ns - root.start_ns) // MS
    assert t.steps[0].timestamp >= t.started_at
