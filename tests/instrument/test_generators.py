"""Generator steps: current only while the body runs; ended on finish, error, close, GC or trajectory exit."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator

import anyio
import anyio.lowlevel
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.helpers.instrument import attr, by_name, spans, steps_of
from trajectories import attributes as A
from trajectories.instrument import current_step, step, trajectory
from trajectories.model import FailureOutcome, StepOutcome

pytestmark = pytest.mark.anyio

DETACH_ERROR = "Failed to detach context"


@step
def counting(n: int, log: list[str]) -> Iterator[int]:
    try:
        for i in range(n):
            log.append(f"current={trace.get_current_span().get_span_context().span_id}")
            assert current_step() is not None
            yield i
    finally:
        log.append("finally")


@step
async def acounting(n: int, log: list[str]) -> AsyncGenerator[int, None]:
    try:
        for i in range(n):
            log.append(f"current={trace.get_current_span().get_span_context().span_id}")
            assert current_step() is not None
            yield i
            await anyio.lowlevel.checkpoint()
    finally:
        log.append("finally")


def test_sync_generator_span_is_current_only_inside_the_body(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    log: list[str] = []
    with trajectory("gen", tracer_provider=tracer_provider) as t:
        root_id = trace.get_current_span().get_span_context().span_id
        for _ in counting(3, log):
            assert trace.get_current_span().get_span_context().span_id == root_id
            assert current_step() is None
    (s,) = steps_of(span_exporter, int(t.id))
    assert log == [f"current={s.context.span_id}"] * 3 + ["finally"]
    assert attr(s, A.STEP_OUTCOME) == "success"
    assert t.result is not None
    assert t.result.steps[0].outcome == StepOutcome.success()


async def test_async_generator_span_is_current_only_inside_the_body(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    log: list[str] = []
    async with trajectory("agen", tracer_provider=tracer_provider) as t:
        root_id = trace.get_current_span().get_span_context().span_id
        async for _ in acounting(3, log):
            assert trace.get_current_span().get_span_context().span_id == root_id
            assert current_step() is None
    (s,) = steps_of(span_exporter, int(t.id))
    assert log == [f"current={s.context.span_id}"] * 3 + ["finally"]
    assert attr(s, A.STEP_OUTCOME) == "success"


def test_generator_return_value_send_and_throw(tracer_provider: TracerProvider) -> None:
    @step
    def echo() -> Generator[int, int, str]:
        total = 0
        while total < 10:
            try:
                total += yield total
            except KeyError:
                total += 100
        return f"total={total}"

    @step
    def finite() -> Generator[int, None, str]:
        yield 1
        return "done"

    def consumer() -> Generator[int, None, str]:
        result = yield from finite()
        return result

    with trajectory("send", tracer_provider=tracer_provider) as t:
        g = echo()
        assert next(g) == 0
        assert g.send(3) == 3
        with pytest.raises(StopIteration) as stop:
            g.throw(KeyError("x"))
        assert stop.value.value == "total=103"
        g2 = consumer()
        assert next(g2) == 1
        with pytest.raises(StopIteration) as stop2:
            next(g2)
        assert stop2.value.value == "done"
        with pytest.raises(TypeError):
            list(echo())  # next() sends None: the body's += fails
    assert t.result is not None
    assert t.result.steps[0].outcome.is_success
    assert t.result.steps[1].outcome.is_success
    assert isinstance(t.result.steps[2].outcome, FailureOutcome)
    assert t.result.steps[2].outcome.error.startswith("TypeError")


def test_generator_that_raises_fails_the_step(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    @step
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("bad item")

    with trajectory("raise", tracer_provider=tracer_provider) as t, pytest.raises(ValueError, match="bad item"):
        list(broken())
    (s,) = steps_of(span_exporter, int(t.id))
    assert s.status.status_code == StatusCode.ERROR
    assert attr(s, A.STEP_OUTCOME_ERROR) == "ValueError: bad item"


def test_break_closes_early_with_success(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    log: list[str] = []
    with trajectory("break", tracer_provider=tracer_provider) as t:
        for i in counting(100, log):
            if i == 1:
                break
        gc.collect()  # the for loop dropped its reference: CPython closes the generator now
        assert len(spans(span_exporter)) == 1  # the step span ended before the trajectory
    assert log[-1] == "finally"
    assert t.result is not None
    assert t.result.steps[0].outcome.is_success


async def test_aclose_ends_the_step(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    log: list[str] = []
    async with trajectory("aclose", tracer_provider=tracer_provider) as t:
        agen = acounting(100, log)
        assert await agen.__anext__() == 0
        await agen.aclose()
        assert log[-1] == "finally"
        assert len(spans(span_exporter)) == 1
    assert t.result is not None
    assert t.result.steps[0].outcome.is_success


def test_garbage_collected_generator_ends_its_step(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    log: list[str] = []
    with trajectory("gc", tracer_provider=tracer_provider) as t:
        g = counting(100, log)
        next(g)
        del g
        gc.collect()
        assert log[-1] == "finally"
        (s,) = spans(span_exporter)
        assert attr(s, A.STEP_OUTCOME) == "success"
    root = by_name(span_exporter, "invoke_agent gc")
    assert s.end_time is not None
    assert root.end_time is not None
    assert s.end_time <= root.end_time
    assert t.result is not None
    assert t.result.steps[0].outcome.is_success


async def test_abandoned_async_generator_is_ended_by_its_trajectory(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []
    keep: list[AsyncIterator[int]] = []
    with caplog.at_level(logging.ERROR, logger="opentelemetry.context"):
        async with trajectory("abandoned", tracer_provider=tracer_provider) as t:
            agen = acounting(100, log)
            keep.append(agen)  # still referenced: nothing but the trajectory can end its step
            assert await agen.__anext__() == 0
            with step("after"):
                pass
        assert t.result is not None
        assert [s.action for s in t.result.steps] == ["acounting", "after"]
        assert t.result.steps[0].outcome.is_success
        (s,) = [x for x in steps_of(span_exporter, int(t.id)) if x.name == "acounting"]
        assert attr(s, A.STEP_OUTCOME) == "success"
        count = len(spans(span_exporter))
        # finalised later, elsewhere: no second span, no error
        keep.clear()
        del agen
        gc.collect()
        await anyio.sleep(0.01)
        assert len(spans(span_exporter)) == count
    assert DETACH_ERROR not in caplog.text


async def test_no_detach_errors_when_a_generator_crosses_tasks(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []
    with caplog.at_level(logging.DEBUG, logger="opentelemetry.context"):
        async with trajectory("cross", tracer_provider=tracer_provider) as t:
            agen = acounting(3, log)

            async def take() -> None:
                await agen.__anext__()

            async with anyio.create_task_group() as tg:  # each item is pulled by a different task
                tg.start_soon(take)
            async with anyio.create_task_group() as tg:
                tg.start_soon(take)
            async with anyio.create_task_group() as tg:
                tg.start_soon(agen.aclose)

            sync_gen = counting(5, log)
            next(sync_gen)
            await anyio.to_thread.run_sync(next, sync_gen)  # resumed in a worker thread
            abandoned = acounting(5, log)
            await abandoned.__anext__()
        del abandoned, sync_gen
        gc.collect()
        await anyio.sleep(0.01)
    assert DETACH_ERROR not in caplog.text
    assert t.result is not None
    assert [s.action for s in t.result.steps] == ["acounting", "counting", "acounting"]
    assert all(s.outcome.is_success for s in t.result.steps)
    assert len(spans(span_exporter)) == 4


async def test_the_detach_log_check_can_fail(caplog: pytest.LogCaptureFixture, tracer_provider: TracerProvider) -> None:
    """A naive ``use_span`` wrapper around ``yield`` logs #2606's error; ours does not (above)."""
    tracer = tracer_provider.get_tracer("naive")

    async def naive() -> AsyncGenerator[int, None]:
        with trace.use_span(tracer.start_span("naive"), end_on_exit=True):
            for i in range(3):
                yield i

    with caplog.at_level(logging.ERROR, logger="opentelemetry.context"):
        agen = naive()

        async def take() -> None:
            await agen.__anext__()

        async with anyio.create_task_group() as tg:
            tg.start_soon(take)
        async with anyio.create_task_group() as tg:
            tg.start_soon(agen.aclose)
    assert DETACH_ERROR in caplog.text


async def test_blocks_inside_an_async_generator_closed_by_another_task(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    """An agent written as an async generator, abandoned mid-way and closed from another task."""
    from trajectories._internal.diagnostics import internal_errors

    handles = []

    async def agent() -> AsyncGenerator[str, None]:
        async with trajectory("streaming", tracer_provider=tracer_provider) as t:
            handles.append(t)
            with step("draft"):
                yield "first chunk"
                yield "second chunk"

    before = internal_errors.value
    with caplog.at_level(logging.DEBUG, logger="opentelemetry.context"):
        stream = agent()

        async def first() -> None:
            assert await stream.__anext__() == "first chunk"

        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.aclose)
    assert DETACH_ERROR not in caplog.text
    assert internal_errors.value == before
    (t,) = handles
    assert t.result is not None
    assert t.result.steps[0].outcome == StepOutcome.skipped("cancelled")  # closed before it finished
    assert len(spans(span_exporter)) == 2
