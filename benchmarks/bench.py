"""``make bench``: what instrumenting an agent with trajectories costs, against the floor and the peers.

    python benchmarks/bench.py [--quick] [--plot docs/performance.png] [--json out.json] [--docs docs/performance.md]

Every comparison runs in a process of its own (several peers install a global tracer
provider), with its variants interleaved over many short rounds; figures are medians with
the interquartile range, ratios are medians of per-round ratios. Sections:

1. decorators: ``@step`` on a sync and an async function against the undecorated function,
   a hand-written ``tracer.start_as_current_span`` with the same attributes (the floor), and
   each installed peer's decorator exporting into the same null exporter; and
   ``async with trajectory()`` with 10 steps against the same spans written by hand.
2. exporter: TrajectoryExporter work per span (grouping, assembly, scoring; a no-op sink)
   as a ratio of the cost of creating and ending the span.
3. store: insert throughput; ``similar`` at 10k and 100k trajectories of 384 dims against a
   raw numpy ``argpartition`` over the same matrix; memory of the cached matrix.
4. memory: RSS while 1,000,000 spans stream through the exporter; memory per open trajectory.
5. import: ``import trajectories`` in a fresh interpreter on top of its dependencies.
6. serve: ``trajectories serve`` spans/s (one process) against the same exporter in process.

Section 1 also measures ``@step`` inside a trajectory against a hand-written span with the same
six attributes.

``--quick`` (the test suite's smoke run) shrinks every size and round count; a peer that is
not installed is reported as such. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

PEER_NAMES = ("langfuse", "traceloop", "logfire", "openinference")
PEER_DISTS = {
    "langfuse": "langfuse",
    "traceloop": "traceloop-sdk",
    "logfire": "logfire",
    "openinference": "openinference-instrumentation",
}
SECTIONS = ("decorators", "exporter", "store", "memory", "import", "serve")
GOALS = {"step_vs_hand": 1.1, "exporter_ratio": 0.3, "similar_vs_numpy": 1.5}


# ============================================================================ decorators


def _sync_runner(f: Callable[[int], int]) -> Callable[[int], float]:
    def run(n: int) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            f(i)
        return time.perf_counter() - t0

    return run


def _async_runner(f: Callable[[int], Awaitable[int]], loop: asyncio.AbstractEventLoop) -> Callable[[int], float]:
    async def many(n: int) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            await f(i)
        return time.perf_counter() - t0

    def run(n: int) -> float:
        return loop.run_until_complete(many(n))

    return run


def child_decorators(peer_name: str, quick: bool) -> dict[str, Any]:
    from _harness import interleave, spread
    from _peers import Peer, PeerUnavailable, null_provider, sample_attributes, setup_peer, work, work_async

    from trajectories import attributes as A
    from trajectories import step

    rounds = 3 if quick else 41
    target = 0.001 if quick else 0.02
    provider, ours = null_provider()
    tracer = provider.get_tracer("bench")
    # The attributes @step writes on a step outside a trajectory, all given up front (the
    # cheapest hand-written span that records the same thing), as a user writes them.

    def hand(x: int) -> int:
        with tracer.start_as_current_span(
            "work",
            attributes={A.STEP_ACTION: "work", A.STEP_OUTCOME: "success", A.STEP_RATIONALE: "", A.STEP_CONFIDENCE: 1.0},
        ):
            return work(x)

    async def hand_async(x: int) -> int:
        with tracer.start_as_current_span(
            "work",
            attributes={A.STEP_ACTION: "work", A.STEP_OUTCOME: "success", A.STEP_RATIONALE: "", A.STEP_CONFIDENCE: 1.0},
        ):
            return await work_async(x)

    stepped = step(action="work", tracer_provider=provider)(work)
    stepped_async = step(action="work", tracer_provider=provider)(work_async)

    peer: Peer | None = None
    status = "ok"
    error = ""
    if peer_name != "none":
        try:
            peer = setup_peer(peer_name)
        except PeerUnavailable as exc:
            status, error = "not installed", str(exc)
        except Exception as exc:  # a peer that imports but cannot be set up: say so, do not fake it
            status, error = "failed", f"{type(exc).__name__}: {exc}"

    result: dict[str, Any] = {"peer": peer_name, "status": status, "error": error}
    if status != "ok":
        return result
    loop = asyncio.new_event_loop()
    try:
        for mode in ("sync", "async"):
            if mode == "sync":
                runners = {"bare": _sync_runner(work), "hand": _sync_runner(hand), "step": _sync_runner(stepped)}
                if peer is not None:
                    runners["peer"] = _sync_runner(peer.sync)
            else:
                runners = {
                    "bare": _async_runner(work_async, loop),
                    "hand": _async_runner(hand_async, loop),
                    "step": _async_runner(stepped_async, loop),
                }
                if peer is not None:
                    runners["peer"] = _async_runner(peer.async_, loop)
            samples = interleave(runners, rounds=rounds, target_s=target)
            bare = samples["bare"]
            section: dict[str, Any] = {}
            for name, values in samples.items():
                entry: dict[str, Any] = {"us": spread([v * 1e6 for v in values]).as_dict()}
                if name != "bare":
                    over = [v - b for v, b in zip(values, bare, strict=True)]
                    entry["overhead_us"] = spread([o * 1e6 for o in over]).as_dict()
                    hand_over = [h - b for h, b in zip(samples["hand"], bare, strict=True)]
                    entry["ratio_to_hand"] = spread([o / h for o, h in zip(over, hand_over, strict=True)]).as_dict()
                section[name] = entry
            result[mode] = section
        if peer_name == "none":
            result["trajectory10"] = _trajectory10(provider, tracer, loop, rounds, target)
            result["in_trajectory"] = _in_trajectory(provider, tracer, loop, rounds, target)
    finally:
        loop.close()
    if peer is not None:
        peer.flush()
        calls_spans = peer.exporter.count
        result.update(
            label=peer.label,
            version=peer.version,
            config=peer.config,
            spans_exported=calls_spans,
            sample_attributes=sample_attributes(peer.exporter),
        )
        if calls_spans == 0:
            result["status"] = "failed"
            result["error"] = "no span reached the null exporter"
    result["ours_spans_exported"] = ours.count
    result["ours_sample_attributes"] = sample_attributes(ours)
    return result


def _trajectory10(provider: Any, tracer: Any, loop: asyncio.AbstractEventLoop, rounds: int, target: float) -> dict[str, Any]:
    """``async with trajectory()`` around 10 ``@step`` calls, against the same 11 spans by hand."""
    from _harness import interleave, spread
    from _peers import work_async

    from trajectories import attributes as A
    from trajectories import step, trajectory

    stepped = step(action="work", tracer_provider=provider)(work_async)

    async def ours(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            async with trajectory("bench", tracer_provider=provider):
                for i in range(10):
                    await stepped(i)
        return time.perf_counter() - t0

    async def hand(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            with tracer.start_as_current_span(
                "invoke_agent bench", attributes={A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT, A.GEN_AI_AGENT_NAME: "bench"}
            ) as root:
                tid = root.get_span_context().span_id & ((1 << 63) - 1)
                root.set_attribute(A.TRAJECTORY_ID, tid)
                for i in range(10):
                    with tracer.start_as_current_span(
                        "work",
                        attributes={
                            A.TRAJECTORY_ID: tid,
                            A.STEP_INDEX: i,
                            A.STEP_ACTION: "work",
                            A.STEP_OUTCOME: "success",
                            A.STEP_RATIONALE: "",
                            A.STEP_CONFIDENCE: 1.0,
                        },
                    ):
                        await work_async(i)
                root.set_attributes(
                    {
                        A.TRAJECTORY_VERDICT: "success",
                        A.TRAJECTORY_QUALITY: 1.0,
                        A.GEN_AI_USAGE_INPUT_TOKENS: 0,
                        A.GEN_AI_USAGE_OUTPUT_TOKENS: 0,
                    }
                )
                root.add_event(
                    "gen_ai.evaluation.result",
                    {"gen_ai.evaluation.name": "trajectory.quality", "gen_ai.evaluation.score.value": 1.0},
                )
        return time.perf_counter() - t0

    runners = {
        "trajectory": lambda n: loop.run_until_complete(ours(n)),
        "hand": lambda n: loop.run_until_complete(hand(n)),
    }
    samples = interleave(runners, rounds=rounds, target_s=target)
    return {
        "trajectory_us": spread([v * 1e6 for v in samples["trajectory"]]).as_dict(),
        "hand_us": spread([v * 1e6 for v in samples["hand"]]).as_dict(),
        "ratio_to_hand": spread([a / b for a, b in zip(samples["trajectory"], samples["hand"], strict=True)]).as_dict(),
    }


def _in_trajectory(provider: Any, tracer: Any, loop: asyncio.AbstractEventLoop, rounds: int, target: float) -> dict[str, Any]:
    """``@step`` inside a trajectory against a hand-written span with the same six attributes.

    Each repetition is one trajectory (entered and ended inside the timing) around *n* calls of
    the undecorated function, of the hand-written span (``trajectory.id``, step index, action,
    outcome, rationale, confidence, given up front) or of the ``@step`` function: what a step
    costs there includes registering with its trajectory and becoming part of ``t.result``.
    """
    from _harness import interleave, spread
    from _peers import work, work_async

    from trajectories import attributes as A
    from trajectories import step, trajectory

    stepped = step(action="work", tracer_provider=provider)(work)
    stepped_async = step(action="work", tracer_provider=provider)(work_async)

    def sync_bare(n: int) -> float:
        t0 = time.perf_counter()
        with trajectory("bench", tracer_provider=provider):
            for i in range(n):
                work(i)
        return time.perf_counter() - t0

    def sync_hand(n: int) -> float:
        t0 = time.perf_counter()
        with trajectory("bench", tracer_provider=provider) as t:
            tid = t.id_int
            for i in range(n):
                with tracer.start_as_current_span(
                    "work",
                    attributes={
                        A.TRAJECTORY_ID: tid,
                        A.STEP_INDEX: i,
                        A.STEP_ACTION: "work",
                        A.STEP_OUTCOME: "success",
                        A.STEP_RATIONALE: "",
                        A.STEP_CONFIDENCE: 1.0,
                    },
                ):
                    work(i)
        return time.perf_counter() - t0

    def sync_step(n: int) -> float:
        t0 = time.perf_counter()
        with trajectory("bench", tracer_provider=provider):
            for i in range(n):
                stepped(i)
        return time.perf_counter() - t0

    async def async_bare(n: int) -> float:
        t0 = time.perf_counter()
        async with trajectory("bench", tracer_provider=provider):
            for i in range(n):
                await work_async(i)
        return time.perf_counter() - t0

    async def async_hand(n: int) -> float:
        t0 = time.perf_counter()
        async with trajectory("bench", tracer_provider=provider) as t:
            tid = t.id_int
            for i in range(n):
                with tracer.start_as_current_span(
                    "work",
                    attributes={
                        A.TRAJECTORY_ID: tid,
                        A.STEP_INDEX: i,
                        A.STEP_ACTION: "work",
                        A.STEP_OUTCOME: "success",
                        A.STEP_RATIONALE: "",
                        A.STEP_CONFIDENCE: 1.0,
                    },
                ):
                    await work_async(i)
        return time.perf_counter() - t0

    async def async_step(n: int) -> float:
        t0 = time.perf_counter()
        async with trajectory("bench", tracer_provider=provider):
            for i in range(n):
                await stepped_async(i)
        return time.perf_counter() - t0

    out: dict[str, Any] = {}
    for mode, runners in (
        ("sync", {"bare": sync_bare, "hand": sync_hand, "step": sync_step}),
        (
            "async",
            {
                "bare": lambda n: loop.run_until_complete(async_bare(n)),
                "hand": lambda n: loop.run_until_complete(async_hand(n)),
                "step": lambda n: loop.run_until_complete(async_step(n)),
            },
        ),
    ):
        samples = interleave(runners, rounds=rounds, target_s=target)
        bare = samples["bare"]
        hand_over = [h - b for h, b in zip(samples["hand"], bare, strict=True)]
        step_over = [s - b for s, b in zip(samples["step"], bare, strict=True)]
        out[mode] = {
            "bare_us": spread([v * 1e6 for v in bare]).as_dict(),
            "hand_us": spread([v * 1e6 for v in samples["hand"]]).as_dict(),
            "step_us": spread([v * 1e6 for v in samples["step"]]).as_dict(),
            "ratio_to_hand": spread([s / h for s, h in zip(step_over, hand_over, strict=True)]).as_dict(),
        }
    return out


# ============================================================================ exporter


def child_exporter(quick: bool) -> dict[str, Any]:
    """Exporter work per span against creating the span, on the spans real instrumentation makes."""
    from _harness import spread
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from trajectories import step, trajectory
    from trajectories.export import TrajectoryExporter

    n_traj = 20 if quick else 1_000
    rounds = 2 if quick else 15
    memory = InMemorySpanExporter()
    recorded = TracerProvider()
    recorded.add_span_processor(SimpleSpanProcessor(memory))
    bare = TracerProvider()  # creating spans with no processor: what the application pays anyway

    def make(provider: TracerProvider) -> float:
        work = step(action="work", tracer_provider=provider)(lambda i: i)
        t0 = time.perf_counter()
        for _ in range(n_traj):
            with trajectory("bench", tracer_provider=provider):
                for i in range(9):
                    work(i)
        return time.perf_counter() - t0

    from opentelemetry import trace

    from trajectories import attributes as A

    tracer = bare.get_tracer("bench")

    def make_by_hand() -> float:
        """The same 10 spans and attributes with the bare SDK (start_span/end, no instrumentation)."""
        t0 = time.perf_counter()
        for _ in range(n_traj):
            root = tracer.start_span(
                "invoke_agent bench", attributes={A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT, A.GEN_AI_AGENT_NAME: "bench"}
            )
            tid = root.get_span_context().span_id & ((1 << 63) - 1)
            root.set_attribute(A.TRAJECTORY_ID, tid)
            ctx = trace.set_span_in_context(root)
            for i in range(9):
                s = tracer.start_span(
                    "work", context=ctx, attributes={A.TRAJECTORY_ID: tid, A.STEP_INDEX: i, A.STEP_ACTION: "work"}
                )
                s.set_attributes({A.STEP_OUTCOME: "success", A.STEP_RATIONALE: "", A.STEP_CONFIDENCE: 1.0})
                s.end()
            root.set_attributes({A.TRAJECTORY_VERDICT: "success", A.TRAJECTORY_QUALITY: 1.0, A.TRAJECTORY_STEP_COUNT: 9})
            root.end()
        return time.perf_counter() - t0

    def make_framework(provider: TracerProvider) -> None:
        """The same number of spans as a pydantic-ai run emits them (GenAI semantic conventions, no
        trajectory.id): an agent span over model and tool calls, their usage on the model spans."""
        fw = provider.get_tracer("framework")
        for _ in range(n_traj):
            with fw.start_as_current_span(
                "invoke_agent bench", attributes={A.GEN_AI_OPERATION_NAME: "invoke_agent", A.GEN_AI_AGENT_NAME: "bench"}
            ):
                for i in range(9):
                    attrs: dict[str, Any]
                    if i % 2 == 0:
                        attrs = {
                            A.GEN_AI_OPERATION_NAME: "chat",
                            A.GEN_AI_REQUEST_MODEL: "test-model",
                            A.GEN_AI_USAGE_INPUT_TOKENS: 50,
                            A.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
                        }
                        name = "chat test-model"
                    else:
                        attrs = {A.GEN_AI_OPERATION_NAME: "execute_tool", A.GEN_AI_TOOL_NAME: "get_weather"}
                        name = "execute_tool get_weather"
                    with fw.start_as_current_span(name, attributes=attrs):
                        pass

    make(recorded)
    spans = list(memory.get_finished_spans())
    n = len(spans)
    memory.clear()
    make_framework(recorded)
    framework_spans = list(memory.get_finished_spans())
    framework_export: list[float] = []
    framework_emitted = 0
    create: list[float] = []
    by_hand: list[float] = []
    export: list[float] = []
    emitted = 0
    for _ in range(rounds):
        create.append(make(bare) / n)
        by_hand.append(make_by_hand() / n)
        exporter = TrajectoryExporter([lambda t: None], dead_letter_path=os.devnull)
        t0 = time.perf_counter()
        for i in range(0, n, 512):  # the BatchSpanProcessor's default batch
            exporter.export(spans[i : i + 512])
        export.append((time.perf_counter() - t0) / n)
        emitted = exporter.stats.trajectories_emitted
        fw_exporter = TrajectoryExporter([lambda t: None], dead_letter_path=os.devnull)
        t0 = time.perf_counter()
        for i in range(0, len(framework_spans), 512):
            fw_exporter.export(framework_spans[i : i + 512])
        framework_export.append((time.perf_counter() - t0) / len(framework_spans))
        framework_emitted = fw_exporter.stats.framework_trajectories
    return {
        "framework_spans": len(framework_spans),
        "framework_trajectories": framework_emitted,
        "framework_export_us": spread([e * 1e6 for e in framework_export]).as_dict(),
        "framework_ratio": spread([f / e for f, e in zip(framework_export, export, strict=True)]).as_dict(),
        "spans": n,
        "trajectories": emitted,
        "create_us": spread([c * 1e6 for c in create]).as_dict(),
        "export_us": spread([e * 1e6 for e in export]).as_dict(),
        "ratio": spread([e / c for e, c in zip(export, create, strict=True)]).as_dict(),
        "hand_us": spread([c * 1e6 for c in by_hand]).as_dict(),
        "ratio_to_hand": spread([e / c for e, c in zip(export, by_hand, strict=True)]).as_dict(),
    }


# ============================================================================ store


def child_store(quick: bool) -> dict[str, Any]:
    import tempfile
    import uuid
    from datetime import datetime, timezone

    import numpy as np
    from _harness import spread

    from trajectories.model import StepOutcome, Trajectory, TrajectoryStep, Verdict
    from trajectories.store import SQLiteTrajectoryStore

    dim = 384
    sizes = (200, 1_000) if quick else tuple(int(x) for x in os.environ.get("BENCH_STORE_SIZES", "10000,100000").split(","))
    queries = 10 if quick else 200
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {"dim": dim, "sizes": {}}
    out["blas"] = "threadpoolctl not installed: BLAS threads as numpy starts them"
    limit: Any = contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        # One BLAS thread: with two on a 2-core machine shared with other work, OpenBLAS's
        # threads contend and one 10k x 384 product swings between 1 and 10 ms.
        limit = threadpool_limits(1)
        keep = ("internal_api", "version", "architecture", "num_threads")
        out["blas"] = [{k: str(v) for k, v in i.items() if k in keep} for i in threadpool_info()]
    except ImportError:
        pass
    with limit, tempfile.TemporaryDirectory() as d:
        store = SQLiteTrajectoryStore(os.path.join(d, "bench.db"))
        done = 0
        for size in sizes:
            embs = rng.standard_normal((size - done, dim)).astype(np.float32)
            batch = [
                Trajectory.build(
                    [TrajectoryStep(0, "act", "why", StepOutcome.success(), 0.9, 5, t0)],
                    Verdict.success(),
                    id=done + i + 1,
                    uuid=uuid.uuid4(),
                    started_at=t0,
                    total_latency_ms=5,
                    query_embedding=embs[i],
                )
                for i in range(size - done)
            ]
            start = time.perf_counter()
            for k in range(0, len(batch), 1000):
                store.add_many(batch[k : k + 1000])
            insert_s = time.perf_counter() - start
            done = size
            qs = rng.standard_normal((queries, dim)).astype(np.float32)
            start = time.perf_counter()
            store.similar(qs[0], k=5)  # loads (or brings up to date) the cached matrix
            load_s = time.perf_counter() - start
            block = store._index._blocks[dim]
            matrix = block.matrix[: block.size]  # the same normalised float32 matrix
            ours: list[float] = []
            floor: list[float] = []

            def raw(q: Any, matrix: Any = matrix) -> Any:
                scores = matrix @ (q / np.linalg.norm(q))
                top = np.argpartition(-scores, 4)[:5]
                return top[np.argsort(-scores[top])]

            index = store._index
            search: list[float] = []
            for i, q in enumerate(qs):
                # Rotate which goes first: the first finds the matrix out of cache.
                calls: list[tuple[list[float], Callable[[], object]]] = [
                    (ours, functools.partial(store.similar, q, k=5)),
                    (search, functools.partial(index.search, q, 5)),
                    (floor, functools.partial(raw, q)),
                ]
                for sink, call in calls[i % 3 :] + calls[: i % 3]:
                    s = time.perf_counter()
                    call()
                    sink.append(time.perf_counter() - s)
            nbytes = sum(int(getattr(block, a).nbytes) for a in ("matrix", "ids", "quality", "codes"))
            out["sizes"][str(size)] = {
                "insert_per_s": (size - (sizes[0] if size != sizes[0] else 0)) / insert_s,
                "load_ms": load_s * 1e3,
                "similar_ms": spread([v * 1e3 for v in ours]).as_dict(),
                "numpy_ms": spread([v * 1e3 for v in floor]).as_dict(),
                "ratio": spread([a / b for a, b in zip(ours, floor, strict=True)]).as_dict(),
                "search_ms": spread([v * 1e3 for v in search]).as_dict(),
                "search_ratio": spread([a / b for a, b in zip(search, floor, strict=True)]).as_dict(),
                "index_bytes": nbytes,
                "raw_matrix_bytes": size * dim * 4,
            }
        # one transaction per trajectory
        singles = [
            Trajectory.build(
                [TrajectoryStep(0, "act", "why", StepOutcome.success(), 0.9, 5, t0)],
                Verdict.success(),
                id=10**9 + i,
                uuid=uuid.uuid4(),
                started_at=t0,
                total_latency_ms=5,
                query_embedding=rng.standard_normal(dim).astype(np.float32),
            )
            for i in range(20 if quick else 500)
        ]
        start = time.perf_counter()
        for t in singles:
            store.add(t)
        out["add_one_per_s"] = len(singles) / (time.perf_counter() - start)
        store.close()
    return out


# ============================================================================ memory


def child_memory(quick: bool) -> dict[str, Any]:
    import gc
    import tracemalloc

    from _harness import rss_bytes
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from trajectories import step, trajectory
    from trajectories.export import TrajectoryExporter

    total_spans = 4_000 if quick else 1_000_000
    exporter = TrajectoryExporter([lambda t: None], dead_letter_path=os.devnull)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    work = step(action="work", tracer_provider=provider)(lambda i: i)
    # Trajectories of 3 steps + the root: 250,000 of them, so the exporter's late-span memory
    # (the ids of the last 100,000 emitted trajectories, by default) fills within the first 40%
    # of the stream, and the rest shows whether anything else grows.
    per_traj = 4
    samples: list[tuple[int, int]] = []
    spans = 0
    every = total_spans // 20
    gc.collect()
    start_rss = rss_bytes()
    t0 = time.perf_counter()
    while spans < total_spans:
        with trajectory("bench", tracer_provider=provider):
            for i in range(per_traj - 1):
                work(i)
        spans += per_traj
        if spans % every == 0:
            samples.append((spans, rss_bytes()))
    elapsed = time.perf_counter() - t0
    stats = exporter.stats
    # Memory per open trajectory: enter many at once (each with one finished step), measure.
    n_open = 100 if quick else 5_000
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    rss_before = rss_bytes()
    handles = []
    for _ in range(n_open):
        h = trajectory("open", tracer_provider=provider)
        h.__enter__()
        work(0)
        handles.append(h)
    after = tracemalloc.get_traced_memory()[0]
    rss_after = rss_bytes()
    tracemalloc.stop()
    for h in reversed(handles):
        h.__exit__(None, None, None)
    return {
        "spans": spans,
        "seconds": elapsed,
        "start_rss": start_rss,
        "samples": samples,
        "trajectories_emitted": stats.trajectories_emitted,
        "pending_traces": stats.pending_traces,
        "open_trajectories": n_open,
        "per_open_bytes_traced": (after - before) / n_open,
        "per_open_bytes_rss": (rss_after - rss_before) / n_open,
    }


# ============================================================================ import


_DEPS = "import opentelemetry.trace, opentelemetry.sdk.trace, opentelemetry.context, anyio, numpy"


def child_import(quick: bool) -> dict[str, Any]:
    """``import trajectories`` in a fresh interpreter on top of its dependencies, already imported.

    Each round starts two interpreters in a shuffled order: one times importing the
    dependencies alone, the other imports them and then times ``import trajectories``. A last
    interpreter runs ``-X importtime`` to name the modules that cost the most.
    """
    import random
    import tempfile

    from _harness import spread

    rounds = 3 if quick else 21
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # With bytecode, as an installed package has it (pip compiles it): a checkout run with
    # PYTHONDONTWRITEBYTECODE set would compile every module again in every sample. The bytecode
    # goes to a temporary PYTHONPYCACHEPREFIX (never into the tree), written by one warm-up import.
    cache = tempfile.TemporaryDirectory(prefix="bench-pycache-")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache.name
    warm = f"{_DEPS}; from trajectories import configure, step, trajectory"
    subprocess.run([sys.executable, "-c", warm], env=env, check=True)
    timer = "import time as _t; _s = _t.perf_counter(); {body}; print(_t.perf_counter() - _s)"
    scripts = {
        "deps": timer.format(body=_DEPS),
        "ours": f"{_DEPS}; " + timer.format(body="import trajectories"),
        # What an instrumented application imports (the names load on first use).
        "typical": f"{_DEPS}; " + timer.format(body="from trajectories import configure, step, trajectory"),
    }
    samples: dict[str, list[float]] = {k: [] for k in scripts}
    rng = random.Random(7)
    order = list(scripts)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            proc = subprocess.run([sys.executable, "-c", scripts[name]], capture_output=True, text=True, env=env, check=True)
            samples[name].append(float(proc.stdout.strip().splitlines()[-1]))
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"{_DEPS}; from trajectories import configure, step, trajectory"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    # "import time: self [us] | cumulative | imported package", after the dependencies.
    lines = proc.stderr.splitlines()
    first = next((i for i, line in enumerate(lines) if line.split("|")[-1].strip() == "trajectories._internal"), 0)
    rows: list[tuple[int, int, str]] = []
    for line in lines[max(0, first - 1) :]:
        parts = line.split("|")
        if len(parts) == 3 and parts[0].startswith("import time:") and parts[1].strip().isdigit():
            rows.append((int(parts[0].split(":")[1]), int(parts[1]), parts[2].rstrip()))
    top = sorted(rows, reverse=True)[:8]
    cache.cleanup()
    return {
        "deps_ms": spread([v * 1e3 for v in samples["deps"]]).as_dict(),
        "ours_ms": spread([v * 1e3 for v in samples["ours"]]).as_dict(),
        "typical_ms": spread([v * 1e3 for v in samples["typical"]]).as_dict(),
        "modules": sum(1 for r in rows),
        "top_self_us": [{"self_us": a, "cumulative_us": b, "module": c.strip()} for a, b, c in top],
    }


# ============================================================================ serve


def child_serve(quick: bool) -> dict[str, Any]:
    """``trajectories serve`` (one process: OTLP/HTTP protobuf in, SQLite out) against the same
    exporter in process, fed the same spans, into the same kind of store.

    The spans of *n* trajectories of 10 steps are recorded once. Each round, in a shuffled order:
    a fresh ``serve`` subprocess with a fresh database is sent them as protobuf requests of 50
    trajectories (timed from the first request until its store holds them all), and a fresh
    in-process ``TrajectoryExporter`` with a ``StoreSink`` over a fresh SQLite store is handed the
    same spans in batches of 512 (timed until the store holds them all).
    """
    import importlib.util
    import random
    import signal
    import socket
    import tempfile
    import urllib.request

    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("starlette") is None:
        return {"status": "not installed", "error": "the server extra (starlette, uvicorn) is not installed"}
    from _harness import spread
    from bench_serve import record
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from trajectories import SQLiteTrajectoryStore, StoreSink
    from trajectories.export import TrajectoryExporter

    n = 200 if quick else 2_000
    per_request = 50
    rounds = 1 if quick else 5
    groups = record(n)
    spans = [s for g in groups for s in g]
    bodies = [
        encode_spans([s for g in groups[k : k + per_request] for s in g]).SerializeToString() for k in range(0, n, per_request)
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")

    def wait_for(db: Path, deadline: float) -> None:
        with SQLiteTrajectoryStore(db) as store:
            while store.stats().total < n:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"only {store.stats().total} of {n} trajectories stored")
                time.sleep(0.01)

    def run_serve(tmp: Path) -> float:
        db = tmp / "serve.db"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "trajectories", "serve", "--port", str(port)],
            env=dict(env, TRAJECTORIES_DB=str(db)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(base + "/health", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            t0 = time.perf_counter()
            for body in bodies:
                req = urllib.request.Request(base + "/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"})
                urllib.request.urlopen(req, timeout=60).close()
            wait_for(db, t0 + 600)
            return time.perf_counter() - t0
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)

    def run_in_process(tmp: Path) -> float:
        db = tmp / "inproc.db"
        store = SQLiteTrajectoryStore(db)
        try:
            exporter = TrajectoryExporter([StoreSink(store)], dead_letter_path=os.devnull)
            t0 = time.perf_counter()
            for i in range(0, len(spans), 512):
                exporter.export(spans[i : i + 512])
            exporter.force_flush()
            wait_for(db, t0 + 600)
            elapsed = time.perf_counter() - t0
            exporter.shutdown()
            return elapsed
        finally:
            store.close()

    runners = {"serve": run_serve, "in_process": run_in_process}
    samples: dict[str, list[float]] = {k: [] for k in runners}
    rng = random.Random(7)
    order = list(runners)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            with tempfile.TemporaryDirectory() as d:
                samples[name].append(runners[name](Path(d)))
    n_spans = len(spans)
    return {
        "status": "ok",
        "trajectories": n,
        "spans": n_spans,
        "per_request": per_request,
        "mb_sent": sum(len(b) for b in bodies) / 1e6,
        "serve_spans_per_s": spread([n_spans / v for v in samples["serve"]]).as_dict(),
        "in_process_spans_per_s": spread([n_spans / v for v in samples["in_process"]]).as_dict(),
        "ratio": spread([b / a for a, b in zip(samples["serve"], samples["in_process"], strict=True)]).as_dict(),
    }


# ============================================================================ driver


def run_child(section: str, quick: bool, peer: str | None = None) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", section]
    if peer:
        cmd += ["--peer", peer]
    if quick:
        cmd.append("--quick")
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if section == "store":
        # Older OpenBLAS builds need these on some CPUs; a current numpy runs slower with them.
        # Unset for the numpy benchmark only (tests and CI keep them).
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(ROOT), check=False)
    if proc.returncode != 0:
        return {"status": "failed", "error": proc.stderr.strip().splitlines()[-1:] or ["?"], "stderr": proc.stderr[-2000:]}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"status": "failed", "error": ["no result"], "stderr": proc.stderr[-2000:]}
    data: dict[str, Any] = json.loads(lines[-1])
    return data


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for dist in ("trajectories", "opentelemetry-api", "opentelemetry-sdk", "numpy", *PEER_DISTS.values()):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _fmt(s: dict[str, float], digits: int = 2) -> str:
    return f"{s['median']:.{digits}f} [{s['q1']:.{digits}f}–{s['q3']:.{digits}f}]"


def render(results: dict[str, Any]) -> str:
    """The results as Markdown tables (printed, and written into docs/performance.md)."""
    out: list[str] = []
    m = results["machine"]
    out.append(
        f"Measured {m['date']} on {m['nproc']} × {m['cpu']}, Python {m['python']} ({m['platform']}); "
        f"opentelemetry-sdk {m['versions']['opentelemetry-sdk']}, numpy {m['versions']['numpy']}."
        + (" **Quick mode: sizes shrunk, figures not meaningful.**" if results.get("quick") else "")
    )
    out.append("")
    out.append("Figures are medians [interquartile range] over interleaved rounds; ratios are medians of per-round ratios.")
    out.append("")
    out.append("### 1. Per-call cost of a decorated function")
    out.append("")
    out.append(
        "Overhead = per-call time minus the undecorated call measured in the same process; "
        "ratio = overhead ÷ the hand-written span's overhead in the same round (goal for `@step`: ≤ 1.1)."
    )
    out.append("")
    out.append("| what | version | sync µs/call | sync overhead ratio | async µs/call | async overhead ratio | status |")
    out.append("| --- | --- | --- | --- | --- | --- | --- |")
    base = results["decorators"].get("none", {})
    if "sync" in base:
        for key, label in (
            ("bare", "undecorated function"),
            ("hand", "hand-written `start_as_current_span`"),
            ("step", "trajectories `@step`"),
        ):
            s, a = base["sync"][key], base["async"][key]
            r_s = _fmt(s["ratio_to_hand"]) if "ratio_to_hand" in s else "—"
            r_a = _fmt(a["ratio_to_hand"]) if "ratio_to_hand" in a else "—"
            ver = (
                m["versions"]["trajectories"] if key == "step" else ("—" if key == "bare" else m["versions"]["opentelemetry-sdk"])
            )
            out.append(f"| {label} | {ver} | {_fmt(s['us'])} | {r_s} | {_fmt(a['us'])} | {r_a} | ok |")
    for name in PEER_NAMES:
        r = results["decorators"].get(name, {})
        label = r.get("label", name)
        if r.get("status") == "ok" and "sync" in r:
            s, a = r["sync"]["peer"], r["async"]["peer"]
            out.append(
                f"| {label} | {r.get('version', '?')} | {_fmt(s['us'])} | {_fmt(s['ratio_to_hand'])} | "
                f"{_fmt(a['us'])} | {_fmt(a['ratio_to_hand'])} | ok |"
            )
        else:
            err = r.get("error", "")
            err = err if isinstance(err, str) else " ".join(err)
            out.append(f"| {label} | {r.get('version', '—')} | — | — | — | — | {r.get('status', 'failed')}: {err[:120]} |")
    steps_in_peer_runs = [
        (n, r["sync"]["step"]["ratio_to_hand"]["median"], r["async"]["step"]["ratio_to_hand"]["median"])
        for n, r in results["decorators"].items()
        if n != "none" and r.get("status") == "ok" and "sync" in r
    ]
    if steps_in_peer_runs:
        out.append("")
        out.append(
            "`@step`'s overhead ratio measured again inside each peer's process (sync / async): "
            + ", ".join(f"{n} {s:.2f} / {a:.2f}" for n, s, a in steps_in_peer_runs)
            + "."
        )
    t10 = base.get("trajectory10")
    if t10:
        out.append("")
        out.append(
            f"`async with trajectory()` with 10 `@step` calls: {_fmt(t10['trajectory_us'], 1)} µs; the same 11 spans and "
            f"attributes written by hand: {_fmt(t10['hand_us'], 1)} µs; ratio {_fmt(t10['ratio_to_hand'])}."
        )
    it = base.get("in_trajectory")
    if it:
        out.append("")
        out.append(
            "Inside a trajectory (each repetition one `trajectory()` around the calls, its end included): "
            "`@step` against a hand-written `start_as_current_span` carrying the same six attributes "
            "(`trajectory.id`, step index, action, outcome, rationale, confidence); overhead ratio as above "
            "(goal ≤ 1.1)."
        )
        out.append("")
        out.append("| mode | undecorated µs/call | hand-written span µs/call | `@step` µs/call | `@step` overhead ratio |")
        out.append("| --- | --- | --- | --- | --- |")
        for mode in ("sync", "async"):
            r = it[mode]
            out.append(
                f"| {mode} | {_fmt(r['bare_us'])} | {_fmt(r['hand_us'])} | {_fmt(r['step_us'])} | {_fmt(r['ratio_to_hand'])} |"
            )
    e = results.get("exporter", {})
    if "ratio" in e:
        out.append("")
        out.append("### 2. Exporter work per span")
        out.append("")
        out.append(
            "Creation is measured on a provider with no processor, two ways: through `trajectory()`/`@step` "
            "(what an application using this SDK pays per span), and the same spans and attributes with bare "
            "`start_span`/`end` calls (what the SDK alone pays). The exporter runs `export` on the recorded spans "
            "in batches of 512 (the BatchSpanProcessor's default) with a no-op sink."
        )
        out.append("")
        out.append(
            "| spans | create via `trajectory`/`@step` µs | create with bare SDK calls µs | exporter per span µs "
            "| ratio to `@step` creation (goal ≤ 0.3) | ratio to bare SDK creation |"
        )
        out.append("| --- | --- | --- | --- | --- | --- |")
        out.append(
            f"| {e['spans']} ({e['trajectories']} trajectories of 10) | {_fmt(e['create_us'])} | {_fmt(e['hand_us'])} | "
            f"{_fmt(e['export_us'])} | {_fmt(e['ratio'])} | {_fmt(e['ratio_to_hand'])} |"
        )
        if "framework_export_us" in e:
            out.append("")
            out.append(
                f"Agent-framework spans (no `trajectory.id`; a pydantic-ai-shaped run of an agent span over 9 model and "
                f"tool calls, {e['framework_spans']} spans, {e['framework_trajectories']} trajectories): exporter per span "
                f"{_fmt(e['framework_export_us'])} µs, {_fmt(e['framework_ratio'])} × the exporter's work per SDK span "
                "(goal ≤ 1.0)."
            )
    st = results.get("store", {})
    if "sizes" in st:
        out.append("")
        out.append(f"### 3. Store ({st['dim']}-dimensional query embeddings)")
        out.append("")
        out.append(
            "`similar(k=5)` is the whole call (index search, then reading and decoding the 5 trajectories from SQLite); "
            "the index search alone is the matrix product and top-k it does; the floor is "
            "`argpartition(-(M @ q), 4)[:5]` sorted, over the same normalised matrix `M`, the three interleaved per query."
        )
        out.append("")
        out.append(
            "| trajectories | add_many inserts/s | first `similar` (loads index) ms | `similar(k=5)` ms | index search ms "
            "| numpy floor ms | `similar` ÷ floor (goal ≤ 1.5) | search ÷ floor | cached index MiB (raw matrix) |"
        )
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for size, r in st["sizes"].items():
            out.append(
                f"| {int(size):,} | {r['insert_per_s']:,.0f} | {r['load_ms']:.0f} | {_fmt(r['similar_ms'], 3)} | "
                f"{_fmt(r['search_ms'], 3)} | {_fmt(r['numpy_ms'], 3)} | {_fmt(r['ratio'])} | {_fmt(r['search_ratio'])} | "
                f"{r['index_bytes'] / 2**20:.1f} ({r['raw_matrix_bytes'] / 2**20:.1f}) |"
            )
        out.append("")
        out.append(f"`add` with one transaction per trajectory: {st['add_one_per_s']:,.0f}/s. BLAS: {st['blas']}.")
    mem = results.get("memory", {})
    if "samples" in mem:
        out.append("")
        out.append("### 4. Memory")
        out.append("")
        samples = mem["samples"]
        mib = 2**20
        at = dict(samples)
        half = samples[len(samples) // 2 - 1] if samples else (0, mem["start_rss"])
        last = samples[-1] if samples else (0, mem["start_rss"])
        peak = max((s[1] for s in samples), default=mem["start_rss"])
        out.append(
            f"{mem['spans']:,} spans ({mem['trajectories_emitted']:,} trajectories of 3 steps and a root) streamed through "
            f"`TrajectoryExporter` (defaults, a no-op sink) in {mem['seconds']:.0f} s. RSS (MiB) every 5%:"
        )
        out.append("")
        out.append("| spans | " + " | ".join(f"{n // 1000:,}k" for n in at) + " |")
        out.append("| --- | " + " | ".join("---" for _ in at) + " |")
        out.append("| RSS MiB | " + " | ".join(f"{r / mib:.1f}" for r in at.values()) + " |")
        out.append("")
        out.append(
            f"Start {mem['start_rss'] / mib:.1f} MiB, peak {peak / mib:.1f} MiB; growth over the second half "
            f"({half[0]:,} → {last[0]:,} spans): {(last[1] - half[1]) / mib:+.1f} MiB; "
            f"{mem['pending_traces']} traces left pending."
        )
        out.append("")
        out.append(
            f"Per open trajectory (each with one finished step, {mem['open_trajectories']:,} open at once): "
            f"{mem['per_open_bytes_traced'] / 1024:.1f} KiB allocated by Python (tracemalloc), "
            f"{mem['per_open_bytes_rss'] / 1024:.1f} KiB of RSS."
        )
    imp = results.get("import", {})
    if "ours_ms" in imp:
        out.append("")
        out.append("### 5. Import time")
        out.append("")
        out.append(
            f"A fresh interpreter per sample, {imp['ours_ms']['n']} of each, interleaved, with the package's bytecode "
            "compiled first (as an installed package has it): importing the dependencies "
            f"(`{_DEPS.removeprefix('import ')}`) takes {_fmt(imp['deps_ms'], 1)} ms; `import trajectories` on top of "
            f"them {_fmt(imp['ours_ms'], 1)} ms (goal ≤ 30 ms)"
            + (
                f"; `from trajectories import configure, step, trajectory` on top of them {_fmt(imp['typical_ms'], 1)} ms"
                if "typical_ms" in imp
                else ""
            )
            + ". Largest self times in the latter after the dependencies "
            "(`-X importtime`, one run): "
            + ", ".join(f"`{r['module']}` {r['self_us'] / 1000:.1f} ms" for r in imp["top_self_us"][:6])
            + "."
        )
    sv = results.get("serve", {})
    if sv.get("status") == "ok":
        out.append("")
        out.append("### 6. `trajectories serve`")
        out.append("")
        out.append(
            f"{sv['trajectories']:,} trajectories of 10 steps ({sv['spans']:,} spans, {sv['mb_sent']:.1f} MB of OTLP "
            f"protobuf in requests of {sv['per_request']} trajectories) into a fresh SQLite store, each round both ways "
            "in a shuffled order: one `trajectories serve` process (timed from the first request until the store "
            "holds them all; the client shares the machine) and the same `TrajectoryExporter` + `StoreSink` in process, "
            "fed the same spans in batches of 512."
        )
        out.append("")
        out.append("| `serve` spans/s | in-process exporter spans/s | `serve` ÷ in-process (goal ≥ 0.7) |")
        out.append("| --- | --- | --- |")
        out.append(f"| {_fmt(sv['serve_spans_per_s'], 0)} | {_fmt(sv['in_process_spans_per_s'], 0)} | {_fmt(sv['ratio'])} |")
    elif sv:
        out.append("")
        out.append(f"### 6. `trajectories serve`\n\n{sv.get('status', 'failed')}: {sv.get('error', '')}")
    rows = goal_rows(results)
    if rows:
        out.append("")
        out.append("### Goals")
        out.append("")
        out.append("| measure | this run | goal | met |")
        out.append("| --- | --- | --- | --- |")
        for label, figure, goal, met in rows:
            out.append(f"| {label} | {figure} | {goal} | {'yes' if met else '**no**'} |")
    return "\n".join(out)


def goal_rows(results: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """Each goal of docs/performance.md with this run's median: (measure, figure, goal, met)."""
    rows: list[tuple[str, str, str, bool]] = []
    base = results.get("decorators", {}).get("none", {})
    if "sync" in base:
        s, a = base["sync"]["step"]["ratio_to_hand"]["median"], base["async"]["step"]["ratio_to_hand"]["median"]
        rows.append(
            ("`@step` (no trajectory) ÷ hand-written span, sync / async", f"{s:.2f}× / {a:.2f}×", "≤ 1.10×", max(s, a) <= 1.1)
        )
    it = base.get("in_trajectory")
    if it:
        s, a = it["sync"]["ratio_to_hand"]["median"], it["async"]["ratio_to_hand"]["median"]
        rows.append(
            (
                "`@step` inside a trajectory ÷ hand-written span (6 attributes), sync / async",
                f"{s:.2f}× / {a:.2f}×",
                "≤ 1.10×",
                max(s, a) <= 1.1,
            )
        )
    t10 = base.get("trajectory10")
    if t10:
        r = t10["ratio_to_hand"]["median"]
        rows.append(("`async with trajectory()` + 10 steps ÷ the same 11 spans by hand", f"{r:.2f}×", "≤ 1.20×", r <= 1.2))
    e = results.get("exporter", {})
    if "ratio_to_hand" in e:
        r = e["ratio_to_hand"]["median"]
        rows.append(("exporter work per span ÷ creating it with bare SDK calls", f"{r:.2f}×", "≤ 0.35×", r <= 0.35))
    if "framework_ratio" in e:
        r = e["framework_ratio"]["median"]
        rows.append(("exporter work per framework span ÷ per SDK span", f"{r:.2f}×", "≤ 1.0×", r <= 1.0))
    for size, st in results.get("store", {}).get("sizes", {}).items():
        r = st["ratio"]["median"]
        rows.append((f"`similar(k=5)` at {int(size):,} × 384 ÷ numpy floor", f"{r:.2f}×", "≤ 1.5×", r <= 1.5))
    imp = results.get("import", {})
    if "ours_ms" in imp:
        r = imp["ours_ms"]["median"]
        rows.append(("`import trajectories` on top of its dependencies", f"{r:.1f} ms", "≤ 30 ms", r <= 30))
        if "typical_ms" in imp:
            r = imp["typical_ms"]["median"]
            rows.append(
                ("`from trajectories import configure, step, trajectory` on top of them", f"{r:.1f} ms", "(≤ 30 ms)", r <= 30)
            )
    sv = results.get("serve", {})
    if sv.get("status") == "ok":
        r = sv["ratio"]["median"]
        rows.append(("`serve` spans/s ÷ the in-process exporter's", f"{r:.2f}×", "≥ 0.7×", r >= 0.7))
    return rows


