"""The real framework runs, offline: each framework's own test/fake model, no keys, no network.

Every scenario runs one agent under the process's tracer provider (``install(provider)`` wires
the three frameworks' instrumentation to it once) and returns the framework's OWN report of
the run: its usage (pydantic-ai ``result.usage()``, the Agents SDK's
``result.context_wrapper.usage``, LangChain's ``usage_metadata`` via its usage callback), the
tool calls it made in order, the model name and whether the run raised.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import anyio
from agents import Agent as OAIAgent
from agents import Model, ModelResponse, Runner, Usage, function_tool
from agents.tracing import generation_span
from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText
from openinference.instrumentation.langchain import LangChainInstrumentor
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from pydantic_ai import Agent, InstrumentationSettings, RunContext
from pydantic_ai.messages import ModelMessage, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.messages import ModelResponse as PaiResponse
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

Expected = dict[str, Any]
SCENARIOS = ("two_tools", "tool_raises")
FRAMEWORKS = ("pydantic_ai", "openai_agents", "langgraph")
#: Runs with a nested agent: pydantic-ai's agent delegation (an agent called inside a tool) and
#: an Agents SDK handoff (the run moves from one agent to another).
NESTED = (("pydantic_ai", "delegation"), ("openai_agents", "handoff"))
#: Every (framework, scenario) there is a fixture of.
ALL = (*((f, s) for f in FRAMEWORKS for s in SCENARIOS), *NESTED)

_installed: list[TracerProvider] = []


def install(provider: TracerProvider) -> None:
    """Instrument the three frameworks once, into *provider* (the instrumentations are global)."""
    if _installed:
        if _installed[0] is not provider:
            raise RuntimeError("the frameworks are already instrumented into another provider")
        return
    Agent.instrument_all(InstrumentationSettings(tracer_provider=provider))
    OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)
    LangChainInstrumentor().instrument(tracer_provider=provider)
    _installed.append(provider)


class ToolBroke(RuntimeError):
    """What the failing tool raises in every framework's tool_raises scenario."""


# --------------------------------------------------------------------------- pydantic-ai


def _weather_function(messages: list[ModelMessage], info: AgentInfo) -> PaiResponse:
    """A FunctionModel: first ask for the weather in two cities, then answer from the results."""
    returned = [p for m in messages for p in getattr(m, "parts", ()) if isinstance(p, ToolReturnPart)]
    if not returned:
        return PaiResponse(
            parts=[
                ToolCallPart("get_weather", {"city": "Paris"}, "call_1"),
                ToolCallPart("get_weather", {"city": "Rome"}, "call_2"),
            ]
        )
    return PaiResponse(parts=[TextPart("; ".join(str(p.content) for p in returned))])


def _router_function(messages: list[ModelMessage], info: AgentInfo) -> PaiResponse:
    """A FunctionModel: ask the expert once, then answer."""
    if not any(isinstance(p, ToolReturnPart) for m in messages for p in getattr(m, "parts", ())):
        return PaiResponse(parts=[ToolCallPart("ask_expert", {"question": "What is the weather?"}, "call_1")])
    return PaiResponse(parts=[TextPart("The expert says it is sunny.")])


def _delegation() -> Expected:
    expert: Agent[None, str] = Agent(TestModel(custom_output_text="It is sunny.", model_name="expert-model"), name="expert_agent")
    router: Agent[None, str] = Agent(FunctionModel(_router_function, model_name="router-fn"), name="router_agent")

    @router.tool
    async def ask_expert(ctx: RunContext[None], question: str) -> str:
        answer = await expert.run(question, usage=ctx.usage)  # pydantic-ai's delegation: one usage for both
        return str(answer.output)

    result = router.run_sync("What is the weather?")
    usage = result.usage
    return _expected("router-fn", usage.input_tokens, usage.output_tokens, ["ask_expert"], False, ["router-fn", "expert-model"])


def pydantic_ai(scenario: str) -> Expected:
    if scenario == "delegation":
        return _delegation()
    if scenario == "two_tools":
        agent: Agent[None, str] = Agent(FunctionModel(_weather_function, model_name="weather-fn"), name="weather_agent")

        @agent.tool_plain
        def get_weather(city: str) -> str:
            return f"sunny in {city}"

        result = agent.run_sync("What is the weather in Paris and Rome?")
        usage = result.usage  # pydantic-ai 2.x: a property (result.usage() is deprecated)
        return _expected("weather-fn", usage.input_tokens, usage.output_tokens, ["get_weather", "get_weather"], False)
    agent = Agent(TestModel(call_tools=["get_time"], model_name="test-model"), name="clock_agent")

    @agent.tool_plain
    def get_time(city: str) -> str:
        raise ToolBroke(f"clock broken for {city}")

    runs: list[Any] = []

    async def run() -> None:
        async with agent.iter("What time is it?") as agent_run:
            runs.append(agent_run)
            async for _ in agent_run:
                pass

    try:
        anyio.run(run)
    except ToolBroke:
        pass
    else:
        raise AssertionError("the tool did not raise")
    inp, out = runs[0].usage.input_tokens, runs[0].usage.output_tokens  # the run's own usage, up to the failure
    return _expected("test-model", inp, out, ["get_time"], True)


# --------------------------------------------------------------------------- OpenAI Agents SDK


