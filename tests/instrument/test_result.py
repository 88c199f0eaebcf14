"""``t.result`` is built when first read (its steps from the records the steps left): the same
trajectory the spans assemble to, once, whichever thread reads it first."""

from __future__ import annotations

import contextlib
import threading

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trajectories import Verdict, assemble_trajectories, current_step, record_from_span, step, trajectory


@step(tool="lookup")
def lookup(i: int) -> int:
    return i


@step
def risky(i: int) -> int:
    handle = current_step()
    assert handle is not None
    handle.set_confidence(0.5)
    handle.add_tokens(3, 4)
    if i % 2:
        raise ValueError("odd")
    return i


def test_result_equals_the_assembled_trajectory(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    with trajectory("lazy", tracer_provider=tracer_provider) as t:
        for i in range(5):
            lookup(i)
            with contextlib.suppress(ValueError):
                risky(i)
    assert t.verdict == Verdict.partial(0.8)  # known before the result is built
    result = t.result
    assert result is not None
    assert [s.index for s in result.steps] == list(range(10))
    assert [s.action for s in result.steps[:2]] == ["lookup", "risky"]
    assert result.steps[3].outcome.kind == "failure"
    assert result.metadata.total_input_tokens == 15
    assert result.quality == result.compute_quality()
    assert t.result is result  # built once
    (assembled,) = assemble_trajectories([record_from_span(s) for s in span_exporter.get_finished_spans()])
    assert assembled == result


def test_concurrent_first_reads_get_one_result(tracer_provider: TracerProvider) -> None:
    with trajectory("lazy", tracer_provider=tracer_provider) as t:
        for i in range(50):
            lookup(i)
    seen: list[object] = []
    barrier = threading.Barrier(8)

    def read() -> None:
        barrier.wait()
        seen.append(t.result)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(seen) == 8
    assert all(r is seen[0] for r in seen)
    assert t.result is not None
    assert len(t.result.steps) == 50


def test_no_result_before_the_end(tracer_provider: TracerProvider) -> None:
    with trajectory("lazy", tracer_provider=tracer_provider) as t:
        lookup(1)
        assert t.result is None
    assert t.result is not None
    assert len(t.result.steps) == 1
