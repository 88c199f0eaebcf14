"""Throughput of ``trajectories serve``: OTLP/HTTP protobuf in, scored trajectories in SQLite out.

A client process records trajectories of 10 steps with the real instrumentation into memory,
encodes them as the SDK's OTLP exporter does, and POSTs them in batches to a real
``trajectories serve`` subprocess; the figure is stored trajectories per second, measured
from the first request to the moment the store holds them all.

Run: python benchmarks/bench_serve.py [trajectories] [per_request]
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trajectories import SQLiteTrajectoryStore, step, trajectory

ROOT = Path(__file__).resolve().parents[1]


@step(tool="lookup")
def lookup(i: int) -> int:
    return i


def record(n: int) -> list[list[ReadableSpan]]:
    """The spans of *n* trajectories of 10 steps, grouped per trajectory."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    groups: list[list[ReadableSpan]] = []
    for i in range(n):
        with trajectory("bench", session_id=f"s{i % 50}", tracer_provider=provider):
            for j in range(10):
                lookup(j)
        groups.append(list(memory.get_finished_spans()))
        memory.clear()
    return groups


def main(n: int = 5000, per_request: int = 50) -> dict[str, float]:
    groups = record(n)
    bodies = []
    for k in range(0, n, per_request):
        spans = [s for g in groups[k : k + per_request] for s in g]
        bodies.append(encode_spans(spans).SerializeToString())
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "serve.db"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = dict(os.environ, TRAJECTORIES_DB=str(db), PYTHONPATH=str(ROOT / "src"))
        server = subprocess.Popen(
            [sys.executable, "-m", "trajectories", "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(base + "/health", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            t0 = time.perf_counter()
            for body in bodies:
                req = urllib.request.Request(base + "/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"})
                urllib.request.urlopen(req, timeout=60).close()
            t_sent = time.perf_counter()
            with SQLiteTrajectoryStore(db) as store:
                while store.stats().total < n:
                    time.sleep(0.05)
            t_done = time.perf_counter()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    n_spans = n * 11
    result: dict[str, float] = {
        "trajectories": n,
        "spans": n_spans,
        "seconds": t_done - t0,
        "trajectories_per_s": n / (t_done - t0),
        "spans_per_s": n_spans / (t_done - t0),
        "request_seconds": t_sent - t0,
        "mb_sent": sum(len(b) for b in bodies) / 1e6,
    }
    print(
        f"serve: {n} trajectories ({n_spans} spans, {result['mb_sent']:.1f} MB protobuf, {per_request} per request) "
        f"stored in {result['seconds']:.2f} s: {result['trajectories_per_s']:.0f} trajectories/s, "
        f"{result['spans_per_s']:.0f} spans/s"
    )
    return result


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