class CannedModel(Model):
    """A fake Agents SDK ``Model``: canned responses with usage, traced as the SDK's models trace."""

    def __init__(self, name: str, turns: list[tuple[list[Any], int, int]]) -> None:
        self.name = name
        self.turns = list(turns)

    async def get_response(self, system_instructions: Any, input: Any, model_settings: Any, tools: Any, output_schema: Any,
                           handoffs: Any, tracing: Any, *, previous_response_id: Any = None, conversation_id: Any = None,
                           prompt: Any = None) -> ModelResponse:  # fmt: skip
        output, inp, out = self.turns.pop(0)
        with generation_span(model=self.name, disabled=tracing.is_disabled()) as span:
            span.span_data.usage = {"input_tokens": inp, "output_tokens": out}
            usage = Usage(requests=1, input_tokens=inp, output_tokens=out, total_tokens=inp + out)
            return ModelResponse(output=output, usage=usage, response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("CannedModel does not stream")


def _call(name: str, args: dict[str, str], call_id: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(type="function_call", call_id=call_id, name=name, arguments=json.dumps(args), id=call_id)


def _message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="msg_1",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


@function_tool
def oai_get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@function_tool
def oai_get_time(city: str) -> str:
    """The time in a city."""
    raise ToolBroke(f"clock broken for {city}")


def _handoff() -> Expected:
    weather_model = CannedModel(
        "canned-weather",
        [([_call("oai_get_weather", {"city": "Paris"}, "c2")], 30, 6), ([_message("Sunny in Paris.")], 50, 4)],
    )
    weather = OAIAgent(name="weather_agent", model=weather_model, tools=[oai_get_weather])
    triage_model = CannedModel("canned-triage", [([_call("transfer_to_weather_agent", {}, "c1")], 20, 3)])
    triage = OAIAgent(name="triage_agent", model=triage_model, handoffs=[weather])
    result = Runner.run_sync(triage, "What is the weather in Paris?")
    usage = result.context_wrapper.usage
    # The handoff is a tool call of the model's: OpenInference names its span "handoff to weather_agent".
    calls = ["handoff to weather_agent", "oai_get_weather"]
    return _expected("canned-triage", usage.input_tokens, usage.output_tokens, calls, False, ["canned-triage", "canned-weather"])


def openai_agents(scenario: str) -> Expected:
    if scenario == "handoff":
        return _handoff()
    if scenario == "two_tools":
        model = CannedModel(
            "canned-gpt",
            [([_call("oai_get_weather", {"city": "Paris"}, "c1"), _call("oai_get_weather", {"city": "Rome"}, "c2")], 40, 12),
             ([_message("Sunny in both.")], 70, 8)],
        )  # fmt: skip
        agent = OAIAgent(name="weather_agent", model=model, tools=[oai_get_weather])
        calls = ["oai_get_weather", "oai_get_weather"]
    else:
        model = CannedModel(
            "canned-gpt", [([_call("oai_get_time", {"city": "Paris"}, "c1")], 40, 12), ([_message("Sorry.")], 60, 5)]
        )
        agent = OAIAgent(name="clock_agent", model=model, tools=[oai_get_time])
        calls = ["oai_get_time"]
    # The Agents SDK hands a tool's exception back to the model (the run goes on), so this never raises.
    result = Runner.run_sync(agent, "What is the weather?")
    usage = result.context_wrapper.usage
    return _expected("canned-gpt", usage.input_tokens, usage.output_tokens, calls, False)


# --------------------------------------------------------------------------- LangGraph


class NamedFakeChatModel(FakeMessagesListChatModel):
    """langchain-core's fake chat model, with a model name in its identifying params."""

    model_name: str = "fake-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}


class State(TypedDict):
    messages: Annotated[list[BaseMessage], add_messages]


@tool
def lg_get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@tool
def lg_get_time(city: str) -> str:
    """The time in a city."""
    raise ToolBroke(f"clock broken for {city}")


def _ai(text: str, calls: list[tuple[str, str, str]], inp: int, out: int) -> AIMessage:
    return AIMessage(
        content=text,
        tool_calls=[{"name": n, "args": {"city": c}, "id": i} for n, c, i in calls],
        usage_metadata={"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out},
        response_metadata={"model_name": "fake-chat"},
    )


def build_graph(model: NamedFakeChatModel, tools: list[Any]) -> Any:
    """The classic LangGraph agent loop: an ``agent`` node and a ``tools`` node."""

    def call_model(state: State) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(State)
    graph.add_node("agent", call_model)
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    return graph.compile()


def langgraph(scenario: str) -> Expected:
    if scenario == "two_tools":
        responses = [
            _ai("", [("lg_get_weather", "Paris", "c1"), ("lg_get_weather", "Rome", "c2")], 30, 9),
            _ai("Sunny in both.", [], 55, 4),
        ]
        app, calls = build_graph(NamedFakeChatModel(responses=responses), [lg_get_weather]), ["lg_get_weather", "lg_get_weather"]
    else:
        responses = [_ai("", [("lg_get_time", "Paris", "c1")], 30, 9)]
        app, calls = build_graph(NamedFakeChatModel(responses=responses), [lg_get_time]), ["lg_get_time"]
    failed = False
    with get_usage_metadata_callback() as usage_cb:
        try:
            app.invoke({"messages": [HumanMessage("What is the weather?")]})
        except ToolBroke:
            failed = True
    usage = usage_cb.usage_metadata["fake-chat"]
    return _expected("fake-chat", usage["input_tokens"], usage["output_tokens"], calls, failed)


def _expected(model: str, inp: int, out: int, calls: list[str], failed: bool, models: list[str] | None = None) -> Expected:
    """The framework's own report of the run: usage, tool calls in order, the model(s), whether it raised."""
    return {
        "usage": {"input_tokens": inp, "output_tokens": out},
        "tool_calls": calls,
        "model": model,
        "models": models if models is not None else [model],
        "failed": failed,
    }


RUNNERS: dict[str, Callable[[str], Expected]] = {
    "pydantic_ai": pydantic_ai,
    "openai_agents": openai_agents,
    "langgraph": langgraph,
}
