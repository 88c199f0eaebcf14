"""Steps find their trajectory across task groups, threads and asyncio tasks; 1,000 at once stay apart."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio
import anyio.lowlevel
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.helpers.instrument import attr, roots, spans, steps_of
from trajectories import attributes as A
from trajectories.instrument import TrajectoryHandle, current_trajectory, step, trajectory

pytestmark = pytest.mark.anyio


@step
async def think(n: int) -> int:
    await anyio.lowlevel.checkpoint()
    return n


@step
def crunch(n: int) -> int:
    return n * 2


async def test_task_groups_and_threads_attach(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    threads: set[int] = set()

    @step
    def in_thread() -> TrajectoryHandle | None:
        threads.add(threading.get_ident())
        return current_trajectory()

    async with trajectory("fan-out", tracer_provider=tracer_provider) as t:
        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(think, i)
        assert await anyio.to_thread.run_sync(in_thread) is t
        assert await anyio.to_thread.run_sync(crunch, 4) == 8
    assert threading.get_ident() not in threads
    assert t.result is not None
    assert [s.index for s in t.result.steps] == list(range(7))
    assert sorted(s.action for s in t.result.steps) == ["crunch", "in_thread"] + ["think"] * 5
    (root,) = roots(span_exporter)
    for s in steps_of(span_exporter, int(t.id)):
        assert s.parent is not None
        assert s.parent.span_id == root.context.span_id


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_plain_asyncio_tasks_attach(anyio_backend: str, tracer_provider: TracerProvider) -> None:
    async with trajectory("tasks", tracer_provider=tracer_provider) as t:
        tasks = [asyncio.create_task(think(i)) for i in range(4)]
        assert await asyncio.gather(*tasks) == [0, 1, 2, 3]
        await asyncio.get_running_loop().run_in_executor(None, contextvars.copy_context().run, crunch, 1)
    assert t.result is not None
    assert [s.index for s in t.result.steps] == list(range(5))
    assert [s.action for s in t.result.steps].count("think") == 4


def test_steps_from_many_threads_get_dense_unique_indices(tracer_provider: TracerProvider) -> None:
    with trajectory("threads", tracer_provider=tracer_provider) as t, ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(contextvars.copy_context().run, crunch, i) for i in range(400)]
        assert sorted(f.result() for f in futures) == [i * 2 for i in range(400)]
    assert t.result is not None
    assert [s.index for s in t.result.steps] == list(range(400))


async def test_thousand_concurrent_trajectories(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    handles: dict[int, TrajectoryHandle] = {}
    expected_steps: dict[int, int] = {}

    async def agent(n: int) -> None:
        async with trajectory(f"agent-{n}", tracer_provider=tracer_provider, attributes={"n": str(n)}) as t:
            handles[n] = t
            for i in range(n % 4 + 1):
                assert await think(i) == i  # each await lets the other 999 agents interleave
                if i % 2:
                    crunch(i)
            expected_steps[n] = (n % 4 + 1) + sum(1 for i in range(n % 4 + 1) if i % 2)

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for n in range(1000):
            tg.start_soon(agent, n)
    elapsed = time.perf_counter() - started
    print(f"1000 concurrent trajectories: {elapsed:.2f}s, {len(spans(span_exporter))} spans")
    assert len({int(h.id) for h in handles.values()}) == 1000
    by_traj: defaultdict[int, list[int]] = defaultdict(list)
    for s in spans(span_exporter):
        index = attr(s, A.STEP_INDEX)
        if index is not None:
            by_traj[int(str(attr(s, A.TRAJECTORY_ID)))].append(int(str(index)))
    for n, h in handles.items():
        assert h.result is not None
        assert h.result.metadata.attributes["n"] == str(n)
        assert [s.index for s in h.result.steps] == list(range(expected_steps[n]))
        assert sorted(by_traj[int(h.id)]) == list(range(expected_steps[n]))
    root_traces = {s.context.trace_id: attr(s, A.TRAJECTORY_ID) for s in roots(span_exporter)}
    for s in spans(span_exporter):
        if attr(s, A.STEP_INDEX) is not None:
            assert root_traces[s.context.trace_id] == attr(s, A.TRAJECTORY_ID)


@pytest.fixture
def global_provider() -> Iterator[InMemorySpanExporter]:
    """Install a global provider *after* import, and put the previous global state back."""
    saved_provider = trace._TRACER_PROVIDER
    saved_done = trace._TRACER_PROVIDER_SET_ONCE._done
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace._TRACER_PROVIDER = None
    trace._TRACER_PROVIDER_SET_ONCE._done = False
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        provider.shutdown()
        trace._TRACER_PROVIDER = saved_provider
        trace._TRACER_PROVIDER_SET_ONCE._done = saved_done


def test_no_provider_still_gives_results() -> None:
    # with a no-op provider nothing is recorded, but the result is real and has real ids
    with trajectory("noop", tracer_provider=trace.NoOpTracerProvider()) as t:
        crunch(1)
    assert t.result is not None
    assert len(t.result.steps) == 1
    assert int(t.id) != 0


def test_provider_set_after_import_is_used(global_provider: InMemorySpanExporter) -> None:
    with trajectory("global") as t:  # no tracer_provider=: the global one, resolved now
        crunch(1)
    assert {s.name for s in global_provider.get_finished_spans()} == {"invoke_agent global", "crunch"}
    assert t.result is not None
    (root,) = [s for s in global_provider.get_finished_spans() if s.name == "invoke_agent global"]
    assert int(t.id) == root.context.span_id & (2**63 - 1)


async def test_one_step_object_entered_by_many_tasks(tracer_provider: TracerProvider) -> None:
    shared = step("shared")

    async def worker(i: int) -> None:
        async with shared as s:
            await anyio.sleep(0.002 * ((i * 7) % 10))  # exit in a different order than entry
            s.set_attribute("worker", str(i))
            if i % 2:
                s.partial("odd", "even")

    async with trajectory("shared", tracer_provider=tracer_provider) as t, anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(worker, i)
    assert t.result is not None
    for s in t.result.steps:
        assert s.metadata is not None
        assert s.outcome.is_success == (int(s.metadata.attributes["worker"]) % 2 == 0)
