"""An async consumer of scored trajectories: ``async for t in sink`` while agents run.

    python examples/stream_consumer.py [asyncio|trio]

The exporter runs in the BatchSpanProcessor's worker thread; StreamSink hands each
trajectory to this event loop through an anyio memory object stream, so the consumer is a
plain ``async for`` that works under asyncio and trio alike.
"""

from __future__ import annotations

import sys

import anyio

from trajectories.config import configure
from trajectories.export import StreamSink
from trajectories.instrument import current_step, step, trajectory


@step(action="plan", rationale="Break the task down")
async def plan(task: str) -> list[str]:
    await anyio.sleep(0.01)
    return task.split()


@step(action="act")
async def act(part: str) -> None:
    await anyio.sleep(0.005)
    if part == "flaky":
        s = current_step()
        if s is not None:
            s.retry("timed out", ["retry with backoff"])


async def agent(task: str) -> None:
    async with trajectory("worker", query=task):
        for part in await plan(task):
            await act(part)


async def main() -> int:
    sink = StreamSink()
    config = configure("stream-example", sinks=[sink])
    seen = 0

    async def consume() -> None:
        nonlocal seen
        async for t in sink:  # ends when the exporter shuts down
            seen += 1
            print(f"{t.id}  {t.verdict.description:<22} quality={t.quality:.3f}  steps={len(t.steps)}")

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        async with anyio.create_task_group() as agents:
            for task in ["read the docs", "call flaky api", "write flaky tests", "ship it"]:
                agents.start_soon(agent, task)
        # Flushing and shutting down wait for the exporter's thread: keep the loop free meanwhile.
        await anyio.to_thread.run_sync(config.shutdown)
    print(f"consumed {seen} trajectories")
    return 0 if seen == 4 else 1


if __name__ == "__main__":
    sys.exit(anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "asyncio"))
