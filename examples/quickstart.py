"""Quickstart: one agent, a few steps, a scored trajectory.

Run: python examples/quickstart.py
"""

from __future__ import annotations

import anyio
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trajectories.instrument import current_step, step, trajectory
from trajectories.model import Trajectory

DOCUMENTS = {
    "refund": "Refunds are issued within 14 days of a return.",
    "shipping": "Orders ship within 2 business days.",
}


@step(action="search", rationale="Need context before answering")
async def search(question: str) -> list[str]:
    await anyio.sleep(0.01)  # a real agent would query an index here
    hits = [text for key, text in DOCUMENTS.items() if key in question.lower()]
    if len(hits) < 2:
        current_step().partial(achieved=f"{len(hits)} hit(s)", missing="2 hits")  # type: ignore[union-attr]
    return hits


@step(tool="calculator")
def days_until_refund(days_since_return: int) -> int:
    return max(0, 14 - days_since_return)


@step(rationale="Compose the answer from the documents", model="demo-model")
async def compose(question: str, docs: list[str], days_left: int) -> str:
    s = current_step()
    assert s is not None
    s.add_tokens(input=120, output=40)
    s.set_confidence(0.9)
    return f"{docs[0]} You have {days_left} days left." if docs else "I don't know."


async def answer(question: str, provider: TracerProvider) -> Trajectory:
    async with trajectory("support-agent", query=question, session_id="s-1", tracer_provider=provider) as t:
        docs = await search(question)
        days_left = days_until_refund(3)
        reply = await compose(question, docs, days_left)
        t.add_lesson("Search before answering")
        print("reply:", reply)
    assert t.result is not None
    return t.result


def main() -> Trajectory:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    result = anyio.run(answer, "How does a refund work?", provider)
    print(f"{result.id}: verdict={result.verdict}, quality={result.quality}, {len(result.steps)} steps")
    for s in result.steps:
        print(f"  [{s.index}] {s.action:<18} {s.outcome.kind:<8} confidence={s.confidence} {s.latency_ms} ms")
    print("spans:", ", ".join(span.name for span in exporter.get_finished_spans()))
    provider.shutdown()
    return result


if __name__ == "__main__":
    main()
