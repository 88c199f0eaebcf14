"""The store as the exporter's sink: real instrumentation, real SDK provider, real exporter."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from trajectories.export import TrajectoryExporter
from trajectories.instrument import step, trajectory
from trajectories.store import SQLiteTrajectoryStore, StoreSink, TrajectoryFilter


@pytest.mark.anyio
async def test_exporter_writes_scored_trajectories_into_the_store(tmp_path: Path) -> None:
    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    exporter = TrajectoryExporter([StoreSink(store)], dead_letter_path=tmp_path / "dead.jsonl")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    @step(tool="kb_search", tracer_provider=provider)
    async def search(q: str) -> list[str]:
        await anyio.lowlevel.checkpoint()
        return [q]

    async def answer(n: int) -> None:
        async with trajectory("support", query=f"question {n}", session_id=f"s{n}", tracer_provider=provider) as t:
            await search("x")
            t.add_lesson("search first")

    async with anyio.create_task_group() as tg:
        for n in range(4):
            tg.start_soon(answer, n)
    assert provider.force_flush()
    provider.shutdown()

    assert store.count() == 4
    stored = store.list(TrajectoryFilter(name="support", session_id="s2"))
    assert len(stored) == 1
    t = stored[0]
    assert t.verdict.kind == "success"
    assert [s.metadata.tool_used for s in t.steps if s.metadata is not None] == ["kb_search"]
    assert t.lessons == ("search first",)
    hits = store.similar("question 2", k=1)
    assert hits[0].trajectory.metadata.session_id == "s2"
    stats = exporter.stats
    assert stats.trajectories_emitted == 4
    assert stats.sink_failures == 0
    store.close()


def test_a_failing_store_is_counted_by_the_exporter_and_nothing_is_lost(tmp_path: Path) -> None:
    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    store.close()  # every write now raises StoreError
    dead = tmp_path / "dead.jsonl"
    exporter = TrajectoryExporter([StoreSink(store)], dead_letter_path=dead, retry_attempts=1)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with trajectory("support", tracer_provider=provider):
        pass
    provider.force_flush()
    provider.shutdown()
    assert exporter.stats.sink_failures >= 1
    assert exporter.stats.sink_failures_by_sink.get("store", 0) >= 1
    assert dead.exists()  # dead-lettered, not dropped
    assert dead.read_text().strip()