def plot(results: dict[str, Any], path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no plot"
    rows: list[tuple[str, dict[str, float], dict[str, float]]] = []
    base = results["decorators"].get("none", {})
    if "sync" not in base:
        return "no decorator results: no plot"
    rows.append(("hand-written span", base["sync"]["hand"]["overhead_us"], base["async"]["hand"]["overhead_us"]))
    rows.append(("trajectories @step", base["sync"]["step"]["overhead_us"], base["async"]["step"]["overhead_us"]))
    for name in PEER_NAMES:
        r = results["decorators"].get(name, {})
        if r.get("status") == "ok" and "sync" in r:
            rows.append((r["label"], r["sync"]["peer"]["overhead_us"], r["async"]["peer"]["overhead_us"]))
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.6))
    ys = range(len(rows))
    h = 0.38
    for off, idx, label, color in ((-h / 2, 1, "sync", "#4477aa"), (h / 2, 2, "async", "#ee7733")):
        stats = [r[1] if idx == 1 else r[2] for r in rows]
        med = [st["median"] for st in stats]
        lo = [st["median"] - st["q1"] for st in stats]
        hi = [st["q3"] - st["median"] for st in stats]
        ax.barh([y + off for y in ys], med, height=h, xerr=[lo, hi], label=label, color=color, capsize=3)
    ax.set_yticks(list(ys))
    ax.set_yticklabels([r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("per-call overhead over the undecorated function, µs (median, IQR)")
    m = results["machine"]
    ax.set_title(f"Per-call cost by SDK — {m['nproc']} × {m['cpu']}, Python {m['python']}", fontsize=9)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"plot written to {path}"


def write_docs(path: Path, table: str) -> None:
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    text = path.read_text() if path.exists() else f"# Performance\n\n{start}\n{end}\n"
    if start not in text or end not in text:
        text += f"\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{table}\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="tiny sizes and few rounds (a smoke test, not figures)")
    p.add_argument("--child", choices=SECTIONS, help=argparse.SUPPRESS)
    p.add_argument("--peer", default="none", help=argparse.SUPPRESS)
    p.add_argument("--only", nargs="*", choices=SECTIONS, help="run only these sections")
    p.add_argument("--peers", nargs="*", default=list(PEER_NAMES), help="peers to compare (default: all four)")
    p.add_argument("--json", type=Path, help="write the raw results here")
    p.add_argument("--plot", type=Path, help="write the per-call cost plot (PNG) here")
    p.add_argument("--docs", type=Path, help="replace the results block of this Markdown file")
    args = p.parse_args(argv)
    if args.child:
        if args.child == "decorators":
            data = child_decorators(args.peer, args.quick)
        elif args.child == "exporter":
            data = child_exporter(args.quick)
        elif args.child == "store":
            data = child_store(args.quick)
        elif args.child == "import":
            data = child_import(args.quick)
        elif args.child == "serve":
            data = child_serve(args.quick)
        else:
            data = child_memory(args.quick)
        print(json.dumps(data))
        return 0
    sections = args.only or list(SECTIONS)
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "decorators": {}}
    started = time.perf_counter()
    if "decorators" in sections:
        for peer in ["none", *args.peers]:
            print(f"decorators: {peer} ...", file=sys.stderr, flush=True)
            results["decorators"][peer] = run_child("decorators", args.quick, peer)
    for section in SECTIONS[1:]:
        if section in sections:
            print(f"{section} ...", file=sys.stderr, flush=True)
            results[section] = run_child(section, args.quick)
    results["seconds"] = time.perf_counter() - started
    table = render(results)
    print(table)
    for name, r in [*results["decorators"].items(), *((s, results.get(s, {})) for s in SECTIONS[1:])]:
        if isinstance(r, dict) and r.get("status") == "failed" and r.get("stderr"):
            print(f"\n{name} failed:\n{r['stderr']}", file=sys.stderr)
    if args.plot:
        print(plot(results, args.plot), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.docs:
        write_docs(args.docs, table)
    print(f"\nbenchmarks took {results['seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
