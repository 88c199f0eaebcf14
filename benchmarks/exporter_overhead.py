"""Per-span cost of the trajectory exporter, as a ratio of the cost of creating the span.

    PYTHONPATH=src python benchmarks/exporter_overhead.py

Creates trajectories of step spans (with the attributes the instrumentation writes) on a
real SDK provider, then times ``TrajectoryExporter.export`` on the same finished spans in
batches of 512 (the BatchSpanProcessor's default). Goal: ratio <= 0.3.
"""

from __future__ import annotations

import time

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trajectories import attributes as A
from trajectories._internal.export.buffer import TraceBuffer
from trajectories.export import TrajectoryExporter, record_from_span

N_TRAJECTORIES = 2_000
STEPS = 9


def make_spans(provider: TracerProvider) -> float:
    tracer = provider.get_tracer("bench")
    start = time.perf_counter()
    for _ in range(N_TRAJECTORIES):
        root = tracer.start_span("invoke_agent bench", attributes={A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT})
        tid = root.get_span_context().span_id & ((1 << 63) - 1)
        root.set_attribute(A.TRAJECTORY_ID, tid)
        ctx = trace.set_span_in_context(root)
        for i in range(STEPS):
            s = tracer.start_span("step", context=ctx, attributes={A.TRAJECTORY_ID: tid, A.STEP_INDEX: i, A.STEP_ACTION: "step"})
            s.set_attributes({A.STEP_OUTCOME: "success", A.STEP_RATIONALE: "", A.STEP_CONFIDENCE: 1.0})
            s.end()
        root.set_attributes({A.TRAJECTORY_VERDICT: "success", A.TRAJECTORY_QUALITY: 1.0})
        root.end()
    return time.perf_counter() - start


def main() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    # Creation cost measured without any processor (what the application pays anyway).
    bare = TracerProvider()
    create = min(make_spans(bare) for _ in range(3))
    make_spans(provider)
    spans = list(memory.get_finished_spans())
    n = len(spans)
    export_times = []
    for _ in range(3):
        exporter = TrajectoryExporter([lambda t: None], dead_letter_path="/dev/null")
        t0 = time.perf_counter()
        for i in range(0, n, 512):
            exporter.export(spans[i : i + 512])
        export_times.append(time.perf_counter() - t0)
        assert exporter.stats.trajectories_emitted == N_TRAJECTORIES
    export = min(export_times)
    hot_times = []
    for _ in range(3):
        buffer = TraceBuffer(max_traces=10**6, max_spans=10**7, max_age=300, late_memory=10**6)
        t0 = time.perf_counter()
        for i in range(0, n, 512):
            buffer.add([record_from_span(s) for s in spans[i : i + 512]], 0.0)
        hot_times.append(time.perf_counter() - t0)
    hot = min(hot_times)
    print(f"spans: {n} in {N_TRAJECTORIES} trajectories")
    print(f"create+end per span (no processor):      {create / n * 1e6:7.2f} us")
    print(f"buffering per span (convert + group):    {hot / n * 1e6:7.2f} us  ratio {hot / create:.2f}")
    print(f"export per span (buffer+assemble+sink):  {export / n * 1e6:7.2f} us  ratio {export / create:.2f}")


if __name__ == "__main__":
    main()
