"""The OpenAI Agents SDK, traced by OpenInference: configure() turns each run into a trajectory.

Run: .venv-frameworks/bin/python examples/frameworks_openai_agents.py (make frameworks installs both)
A real app passes a real model (``model="gpt-4o"``); ``CannedModel`` stands in for it offline.
"""

import json
from typing import Any

from agents import Agent, Model, ModelResponse, Runner, Usage, function_tool
from agents.tracing import generation_span
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

from trajectories import Trajectory, configure


def show(t: Trajectory) -> None:
    m = t.metadata
    name, actions = m.attributes["trajectory.name"], [s.action for s in t.steps]
    print(f"{name}: {t.verdict}, steps {actions}, tokens {m.total_input_tokens}/{m.total_output_tokens}")


class CannedModel(Model):
    """Asks for get_weather("Paris"), then answers; traced like the SDK's own models."""

    def __init__(self) -> None:
        call = ResponseFunctionToolCall(
            type="function_call", call_id="c1", name="get_weather", arguments=json.dumps({"city": "Paris"})
        )
        text = ResponseOutputText(type="output_text", text="Sunny.", annotations=[])
        answer = ResponseOutputMessage(id="m1", type="message", role="assistant", status="completed", content=[text])
        self.turns: list[list[Any]] = [[call], [answer]]

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        with generation_span(model="canned-gpt") as span:
            span.span_data.usage = {"input_tokens": 40, "output_tokens": 10}
            return ModelResponse(
                output=self.turns.pop(0), usage=Usage(1, 40, output_tokens=10, total_tokens=50), response_id=None
            )

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


config = configure("weather-app", store=False, batch=False, sinks=[show])
OpenAIAgentsInstrumentor().instrument()  # OpenInference spans, into the provider configure() installed
result = Runner.run_sync(Agent(name="weather_agent", model=CannedModel(), tools=[get_weather]), "Weather in Paris?")
config.flush()
print(f"Agents SDK usage: {result.context_wrapper.usage.input_tokens}/{result.context_wrapper.usage.output_tokens}")
