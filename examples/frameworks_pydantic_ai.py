"""pydantic-ai emits the GenAI semantic conventions itself: configure() turns each run into a trajectory.

Run: .venv-frameworks/bin/python examples/frameworks_pydantic_ai.py (make frameworks installs pydantic-ai)
"""

from pydantic_ai import Agent
from pydantic_ai.models.test import TestModel

from trajectories import Trajectory, configure


def show(t: Trajectory) -> None:
    m = t.metadata
    name, actions = m.attributes["trajectory.name"], [s.action for s in t.steps]
    print(f"{name}: {t.verdict}, steps {actions}, tokens {m.total_input_tokens}/{m.total_output_tokens}")


config = configure("weather-app", store=False, batch=False, sinks=[show])
Agent.instrument_all()  # pydantic-ai's own OpenTelemetry spans, into the provider configure() installed
agent = Agent(TestModel(), name="weather_agent")


@agent.tool_plain
def get_weather(city: str) -> str:
    return f"sunny in {city}"


result = agent.run_sync("What is the weather in Paris?")
config.flush()
print(f"pydantic-ai usage: {result.usage.input_tokens}/{result.usage.output_tokens}")
