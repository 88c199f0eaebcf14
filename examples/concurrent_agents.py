"""Many agents at once: an anyio task group running concurrent trajectories.

Each agent's steps land in its own trajectory, with dense step indices, however their
awaits interleave. Run: python examples/concurrent_agents.py [agents]

Run as a script it sets up tracing with ``configure()``: scored trajectories go to the
embedded store (``$TRAJECTORIES_DB`` or ./trajectories.db; see them with
``trajectories list``), and with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set every span also goes
to that collector or backend over OTLP/HTTP (pip install 'trajectories[otlp]').
"""

from __future__ import annotations

import random
import sys

import anyio
import anyio.lowlevel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trajectories.config import configure
from trajectories.instrument import TrajectoryFailed, current_step, step, trajectory
from trajectories.model import RootCause, Trajectory


@step(rationale="Look things up")
async def research(topic: str, rng: random.Random) -> str:
    await anyio.sleep(rng.random() / 100)
    if rng.random() < 0.2:
        current_step().retry("index busy", ["retry later"])  # type: ignore[union-attr]
    return f"notes on {topic}"


@step(tool="web_fetch")
async def fetch(url: str, rng: random.Random) -> str:
    await anyio.sleep(rng.random() / 100)
    if rng.random() < 0.1:
        raise TrajectoryFailed(RootCause.tool_failure("web_fetch", f"{url} returned 503"))
    return f"<html>{url}</html>"


@step(model="demo-model")
async def write(notes: list[str]) -> str:
    current_step().add_tokens(input=50 * len(notes), output=80)  # type: ignore[union-attr]
    await anyio.lowlevel.checkpoint()
    return " / ".join(notes)


async def agent(n: int, provider: TracerProvider | None, results: list[Trajectory]) -> None:
    rng = random.Random(n)
    try:
        async with trajectory(f"agent-{n}", session_id=f"s-{n % 10}", tracer_provider=provider) as t:
            notes = [await research(f"topic {n}.{i}", rng) for i in range(rng.randint(1, 3))]
            notes.append(await fetch(f"https://example.com/{n}", rng))
            await write(notes)
    except TrajectoryFailed:
        pass  # the verdict records it; the other agents carry on
    assert t.result is not None
    results.append(t.result)


async def run(agents: int, provider: TracerProvider | None) -> list[Trajectory]:
    results: list[Trajectory] = []
    async with anyio.create_task_group() as tg:
        for n in range(agents):
            tg.start_soon(agent, n, provider, results)
    return results


def main(agents: int = 50, provider: TracerProvider | None = None) -> list[Trajectory]:
    """Run *agents* concurrently on *provider*, or, without one, on what ``configure()`` sets up."""
    memory: InMemorySpanExporter | None = None
    config = None
    if provider is None:
        config = configure("concurrent-agents")
    else:
        memory = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory))
    results = anyio.run(run, agents, provider)
    if config is not None:
        config.flush()
        spans = config.exporter.stats.spans_seen
        config.shutdown()
    else:
        assert memory is not None
        spans = len(memory.get_finished_spans())
    by_verdict: dict[str, int] = {}
    for r in results:
        by_verdict[r.verdict.kind] = by_verdict.get(r.verdict.kind, 0) + 1
    mean = sum(r.quality for r in results) / len(results)
    print(f"{len(results)} trajectories, {spans} spans, mean quality {mean:.3f}")
    print("verdicts:", ", ".join(f"{k}={v}" for k, v in sorted(by_verdict.items())))
    return results


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
