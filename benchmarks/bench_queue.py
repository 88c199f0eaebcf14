"""The soak's workload through a BatchSpanProcessor with its default queue: how much is dropped?

50 concurrent agents (asyncio), N trajectories of 10 steps, through the instrumentation, a
``BatchSpanProcessor`` (OpenTelemetry's defaults, or ``OTEL_BSP_MAX_QUEUE_SIZE``), the
exporter and the SQLite store. Prints the spans produced, seen by the exporter and dropped, and
how the delivered trajectories came out (complete / flagged missing steps / flagged rootless).

    .venv/bin/python benchmarks/bench_queue.py [N]
    OTEL_BSP_MAX_QUEUE_SIZE=16384 .venv/bin/python benchmarks/bench_queue.py [N]
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

import anyio
import anyio.lowlevel
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from trajectories import attributes as A
from trajectories.export import TrajectoryExporter
from trajectories.instrument import step, trajectory
from trajectories.store import SQLiteTrajectoryStore, StoreSink

STEPS = 10
CONCURRENCY = 50


class Counter(SpanProcessor):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ended = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        with self.lock:
            self.ended += 1


async def run(provider: TracerProvider, n: int) -> None:
    async def worker(first: int) -> None:
        for k in range(first, n, CONCURRENCY):
            async with trajectory("bench", attributes={"k": str(k)}, tracer_provider=provider):
                for i in range(STEPS):
                    with step(f"act{i}", tracer_provider=provider):
                        await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        for w in range(CONCURRENCY):
            tg.start_soon(worker, w)


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    directory = Path(tempfile.mkdtemp())
    store = SQLiteTrajectoryStore(directory / "bench.db")
    exporter = TrajectoryExporter([StoreSink(store)], dead_letter_path=directory / "dead.jsonl")
    provider = TracerProvider()
    counter = Counter()
    provider.add_span_processor(counter)
    processor = BatchSpanProcessor(exporter)
    provider.add_span_processor(processor)
    t0 = time.perf_counter()
    anyio.run(run, provider, n)
    t1 = time.perf_counter()
    provider.shutdown()
    t2 = time.perf_counter()
    stats = exporter.stats
    complete = missing = rootless = 0
    for t in store.iter_all():
        attrs = t.metadata.attributes
        if attrs.get(A.TRAJECTORY_INCOMPLETE_ATTRIBUTE) != "true":
            complete += 1
        elif A.TRAJECTORY_NAME_ATTRIBUTE in attrs:
            missing += 1
        else:
            rootless += 1
    store.close()
    dropped = counter.ended - stats.spans_seen
    print(f"queue size {processor._batch_processor._max_queue_size}: {n} trajectories, {counter.ended} spans")
    print(f"dropped by the batch processor: {dropped} ({dropped / counter.ended:.1%})")
    print(f"delivered: {complete} complete, {missing} flagged missing_steps, {rootless} flagged rootless;")
    print(f"never seen by the exporter: {n - complete - missing - rootless} trajectories")
    print(
        f"exporter stats: incomplete={stats.incomplete} missing_roots={stats.missing_roots} missing_steps={stats.missing_steps}"
    )
    print(f"recorded in {t1 - t0:.1f} s, stored in {t2 - t0:.1f} s: {n / (t2 - t0):.0f} trajectories/s")


if __name__ == "__main__":
    main()
