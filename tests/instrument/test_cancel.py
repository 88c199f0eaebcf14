"""Cancellation ends every open span, marks cancelled steps Skipped("cancelled") and propagates."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.helpers.instrument import attr, by_name, spans, steps_of
from trajectories import attributes as A
from trajectories.instrument import TrajectoryHandle, step, trajectory
from trajectories.model import RootCause, SkippedOutcome, Verdict

pytestmark = pytest.mark.anyio

CANCELLED = SkippedOutcome("cancelled")


@step
async def quick() -> str:
    return "ok"


@step
async def slow() -> None:
    await anyio.sleep(30)


@step
async def ticker() -> AsyncIterator[int]:
    i = 0
    while True:
        yield i
        i += 1
        await anyio.sleep(30)


def assert_cancelled_step_span(exporter: InMemorySpanExporter, t: TrajectoryHandle, index: int) -> None:
    s = steps_of(exporter, int(t.id))[index]
    assert attr(s, A.STEP_OUTCOME) == "skipped"
    assert attr(s, A.STEP_OUTCOME_REASON) == "cancelled"
    assert s.status.status_code == StatusCode.UNSET
    assert not [e for e in s.events if e.name == A.EVENT_EXCEPTION]


def assert_cancelled_root(exporter: InMemorySpanExporter, t: TrajectoryHandle, ratio: float) -> None:
    assert t.result is not None
    assert t.result.verdict == Verdict.partial(ratio)
    root = by_name(exporter, f"invoke_agent {t.name}")
    assert attr(root, A.TRAJECTORY_CANCELLED) is True
    assert attr(root, A.TRAJECTORY_VERDICT) == "partial"
    assert root.status.status_code == StatusCode.UNSET
    assert root.end_time is not None


async def test_cancel_scope(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    with anyio.CancelScope() as scope:
        async with trajectory("scope", tracer_provider=tracer_provider) as t:
            await quick()
            scope.cancel()
            await slow()
    assert scope.cancelled_caught
    assert t.result is not None
    assert t.result.steps[1].outcome == CANCELLED
    assert t.result.steps[0].outcome.is_success
    assert_cancelled_step_span(span_exporter, t, 1)
    assert_cancelled_root(span_exporter, t, 0.5)
    assert len(spans(span_exporter)) == 3  # every span ended


async def test_move_on_after(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    with anyio.move_on_after(0.01) as scope:
        async with trajectory("move-on", tracer_provider=tracer_provider) as t:
            await slow()
    assert scope.cancelled_caught
    assert t.result is not None
    assert t.result.steps[0].outcome == CANCELLED
    assert_cancelled_root(span_exporter, t, 0.0)


async def test_fail_after_outside_and_inside(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    async def outside() -> TrajectoryHandle:
        with anyio.fail_after(0.01):
            async with trajectory("outside", tracer_provider=tracer_provider) as t:
                handles.append(t)
                await quick()
                await slow()
        return t

    async def inside() -> None:
        async with trajectory("inside", tracer_provider=tracer_provider) as t:
            handles.append(t)
            with anyio.fail_after(0.01):
                await slow()

    handles: list[TrajectoryHandle] = []
    with pytest.raises(TimeoutError):
        await outside()
    t = handles[0]
    assert t.result is not None
    assert t.result.steps[1].outcome == CANCELLED
    assert_cancelled_root(span_exporter, t, 0.5)

    with pytest.raises(TimeoutError):
        await inside()
    t2 = handles[1]
    assert t2.result is not None
    assert t2.result.steps[0].outcome == CANCELLED
    # the trajectory itself saw a TimeoutError, not a cancellation
    assert t2.result.verdict == Verdict.failure(RootCause.resource_constraint("time", "timeout"))
    assert attr(by_name(span_exporter, "invoke_agent inside"), A.TRAJECTORY_CANCELLED) is None


async def test_task_group_cancellation(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    async with trajectory("group", tracer_provider=tracer_provider) as t, anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(slow)
        await quick()
        await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert t.result is not None
    outcomes = sorted(s.outcome.kind for s in t.result.steps)
    assert outcomes == ["skipped", "skipped", "skipped", "success"]
    assert t.result.verdict == Verdict.partial(0.25)  # the trajectory itself exited normally
    assert len(spans(span_exporter)) == 5
    for s in steps_of(span_exporter, int(t.id)):
        if attr(s, A.STEP_ACTION) == "slow":
            assert attr(s, A.STEP_OUTCOME_REASON) == "cancelled"


async def test_cancelled_async_generator_step(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    seen: list[int] = []
    with anyio.move_on_after(0.01):
        async with trajectory("agen", tracer_provider=tracer_provider) as t:
            async for i in ticker():
                seen.append(i)
    assert seen == [0]
    assert t.result is not None
    assert t.result.steps[0].outcome == CANCELLED
    assert_cancelled_root(span_exporter, t, 0.0)


async def test_sync_with_step_block_cancelled(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    with anyio.move_on_after(0.01):
        async with trajectory("block", tracer_provider=tracer_provider) as t, step("waiting"):
            await anyio.sleep(30)
    assert t.result is not None
    assert t.result.steps[0].outcome == CANCELLED
    assert_cancelled_step_span(span_exporter, t, 0)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_asyncio_task_cancel(
    anyio_backend: str, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    handles: list[TrajectoryHandle] = []

    async def agent() -> None:
        async with trajectory("task", tracer_provider=tracer_provider) as t:
            handles.append(t)
            await quick()
            await slow()

    task = asyncio.create_task(agent())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (t,) = handles
    assert t.result is not None
    assert t.result.steps[1].outcome == CANCELLED
    assert_cancelled_root(span_exporter, t, 0.5)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_cancellation(
    anyio_backend: str, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    import trio

    with trio.CancelScope() as scope:
        async with trajectory("trio", tracer_provider=tracer_provider) as t:

            @step
            async def trio_sleep() -> None:
                await trio.sleep(30)

            scope.deadline = trio.current_time() + 0.01
            await trio_sleep()
    assert scope.cancelled_caught
    assert t.result is not None
    assert t.result.steps[0].outcome == CANCELLED
    assert_cancelled_step_span(span_exporter, t, 0)
    assert_cancelled_root(span_exporter, t, 0.0)


async def test_explicit_success_does_not_survive_cancellation(tracer_provider: TracerProvider) -> None:
    with anyio.CancelScope() as scope:
        async with trajectory("explicit", tracer_provider=tracer_provider) as t:
            t.succeed()
            await quick()
            scope.cancel()
            await anyio.sleep(1)
    assert t.result is not None
    assert t.result.verdict == Verdict.partial(1.0)


def test_cancellation_recognition() -> None:
    from trajectories._internal.model.cancellation import is_cancellation

    if sys.version_info >= (3, 11):
        from builtins import BaseExceptionGroup
    else:  # pragma: no cover - anyio's backport
        from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

    assert is_cancellation(asyncio.CancelledError())
    assert is_cancellation(GeneratorExit())
    assert not is_cancellation(ValueError("x"))
    assert not is_cancellation(KeyboardInterrupt())
    assert not is_cancellation(TimeoutError())
    assert is_cancellation(BaseExceptionGroup("g", [asyncio.CancelledError(), asyncio.CancelledError()]))
    assert not is_cancellation(BaseExceptionGroup("g", [asyncio.CancelledError(), ValueError("x")]))


def test_recorder_and_instrumentation_decide_cancellation_and_failure_text_alike() -> None:
    """One implementation: the recorder's ``step()`` sees exception groups of cancellations and
    ``GeneratorExit`` as cancellation, and writes ``"Type"`` (not ``"Type: "``) for an empty message."""
    from trajectories import StepOutcome, TrajectoryRecorder

    if sys.version_info >= (3, 11):
        from builtins import BaseExceptionGroup
    else:  # pragma: no cover - anyio's backport
        from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

    rec = TrajectoryRecorder()
    for exc in (BaseExceptionGroup("g", [asyncio.CancelledError()]), GeneratorExit()):
        with pytest.raises(type(exc)), rec.step("cancelled"):
            raise exc
    with pytest.raises(ValueError, match=r"\A\Z"), rec.step("empty message"):
        raise ValueError()
    with pytest.raises(ValueError, match="bad"), rec.step("message"):
        raise ValueError("bad")
    outcomes = [s.outcome for s in rec.steps]
    assert outcomes == [
        StepOutcome.skipped("cancelled"),
        StepOutcome.skipped("cancelled"),
        StepOutcome.failure("ValueError"),
        StepOutcome.failure("ValueError: bad"),
    ]
