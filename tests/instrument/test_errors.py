"""Exceptions: the user's propagate unchanged; bad arguments raise at the call; ours are logged and counted."""

from __future__ import annotations

import contextlib
import json
import logging
import traceback
from collections.abc import Sequence

import anyio
import anyio.lowlevel
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.helpers.instrument import attr, by_name, steps_of
from trajectories import attributes as A
from trajectories._internal.diagnostics import internal_errors
from trajectories.instrument import TrajectoryFailed, current_step, step, trajectory
from trajectories.model import FailureOutcome, RootCause, Verdict

pytestmark = pytest.mark.anyio


class Boom(Exception):
    pass


@step
def explode(message: str) -> None:
    raise Boom(message)


@step
async def aexplode() -> None:
    await anyio.lowlevel.checkpoint()
    raise KeyError("k")


async def test_exception_propagates_unchanged(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    original = Boom("kaput")

    @step
    async def raiser() -> None:
        raise original

    with pytest.raises(Boom) as info:
        async with trajectory("err", tracer_provider=tracer_provider) as t:
            await raiser()
    assert info.value is original
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "raiser" in frames  # the original traceback is still there
    assert t.result is not None
    assert t.result.steps[0].outcome == FailureOutcome("Boom: kaput")
    assert t.result.verdict == Verdict.failure(RootCause.unknown("Boom: kaput"))
    (s,) = steps_of(span_exporter, int(t.id))
    assert s.status.status_code == StatusCode.ERROR
    assert attr(s, A.STEP_OUTCOME) == "failure"
    assert attr(s, A.STEP_OUTCOME_ERROR) == "Boom: kaput"
    (event,) = [e for e in s.events if e.name == A.EVENT_EXCEPTION]
    assert event.attributes is not None
    assert str(event.attributes["exception.type"]).endswith("Boom")
    root = by_name(span_exporter, "invoke_agent err")
    assert root.status.status_code == StatusCode.ERROR
    assert json.loads(str(attr(root, A.TRAJECTORY_VERDICT_ROOT_CAUSE))) == {"Unknown": {"details": "Boom: kaput"}}


def test_sync_and_empty_message_exceptions(tracer_provider: TracerProvider) -> None:
    with pytest.raises(Boom), trajectory("sync-err", tracer_provider=tracer_provider) as t:  # noqa: PT012
        with contextlib.suppress(Boom):
            explode("first")
        raise Boom()
    assert t.result is not None
    assert t.result.steps[0].outcome == FailureOutcome("Boom: first")
    assert t.result.verdict == Verdict.failure(RootCause.unknown("Boom"))


def test_caught_step_failure_gives_partial(tracer_provider: TracerProvider) -> None:
    with trajectory("caught", tracer_provider=tracer_provider) as t:
        with pytest.raises(Boom):
            explode("x")
        with step("ok"):
            pass
    assert t.result is not None
    assert t.result.verdict == Verdict.partial(0.5)


def test_explicit_fail_is_kept_when_step_raises(tracer_provider: TracerProvider) -> None:
    with trajectory("explicit", tracer_provider=tracer_provider) as t, pytest.raises(Boom), step("s") as s:  # noqa: PT012
        s.fail("my own words")
        raise Boom("other")
    assert t.result is not None
    assert t.result.steps[0].outcome == FailureOutcome("my own words")


def test_trajectory_failed_and_timeouts(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    cause = RootCause.insufficient_context(["orders"])
    with pytest.raises(TrajectoryFailed), trajectory("tf", tracer_provider=tracer_provider) as t:
        raise TrajectoryFailed(cause)
    assert t.result is not None
    assert t.result.verdict == Verdict.failure(cause)
    assert json.loads(str(attr(by_name(span_exporter, "invoke_agent tf"), A.TRAJECTORY_VERDICT_ROOT_CAUSE))) == {
        "InsufficientContext": {"missing": ["orders"]}
    }
    with pytest.raises(TrajectoryFailed), trajectory("tf2", tracer_provider=tracer_provider) as t:
        raise TrajectoryFailed("plain words")
    assert t.result is not None
    assert t.result.verdict == Verdict.failure(RootCause.unknown("plain words"))

    with pytest.raises(TimeoutError), trajectory("to", tracer_provider=tracer_provider) as t:
        raise TimeoutError("30s")
    assert t.result is not None
    assert t.result.verdict == Verdict.failure(RootCause.resource_constraint("time", "30s"))
    with pytest.raises(TimeoutError), trajectory("to2", tracer_provider=tracer_provider) as t:
        raise TimeoutError()
    assert t.result is not None
    assert t.result.verdict == Verdict.failure(RootCause.resource_constraint("time", "timeout"))
    with pytest.raises(TypeError, match="cause"):
        TrajectoryFailed(42)  # type: ignore[arg-type]


async def test_async_step_failure(tracer_provider: TracerProvider) -> None:
    async with trajectory("aerr", tracer_provider=tracer_provider) as t:
        with pytest.raises(KeyError):
            await aexplode()
    assert t.result is not None
    assert t.result.steps[0].outcome == FailureOutcome("KeyError: 'k'")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"confidence": 1.5}, ValueError, "confidence"),
        ({"confidence": float("nan")}, ValueError, "confidence"),
        ({"confidence": "high"}, TypeError, "confidence"),
        ({"rationale": 3}, TypeError, "rationale"),
        ({"tool": 3}, TypeError, "tool"),
        ({"tags": "abc"}, TypeError, "tags"),
        ({"attributes": {"k": 1}}, TypeError, "attributes"),
        ({"tracer_provider": "x"}, TypeError, "tracer_provider"),
    ],
)
def test_bad_step_arguments_raise_at_decoration(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        step(**kwargs)  # type: ignore[call-overload]


def test_bad_trajectory_and_handle_arguments(tracer_provider: TracerProvider) -> None:
    with pytest.raises(TypeError, match="name"):
        trajectory(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="query_embedding"):
        trajectory("x", query_embedding=[1.0, float("inf")])
    with pytest.raises(TypeError, match="session_id"):
        trajectory("x", session_id=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tags"):
        trajectory("x", tags="abc")
    with pytest.raises(TypeError, match="tracer_provider"):
        trajectory("x", tracer_provider=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="action"):
        step(3)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="needs an action"), step(rationale="r"):
        pass
    with trajectory("ok", tracer_provider=tracer_provider) as t, step("s") as s:
        with pytest.raises(ValueError, match="confidence"):
            s.set_confidence(1.5)
        with pytest.raises(ValueError, match="confidence"):
            s.set_confidence(float("nan"))
        with pytest.raises(TypeError, match="confidence"):
            s.set_confidence(None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="input"):
            s.add_tokens(input=1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="output"):
            s.add_tokens(output=-1)
        with pytest.raises(ValueError, match="embedding"):
            s.set_context_embedding([[1.0]])
        with pytest.raises(TypeError, match="suggestions"):
            s.retry("r", "not-a-list")
        with pytest.raises(TypeError, match="cause"):
            t.fail(3)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="verdict"):
            t.set_verdict("success")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="embedding"):
            t.set_response_embedding([float("nan")])
        with pytest.raises(TypeError, match="lesson"):
            t.add_lesson(None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="original_failure"):
            t.recovered("x", 1, 0.5)  # type: ignore[arg-type]
        s.set_confidence(0.5)
    assert t.result is not None
    assert t.result.steps[0].confidence == 0.5
    with pytest.raises(RuntimeError, match="once"), t:
        pass


