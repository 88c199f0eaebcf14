"""The conventions module: every convention's keys read into one SpanFacts; malformed values never raise."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trajectories._internal.conventions import NOT_GENAI, Role, SpanFacts, error_text, span_facts

ERROR, OK, UNSET = 2, 1, 0


@pytest.mark.parametrize(
    ("operation", "role"),
    [
        ("invoke_agent", Role.AGENT),
        ("invoke_workflow", Role.AGENT),
        ("plan", Role.CHAIN),
        ("chat", Role.MODEL),
        ("text_completion", Role.MODEL),
        ("generate_content", Role.MODEL),
        ("embeddings", Role.MODEL),
        ("execute_tool", Role.TOOL),
        ("retrieval", Role.RETRIEVAL),
        ("search_memory", Role.RETRIEVAL),
        ("create_agent", Role.OTHER),
        ("create_memory", Role.OTHER),
        ("update_memory", Role.OTHER),
        ("upsert_memory", Role.OTHER),
        ("delete_memory", Role.OTHER),
        ("create_memory_store", Role.OTHER),
        ("delete_memory_store", Role.OTHER),
        ("something_new", Role.OTHER),
    ],
)
def test_gen_ai_operations(operation: str, role: Role) -> None:
    facts = span_facts("x", {"gen_ai.operation.name": operation})
    assert facts.role is role
    assert facts.convention == "gen_ai"
    assert facts.operation == operation


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        ("AGENT", Role.AGENT),
        ("CHAIN", Role.CHAIN),
        ("LLM", Role.MODEL),
        ("EMBEDDING", Role.MODEL),
        ("TOOL", Role.TOOL),
        ("RETRIEVER", Role.RETRIEVAL),
        ("RERANKER", Role.RETRIEVAL),
        ("GUARDRAIL", Role.OTHER),
        ("EVALUATOR", Role.OTHER),
        ("UNKNOWN", Role.OTHER),
        ("llm", Role.MODEL),  # read case-insensitively
    ],
)
def test_openinference_kinds(kind: str, role: Role) -> None:
    facts = span_facts("x", {"openinference.span.kind": kind})
    assert facts.role is role
    assert facts.convention == "openinference"
    assert facts.operation == kind.lower()


@pytest.mark.parametrize(
    ("attrs", "role"),
    [
        ({"traceloop.span.kind": "workflow"}, Role.AGENT),
        ({"traceloop.span.kind": "agent"}, Role.AGENT),
        ({"traceloop.span.kind": "task"}, Role.CHAIN),
        ({"traceloop.span.kind": "tool"}, Role.TOOL),
        ({"traceloop.span.kind": "other"}, Role.OTHER),
        ({"llm.request.type": "chat"}, Role.MODEL),
        ({"llm.request.type": "completion"}, Role.MODEL),
        ({"llm.request.type": "embedding"}, Role.MODEL),
        ({"llm.request.type": "rerank"}, Role.RETRIEVAL),
    ],
)
def test_openllmetry_kinds(attrs: dict[str, Any], role: Role) -> None:
    facts = span_facts("x", attrs)
    assert facts.role is role
    assert facts.convention == "openllmetry"


def test_gen_ai_model_span_reads_every_fact() -> None:
    facts = span_facts(
        "chat gpt-4o",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.provider.name": "openai",
            "gen_ai.system": "ignored-when-provider-is-set",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 3,
            "gen_ai.agent.name": "support",
            "gen_ai.conversation.id": "conv-1",
            "user.id": "u-7",
        },
    )
    assert facts == SpanFacts(
        role=Role.MODEL,
        convention="gen_ai",
        operation="chat",
        agent_name="support",
        model="gpt-4o",
        provider="openai",
        input_tokens=12,
        output_tokens=3,
        session_id="conv-1",
        user_id="u-7",
    )


def test_gen_ai_tool_and_response_model_fallback() -> None:
    facts = span_facts(
        "execute_tool lookup",
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "lookup",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.response.model": "m-resp",
            "gen_ai.system": "anthropic",
        },
    )
    assert (facts.role, facts.tool_name, facts.tool_call_id, facts.model, facts.provider) == (
        Role.TOOL,
        "lookup",
        "call_1",
        "m-resp",
        "anthropic",
    )


def test_openinference_llm_and_agent_and_tool() -> None:
    llm = span_facts(
        "generation",
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini",
            "llm.provider": "openai",
            "llm.token_count.prompt": 40,
            "llm.token_count.completion": 12,
            "llm.token_count.total": 52,
            "session.id": "s-1",
            "user.id": "u-1",
        },
    )
    assert (llm.role, llm.model, llm.provider, llm.input_tokens, llm.output_tokens, llm.session_id, llm.user_id) == (
        Role.MODEL,
        "gpt-4o-mini",
        "openai",
        40,
        12,
        "s-1",
        "u-1",
    )
    agent = span_facts("weather_agent", {"openinference.span.kind": "AGENT", "agent.name": "weather_agent"})
    assert (agent.role, agent.agent_name) == (Role.AGENT, "weather_agent")
    tool = span_facts("get_weather", {"openinference.span.kind": "TOOL", "tool.name": "get_weather"})
    assert (tool.role, tool.tool_name) == (Role.TOOL, "get_weather")


def test_openllmetry_entity_names_and_usage() -> None:
    workflow = span_facts("wf.workflow", {"traceloop.span.kind": "workflow", "traceloop.entity.name": "wf"})
    assert (workflow.role, workflow.agent_name) == (Role.AGENT, "wf")
    tool = span_facts("t.tool", {"traceloop.span.kind": "tool", "traceloop.entity.name": "search"})
    assert (tool.role, tool.tool_name) == (Role.TOOL, "search")
    task = span_facts("t.task", {"traceloop.span.kind": "task", "traceloop.entity.name": "step"})
    assert (task.role, task.agent_name, task.tool_name) == (Role.CHAIN, None, None)
    llm = span_facts(
        "openai.chat",
        {
            "llm.request.type": "chat",
            "gen_ai.system": "OpenAI",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.prompt_tokens": 9,
            "gen_ai.usage.completion_tokens": 2,
            "llm.usage.total_tokens": 11,
            "traceloop.association.properties.session_id": "s",
            "traceloop.association.properties.user_id": "u",
        },
    )
    assert (llm.role, llm.operation, llm.input_tokens, llm.output_tokens, llm.session_id, llm.user_id) == (
        Role.MODEL,
        "chat",
        9,
        2,
        "s",
        "u",
    )
    old = span_facts("x", {"llm.request.type": "completion", "llm.usage.prompt_tokens": 5, "llm.usage.completion_tokens": 1})
    assert (old.input_tokens, old.output_tokens) == (5, 1)


def test_current_and_older_token_names_count_once() -> None:
    facts = span_facts(
        "chat",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.prompt_tokens": 10,
            "llm.token_count.prompt": 10,
            "gen_ai.usage.output_tokens": 4,
            "gen_ai.usage.completion_tokens": 4,
        },
    )
    assert (facts.input_tokens, facts.output_tokens) == (10, 4)


def test_older_token_names_alone() -> None:
    facts = span_facts(
        "chat", {"gen_ai.operation.name": "chat", "gen_ai.usage.prompt_tokens": 7, "gen_ai.usage.completion_tokens": 1}
    )
    assert (facts.input_tokens, facts.output_tokens) == (7, 1)


def test_usage_without_an_operation_is_a_model_call() -> None:
    facts = span_facts("openai.chat", {"gen_ai.system": "openai", "gen_ai.usage.input_tokens": 3})
    assert (facts.role, facts.convention, facts.input_tokens) == (Role.MODEL, "gen_ai", 3)


def test_gen_ai_wins_over_openinference_on_one_span() -> None:
    facts = span_facts("x", {"gen_ai.operation.name": "execute_tool", "openinference.span.kind": "LLM"})
    assert (facts.role, facts.convention) == (Role.TOOL, "gen_ai")


def test_span_of_no_convention_is_the_shared_value() -> None:
    assert span_facts("GET /", {"http.method": "GET", "http.route": "/"}, OK, ()) is NOT_GENAI
    assert span_facts("x", {}) is NOT_GENAI
    assert NOT_GENAI.role is Role.OTHER
    assert NOT_GENAI.convention is None


def test_events_are_not_read_for_a_span_that_did_not_fail() -> None:
    def boom() -> list[Any]:
        raise AssertionError("events read")

    assert span_facts("x", {"gen_ai.operation.name": "chat"}, OK, boom).error is None
    assert span_facts("x", {}, UNSET, boom) is NOT_GENAI


# --------------------------------------------------------------------------- errors


def test_error_from_the_last_exception_event() -> None:
    events = [
        ("exception", {"exception.type": "KeyError", "exception.message": "first"}),
        ("log", {"message": "x"}),
        ("exception", {"exception.type": "RuntimeError", "exception.message": "clock broken"}),
    ]
    facts = span_facts("execute_tool t", {"gen_ai.operation.name": "execute_tool"}, ERROR, events)
    assert facts.error == "RuntimeError: clock broken"


def test_error_type_only_message_only_and_sdk_event_objects() -> None:
    class Event:
        name = "exception"
        attributes = {"exception.type": "ValueError"}  # noqa: RUF012

    assert error_text("x", {}, ERROR, [Event()]) == "ValueError"
    assert error_text("x", {}, ERROR, [("exception", {"exception.message": "only a message"})]) == "only a message"


def test_error_type_attribute_without_status_and_status_without_anything() -> None:
    assert span_facts("x", {"gen_ai.operation.name": "chat", "error.type": "timeout"}, UNSET, ()).error == "timeout"
    assert span_facts("chat x", {"gen_ai.operation.name": "chat"}, ERROR, ()).error == "span 'chat x' ended with status ERROR"


def test_the_status_description_when_nothing_better_is_there() -> None:
    attrs = {"openinference.span.kind": "TOOL"}
    assert span_facts("t", attrs, ERROR, (), "Error running tool (non-fatal)").error == "Error running tool (non-fatal)"
    exc = [("exception", {"exception.type": "E", "exception.message": "m"})]
    assert span_facts("t", attrs, ERROR, exc, "description").error == "E: m"
    assert span_facts("t", attrs, ERROR, (), 5).error == "span 't' ended with status ERROR"


def test_a_handled_exception_is_not_an_error() -> None:
    events = [("exception", {"exception.type": "KeyError", "exception.message": "handled"})]
    assert span_facts("x", {"gen_ai.operation.name": "chat"}, OK, events).error is None


def test_an_error_on_a_span_of_no_convention_is_still_read() -> None:
    facts = span_facts(
        "GET /", {"http.method": "GET"}, ERROR, [("exception", {"exception.type": "OSError", "exception.message": "x"})]
    )
    assert (facts.role, facts.convention, facts.error) == (Role.OTHER, None, "OSError: x")


# --------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize("bad", ["12", -1, 1 << 64, 1.5, True, None, [3], float("nan")])
def test_a_token_count_that_is_not_a_u64_is_ignored(bad: object) -> None:
    facts = span_facts(
        "x", {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": bad, "gen_ai.usage.output_tokens": bad}
    )
    assert (facts.input_tokens, facts.output_tokens) == (None, None)


def test_a_bad_current_count_falls_back_to_an_older_name() -> None:
    facts = span_facts(
        "x", {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": "12", "gen_ai.usage.prompt_tokens": 12}
    )
    assert facts.input_tokens == 12


def test_u64_bounds() -> None:
    top = (1 << 64) - 1
    assert span_facts("x", {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": top}).input_tokens == top
    assert span_facts("x", {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 0}).input_tokens == 0


@pytest.mark.parametrize("bad", [3, None, b"LLM", ["LLM"], {"k": "v"}, 1.0])
def test_a_kind_that_is_not_a_string_is_other(bad: object) -> None:
    for key in ("gen_ai.operation.name", "openinference.span.kind", "traceloop.span.kind", "llm.request.type"):
        facts = span_facts("x", {key: bad})
        assert facts.role is Role.OTHER
        assert facts.convention is None


def test_names_that_are_not_strings_are_ignored_and_huge_strings_are_fine() -> None:
    huge = "m" * 1_000_000
    facts = span_facts(
        "x", {"gen_ai.operation.name": "chat", "gen_ai.request.model": 5, "gen_ai.response.model": huge, "user.id": []}
    )
    assert facts.model == huge
    assert facts.user_id is None


def test_a_mapping_that_raises_is_not_a_crash() -> None:
    class Hostile(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            raise RuntimeError("hostile")

    assert span_facts("x", Hostile()) is NOT_GENAI
    assert error_text("x", Hostile(), ERROR, ()) == "span ended with status ERROR"


def test_malformed_events_are_skipped() -> None:
    events: list[Any] = [None, 3, ("exception",), ("exception", "not a mapping"), ("exception", {"exception.type": 5})]
    assert error_text("x", {}, ERROR, events) == "span 'x' ended with status ERROR"


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=5),
    st.lists(st.integers(), max_size=3),
)
_keys = st.sampled_from(
    [
        "gen_ai.operation.name",
        "openinference.span.kind",
        "traceloop.span.kind",
        "llm.request.type",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "llm.token_count.completion",
        "gen_ai.request.model",
        "llm.model_name",
        "gen_ai.agent.name",
        "tool.name",
        "traceloop.entity.name",
        "error.type",
        "session.id",
    ]
)
_kinds = st.sampled_from(["chat", "invoke_agent", "execute_tool", "LLM", "AGENT", "TOOL", "workflow", "tool", "chat"])


@given(
    attrs=st.dictionaries(st.one_of(_keys, st.text(max_size=8)), st.one_of(_values, _kinds), max_size=10),
    status=st.one_of(st.integers(-3, 5), st.none(), st.text(max_size=3)),
    events=st.lists(
        st.one_of(_values, st.tuples(st.just("exception"), st.dictionaries(st.text(max_size=20), _values))), max_size=3
    ),
)
def test_never_raises_and_every_fact_has_its_type(attrs: dict[str, Any], status: Any, events: list[Any]) -> None:
    facts = span_facts("name", attrs, status, events)
    assert isinstance(facts.role, Role)
    for value in (facts.input_tokens, facts.output_tokens):
        assert value is None or (type(value) is int and 0 <= value < 1 << 64)
    for text in (facts.model, facts.agent_name, facts.tool_name, facts.session_id, facts.error, facts.provider):
        assert text is None or isinstance(text, str)
