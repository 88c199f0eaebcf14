"""Soak: 10 000 trajectories of 10 steps through the instrumentation, a BatchSpanProcessor, the
exporter and the SQLite store, under asyncio and trio — every one arrives, correctly attributed.

Bounded in count (``TRAJECTORIES_SOAK_N``, default 10 000) and in time (``fail_after``). It runs
in ``make reliability`` (called by ``.ci/run``), not in ``make test``: marked ``soak``.
The overflow test beside it makes the batch processor's queue tiny and checks that the loss
is visible: in the exporter's statistics, in the logs, and as flagged trajectories.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.helpers.reliability import SPANS_PER_TRAJECTORY, STEPS, CountingProcessor, account, check_attribution, root_arrived
from trajectories.export import TrajectoryExporter
from trajectories.instrument import step, trajectory
from trajectories.store import SQLiteTrajectoryStore, StoreSink

N = int(os.environ.get("TRAJECTORIES_SOAK_N", "10000"))
CONCURRENCY = 50
TIME_LIMIT = float(os.environ.get("TRAJECTORIES_SOAK_TIMEOUT", "240"))


async def _agent(k: int, provider: TracerProvider) -> int:
    async with trajectory("soak", session_id=f"s{k % 97}", attributes={"k": str(k)}, tracer_provider=provider):
        for i in range(STEPS):
            with step(f"act{i}", attributes={"k": str(k), "i": str(i)}, tracer_provider=provider):
                await anyio.lowlevel.checkpoint()  # let the other agents interleave inside a step
    return k


async def _run(provider: TracerProvider, n: int) -> list[int]:
    done: list[int] = []

    async def worker(first: int) -> None:
        for k in range(first, n, CONCURRENCY):
            done.append(await _agent(k, provider))

    with anyio.fail_after(TIME_LIMIT):
        async with anyio.create_task_group() as tg:
            for w in range(CONCURRENCY):
                tg.start_soon(worker, w)
    return done


@pytest.mark.soak
@pytest.mark.anyio
async def test_soak_every_trajectory_arrives_attributed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, anyio_backend: str
) -> None:
    caplog.set_level(logging.WARNING)
    store = SQLiteTrajectoryStore(tmp_path / "soak.db")
    exporter = TrajectoryExporter([StoreSink(store)], dead_letter_path=tmp_path / "dead.jsonl")
    provider = TracerProvider()
    counter = CountingProcessor()
    provider.add_span_processor(counter)
    # A queue that holds the whole run: this test is about throughput and attribution; the
    # overflow test below is about what a full queue does.
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=N * SPANS_PER_TRAJECTORY))

    t0 = time.perf_counter()
    done = await _run(provider, N)
    t_recorded = time.perf_counter() - t0
    provider.shutdown()  # drains the batch processor, then shuts the exporter down
    t_total = time.perf_counter() - t0

    assert sorted(done) == list(range(N))
    assert counter.ended == N * SPANS_PER_TRAJECTORY
    stats = exporter.stats
    assert stats.spans_seen == N * SPANS_PER_TRAJECTORY  # nothing dropped by the processor
    assert stats.trajectories_emitted == N
    assert (stats.incomplete, stats.late_spans, stats.unrelated_spans, stats.evicted_traces) == (0, 0, 0, 0)
    assert (stats.sink_failures, stats.dead_lettered, stats.dead_letter_failures) == (0, 0, 0)
    assert (stats.assembly_errors, stats.internal_errors, stats.pending_traces, stats.pending_spans) == (0, 0, 0, 0)
    assert not (tmp_path / "dead.jsonl").exists()

    assert store.count() == N
    stored = list(store.iter_all())
    ks = sorted(int(t.metadata.attributes["k"]) for t in stored)
    assert ks == list(range(N))
    for t in stored:
        assert t.verdict.is_success
        assert t.metadata.session_id == f"s{int(t.metadata.attributes['k']) % 97}"
        check_attribution(t)
    acc = account(stored)
    assert (acc.complete, acc.missing_steps, acc.rootless) == (N, 0, 0)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    store.close()

    spans = N * SPANS_PER_TRAJECTORY
    print(
        f"\nsoak[{anyio_backend}]: {N} trajectories / {spans} spans recorded in {t_recorded:.1f} s, "
        f"stored in {t_total:.1f} s: {N / t_total:.0f} trajectories/s, {N * STEPS / t_total:.0f} steps/s"
    )


@pytest.mark.anyio
async def test_queue_overflow_is_visible_and_accounted_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, anyio_backend: str
) -> None:
    """A tiny queue drops spans. The exporter cannot see the drops, but it sees the evidence:
    roots whose steps did not all arrive (flagged ``missing_steps``) and steps whose root did
    not (flagged incomplete). Delivered + flagged accounts for every span the processor kept."""
    caplog.set_level(logging.WARNING)
    _forget_repeated_otel_logs()
    n = 300
    store = SQLiteTrajectoryStore(tmp_path / "overflow.db")
    exporter = TrajectoryExporter([StoreSink(store)], dead_letter_path=tmp_path / "dead.jsonl")
    provider = TracerProvider()
    counter = CountingProcessor()
    provider.add_span_processor(counter)
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=16, max_export_batch_size=8, schedule_delay_millis=60_000)
    )
    for k in range(n):  # no checkpoints: the worker thread cannot keep up with a tight loop
        with trajectory("overflow", attributes={"k": str(k)}, tracer_provider=provider):
            for i in range(STEPS):
                with step(f"act{i}", attributes={"k": str(k), "i": str(i)}, tracer_provider=provider):
                    pass
    provider.shutdown()

    produced = counter.ended
    assert produced == n * SPANS_PER_TRAJECTORY
    stats = exporter.stats
    dropped = produced - stats.spans_seen
    assert dropped > 0, "the queue never overflowed: the test proves nothing"
    # OpenTelemetry says so (once: its logger filters repeats) ...
    assert any(_QUEUE_FULL in r.getMessage() for r in caplog.records for _QUEUE_FULL in _QUEUE_FULL_MESSAGES)

    stored = list(store.iter_all())
    acc = account(stored)
    for t in stored:
        check_attribution(t)
    # ... and so does the exporter: every span it saw is in a delivered trajectory, and every
    # trajectory that is short is flagged.
    assert acc.spans_delivered == stats.spans_seen
    assert stats.trajectories_emitted == len(stored) == acc.complete + acc.missing_steps + acc.rootless
    assert stats.incomplete == acc.missing_steps + acc.rootless > 0
    assert stats.missing_roots == acc.rootless
    assert stats.missing_steps == acc.steps_missing
    assert (stats.sink_failures, stats.dead_lettered, stats.late_spans) == (0, 0, 0)
    # What never reached the exporter: whole trajectories (root and steps) and the missing
    # parts of the flagged ones; together exactly the spans the processor dropped.
    assert dropped == produced - acc.spans_delivered
    rooted = [int(t.metadata.attributes["k"]) for t in stored if root_arrived(t)]
    assert len(rooted) == len(set(rooted))
    assert set(rooted) <= set(range(n))
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("trajectories") and r.levelno == logging.WARNING]
    assert any("incomplete" in m for m in warnings), warnings
    store.close()


# OpenTelemetry's own warning: "Queue full, dropping Span." (1.3x+), "Queue is full, likely
# spans will be dropped." (older). Its logger has a filter that repeats a message at most once
# per 20 s window per process, so the test forgets the last message before it runs.
_QUEUE_FULL_MESSAGES = ("Queue full", "Queue is full")


def _forget_repeated_otel_logs() -> None:
    for name in ("opentelemetry.sdk._shared_internal", "opentelemetry.sdk.trace.export"):
        for f in logging.getLogger(name).filters:
            if hasattr(f, "last_log"):
                del f.last_log
