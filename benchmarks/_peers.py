"""The peers' decorators, each configured to export into the same in-process null exporter.

Each ``setup_*`` returns a :class:`Peer`: a decorated sync and async function, the exporter
that counts what reached it, and what the peer was set to do. Each peer runs in its own
process (several of them install a global tracer provider). Configuration is the peer's own
documented options: no network export, no sampling, and content (argument/return value)
capture turned off where the peer allows it, since ``@step`` records no arguments.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

__all__ = ["PEERS", "NullExporter", "Peer", "PeerUnavailable", "setup_peer", "work", "work_async"]


class PeerUnavailable(Exception):
    """The peer's package is not installed (or does not import)."""


class NullExporter(SpanExporter):
    """Counts the spans it receives and keeps the first one; no I/O."""

    def __init__(self) -> None:
        self.count = 0
        self.sample: ReadableSpan | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.sample is None and spans:
            self.sample = spans[0]
        self.count += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def work(x: int) -> int:
    """The function every decorator wraps: as near to nothing as a call gets."""
    return x + 1


async def work_async(x: int) -> int:
    return x + 1


@dataclass
class Peer:
    name: str
    label: str
    version: str
    sync: Callable[[int], int]
    async_: Callable[[int], Awaitable[int]]
    exporter: NullExporter
    config: str
    flush: Callable[[], object] = lambda: None  # deliver what a batching processor still holds


def _decorated(decorator: Any) -> tuple[Callable[[int], int], Callable[[int], Awaitable[int]]]:
    """*decorator* (a peer's, untyped where the peer is not installed) applied to fresh sync and async wrappers of work."""

    def sync(x: int) -> int:
        return work(x)

    async def async_(x: int) -> int:
        return await work_async(x)

    return cast("Callable[[int], int]", decorator(sync)), cast("Callable[[int], Awaitable[int]]", decorator(async_))


def null_provider() -> tuple[TracerProvider, NullExporter]:
    provider = TracerProvider()
    exporter = NullExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError as exc:
        raise PeerUnavailable(f"{dist} is not installed") from exc


def setup_langfuse() -> Peer:
    version = _version("langfuse")
    os.environ.setdefault("LANGFUSE_PUBLIC_KEY", "pk-lf-bench")
    os.environ.setdefault("LANGFUSE_SECRET_KEY", "sk-lf-bench")
    os.environ.setdefault("LANGFUSE_HOST", "http://127.0.0.1:9")  # never contacted: spans go to span_exporter
    from langfuse import Langfuse, observe

    # Langfuse installs its own LangfuseSpanProcessor (a BatchSpanProcessor, its only export
    # path) on the provider; span_exporter= (documented) replaces the OTLP/HTTP exporter it
    # would send to the Langfuse server with ours.
    provider = TracerProvider()
    exporter = NullExporter()
    client = Langfuse(tracer_provider=provider, span_exporter=exporter, tracing_enabled=True, sample_rate=1.0)
    del client

    sync, async_ = _decorated(observe(name="work", capture_input=False, capture_output=False))

    return Peer(
        "langfuse",
        "Langfuse @observe",
        version,
        sync,
        async_,
        exporter,
        "Langfuse(tracer_provider=<own provider>, span_exporter=<null>) (its BatchSpanProcessor, default batching); "
        "@observe(capture_input=False, capture_output=False)",
        flush=provider.force_flush,
    )


def setup_traceloop() -> Peer:
    version = _version("traceloop-sdk")
    os.environ["TRACELOOP_TRACE_CONTENT"] = "false"
    os.environ["TRACELOOP_TELEMETRY"] = "false"
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import task

    exporter = NullExporter()
    Traceloop.init(
        app_name="bench",
        exporter=exporter,
        disable_batch=True,
        telemetry_enabled=False,
        instruments=set(),
        should_enrich_metrics=False,
    )

    sync, async_ = _decorated(task(name="work"))

    return Peer(
        "traceloop",
        "Traceloop @task",
        version,
        sync,
        async_,
        exporter,
        "Traceloop.init(exporter=<null>, disable_batch=True, telemetry_enabled=False, instruments=set()); "
        "TRACELOOP_TRACE_CONTENT=false",
    )


def setup_logfire() -> Peer:
    version = _version("logfire")
    import logfire

    exporter = NullExporter()
    logfire.configure(
        send_to_logfire=False,
        console=False,
        additional_span_processors=[SimpleSpanProcessor(exporter)],
        service_name="bench",
    )

    sync, async_ = _decorated(logfire.instrument("work", extract_args=False))

    return Peer(
        "logfire",
        "Logfire @instrument",
        version,
        sync,
        async_,
        exporter,
        "logfire.configure(send_to_logfire=False, console=False, additional_span_processors=[Simple(null)]); "
        "@logfire.instrument(extract_args=False)",
    )


def setup_openinference() -> Peer:
    version = _version("openinference-instrumentation")
    from openinference.instrumentation import TraceConfig
    from openinference.instrumentation import TracerProvider as OITracerProvider

    exporter = NullExporter()
    provider = OITracerProvider(config=TraceConfig(hide_inputs=True, hide_outputs=True))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")

    sync, async_ = _decorated(tracer.chain(name="work"))

    return Peer(
        "openinference",
        "OpenInference @chain",
        version,
        sync,
        async_,
        exporter,
        "openinference TracerProvider(config=TraceConfig(hide_inputs=True, hide_outputs=True)) + Simple(null); @tracer.chain",
    )


PEERS: dict[str, Callable[[], Peer]] = {
    "langfuse": setup_langfuse,
    "traceloop": setup_traceloop,
    "logfire": setup_logfire,
    "openinference": setup_openinference,
}


def setup_peer(name: str) -> Peer:
    """Set up *name*; :class:`PeerUnavailable` when its package is missing or does not import."""
    try:
        return PEERS[name]()
    except ImportError as exc:
        raise PeerUnavailable(f"{type(exc).__name__}: {exc}") from exc


def sample_attributes(exporter: NullExporter) -> list[str]:
    span = exporter.sample
    if span is None:
        return []
    attrs: Any = span.attributes or {}
    return sorted(str(k) for k in attrs)