def test_setters_after_the_step_ended_are_ignored(tracer_provider: TracerProvider) -> None:
    with trajectory("late", tracer_provider=tracer_provider) as t:
        with step("s") as s:
            pass
        s.fail("too late")
        s.set_confidence(0.1)
    assert t.result is not None
    assert t.result.steps[0].outcome.is_success
    assert t.result.steps[0].confidence == 1.0


class ExplodingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise RuntimeError("exporter is broken")

    def shutdown(self) -> None:
        pass


class ExplodingProcessor(SimpleSpanProcessor):
    def on_start(self, span: object, parent_context: object = None) -> None:
        raise RuntimeError("on_start is broken")

    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("on_end is broken")


async def test_broken_exporter_never_reaches_user_code() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ExplodingExporter()))
    provider.add_span_processor(SimpleSpanProcessor(memory))

    @step(action="work")
    async def work(x: int) -> int:
        current_step().add_tokens(1, 1)  # type: ignore[union-attr]
        return x * 2

    async with trajectory("broken", tracer_provider=provider) as t:
        assert await work(21) == 42
        with pytest.raises(Boom):
            explode("still mine")
    assert t.result is not None
    assert len(t.result.steps) == 2
    assert t.result.verdict == Verdict.partial(0.5)
    assert {s.name for s in memory.get_finished_spans()} == {"work", "explode", "invoke_agent broken"}
    provider.shutdown()


async def test_processor_that_raises_on_start_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ExplodingProcessor(memory))
    before = internal_errors.value

    @step(action="work")
    async def work(x: int) -> int:
        current_step().add_tokens(1, 1)  # type: ignore[union-attr]
        return x * 2

    with caplog.at_level(logging.ERROR, logger="trajectories"):
        async with trajectory("broken", tracer_provider=provider) as t:
            assert await work(21) == 42
            with pytest.raises(Boom) as info:
                explode("still mine")
    assert str(info.value) == "still mine"
    assert internal_errors.value == before + 3  # the root span and two step spans could not start
    assert sum("on_start is broken" in (r.exc_text or "") for r in caplog.records) == 3
    assert t.result is not None
    assert [s.action for s in t.result.steps] == ["work", "explode"]  # the trajectory still knows its steps
    assert t.result.metadata.total_input_tokens == 1
    assert t.result.verdict == Verdict.partial(0.5)
    provider.shutdown()


def test_internal_bug_is_logged_and_counted(
    tracer_provider: TracerProvider, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trajectories._internal.instrument import step_handle

    def broken(*args: object, **kwargs: object) -> dict[str, object]:
        raise RuntimeError("a bug in the SDK")

    monkeypatch.setattr(step_handle, "step_end_attributes", broken)
    # A step in a trajectory starts with the attributes its options build per call (its success
    # end attributes included, so an untouched successful step writes nothing at its end); a step
    # that changed its handle calls step_end_attributes at its end.
    monkeypatch.setattr(step_handle.StepOptions, "start_attributes_in", lambda self, tid, index: broken())
    before = internal_errors.value
    with caplog.at_level(logging.ERROR, logger="trajectories"), trajectory("bug", tracer_provider=tracer_provider) as t:
        assert plain_step(3) == 3
        assert touched_step(4) == 4
    assert internal_errors.value == before + 3  # both starts, and the touched step's end
    assert any(
        "a bug in the SDK" in (r.exc_text or "") or r.exc_info for r in caplog.records if r.name.startswith("trajectories")
    )
    assert t.result is not None
    assert len(t.result.steps) == 2


@step
def plain_step(x: int) -> int:
    return x


@step
def touched_step(x: int) -> int:
    handle = current_step()
    assert handle is not None
    handle.set_rationale("changed")
    return x
