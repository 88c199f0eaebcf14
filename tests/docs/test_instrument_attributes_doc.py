"""docs/attributes.md is complete and true: every name it lists is written by a recording here."""

from __future__ import annotations

import re

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.helpers.paths import ROOT
from trajectories import attributes as A
from trajectories._internal.instrument.recall import record_recall
from trajectories._internal.model.recall import RecalledMemory
from trajectories._internal.settings import settings
from trajectories.instrument import step, trajectory
from trajectories.model import RootCause

pytestmark = pytest.mark.anyio

DOC = ROOT / "docs" / "attributes.md"
_ROW = re.compile(r"^\| `([^`]+)` \|", re.MULTILINE)


def documented_span_names() -> list[str]:
    """First-column names of every table before the metadata-keys section."""
    text = DOC.read_text(encoding="utf-8")
    span_part = text.split("## Keys inside metadata attributes")[0]
    return _ROW.findall(span_part)


def test_every_attribute_constant_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in A.__all__ if f"`{getattr(A, name)}" not in text and getattr(A, name) not in text]
    assert missing == []
    assert len(documented_span_names()) >= 40


async def record_everything(provider: TracerProvider) -> None:
    @step(tool="search", model="m", tags=("t",), attributes={"k": "v"}, rationale="why", confidence=0.5)
    def tool_step() -> None:
        pass

    @step
    def raiser() -> None:
        raise ValueError("x")

    @step(capture=True)  # content capture is off by default; on for this one step
    def captured(q: str) -> str:
        return q.upper()

    async with trajectory(
        "everything",
        query="some words",
        session_id="s",
        user_id="u",
        request_type="qa",
        tags=("a",),
        attributes={"team": "core"},
        tracer_provider=provider,
    ) as t:
        tool_step()
        assert captured("q") == "Q"
        with step("outer") as s:
            s.add_tokens(1, 2)
            s.set_context_embedding([0.5])
            with step("inner") as inner:
                inner.partial("half", "rest")
        with step("retry") as s:
            s.retry("again", ["wait"])
        with step("failed") as s:
            s.fail("bad")
        with pytest.raises(ValueError, match="x"):
            raiser()
        saved, settings.capture_content = settings.capture_content, True  # the recall span's content too
        try:
            record_recall(
                query_source="text",
                k=3,
                filters={"min_quality": 0.5, "verdict": "success"},
                memories=[RecalledMemory("lesson", 7, 0.5, "a lesson")],
                rank="effect",
                query="some words",
            )
        finally:
            settings.capture_content = saved
        t.add_lesson("lesson")
        t.set_response_embedding([1.0])
        t.record_tool("browser")
        t.recovered(RootCause.unknown("oops"), 1, 0.9)
    async with trajectory("partial", tracer_provider=provider) as t:
        with step("skipped") as s:
            s.skip("no need")
        t.partial(0.5)
    with anyio.CancelScope() as scope:
        async with trajectory("cancelled", tracer_provider=provider):
            scope.cancel()
            await anyio.sleep(1)


async def test_every_documented_name_is_recorded(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    await record_everything(tracer_provider)
    seen: set[str] = set()
    for span in span_exporter.get_finished_spans():
        seen.update(span.attributes or {})
        for event in span.events:
            seen.add(event.name)
            seen.update(event.attributes or {})
    missing = []
    for name in documented_span_names():
        if "<key>" in name:
            prefix = name.split("<key>")[0]
            if not any(key.startswith(prefix) for key in seen):
                missing.append(name)
        elif name not in seen:
            missing.append(name)
    assert missing == []
    # and the events
    assert {A.EVENT_EVALUATION_RESULT, A.EVENT_EXCEPTION} <= seen
