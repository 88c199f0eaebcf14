"""LangGraph, traced by OpenInference: configure() turns each graph run into a trajectory.

Run: .venv-frameworks/bin/python examples/frameworks_langgraph.py (make frameworks installs both)
A real app uses a real chat model; langchain-core's fake chat model stands in for it offline.
"""

from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from openinference.instrumentation.langchain import LangChainInstrumentor

from trajectories import Trajectory, configure


def show(t: Trajectory) -> None:
    m = t.metadata
    name, actions = m.attributes["trajectory.name"], [s.action for s in t.steps]
    print(f"{name}: {t.verdict}, steps {actions}, tokens {m.total_input_tokens}/{m.total_output_tokens}")


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


meta = {
    "usage_metadata": {"input_tokens": 30, "output_tokens": 9, "total_tokens": 39},
    "response_metadata": {"model_name": "fake"},
}
model = FakeMessagesListChatModel(responses=[
    AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}], **meta),
    AIMessage("Sunny.", **meta),
])  # fmt: skip
graph = StateGraph(MessagesState)
graph.add_node("agent", lambda state: {"messages": [model.invoke(state["messages"])]})
graph.add_node("tools", ToolNode([get_weather]))
graph.add_edge(START, "agent")
graph.add_conditional_edges("agent", tools_condition)
graph.add_edge("tools", "agent")

config = configure("weather-app", store=False, batch=False, sinks=[show])
LangChainInstrumentor().instrument()  # OpenInference spans, into the provider configure() installed
with get_usage_metadata_callback() as cb:
    graph.compile().invoke({"messages": [("user", "Weather in Paris?")]})
config.flush()
reported = cb.usage_metadata["fake"]
print(f"LangChain usage: {reported['input_tokens']}/{reported['output_tokens']}")
