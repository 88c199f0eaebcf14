"""``configure()``: wire a tracer provider, the trajectory exporter, optional OTLP, and a flush at exit.

It never replaces a provider the application set: an SDK ``TracerProvider`` already
installed globally (or passed in) gets our processor added; only when the global provider is
still OpenTelemetry's default proxy does it create one (with ``service.name``) and install it.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import anyio.lowlevel
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from ..settings import settings
from ..store.base import TrajectoryStore
from ..store.open import open_store
from ..store.sink import StoreSink
from ..trajectory import Trajectory
from ..validate import check_int, shown
from .exporter import TrajectoryExporter
from .sinks import JsonlSink, Sink, as_sink

__all__ = ["Configuration", "configure", "current_configuration"]

logger = logging.getLogger("trajectories")

_OTLP_ENV = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_lock = threading.Lock()
_current: Configuration | None = None


#: configure()'s batch queue when neither ``max_queue_size=`` nor ``OTEL_BSP_MAX_QUEUE_SIZE``
#: says otherwise: OpenTelemetry's 2 048 drops spans under a burst of concurrent agents
#: (docs/reliability.md); 16 384 held every burst measured there, at a few KiB a queued span.
DEFAULT_MAX_QUEUE_SIZE = 16_384


class _CountingBatchSpanProcessor(BatchSpanProcessor):
    """A BatchSpanProcessor that counts the spans its full queue drops.

    OpenTelemetry drops the oldest queued span when a new one arrives at a full queue and
    logs it at most once per 20 s; the exporter behind it cannot see a span that never
    reached it. Counting here makes every drop visible (``Configuration.spans_dropped``),
    including trajectories that lost every span. The check mirrors the SDK's own (queue
    length == its maximum, read from its internals, best effort: if they change, nothing is
    counted and nothing breaks).
    """

    def __init__(self, exporter: SpanExporter, max_queue_size: int | None) -> None:
        # A queue smaller than OpenTelemetry's export batch (512) takes batches of its own size.
        batch_size = max_queue_size if max_queue_size is not None and max_queue_size < 512 else None
        super().__init__(exporter, max_queue_size=max_queue_size, max_export_batch_size=batch_size)
        batch = getattr(self, "_batch_processor", None)
        self._queue: Any = getattr(batch, "_queue", None)
        self._max = getattr(batch, "_max_queue_size", None)
        self._count_lock = threading.Lock()
        self.dropped = 0
        #: The queue's capacity, for messages.
        self.max_queue_size: int | None = self._max if isinstance(self._max, int) else None

    def on_end(self, span: ReadableSpan) -> None:
        queue = self._queue
        if queue is not None and len(queue) == self._max and span.context is not None and span.context.trace_flags.sampled:
            with self._count_lock:
                self.dropped += 1
        super().on_end(span)


class Configuration:
    """What :func:`configure` set up: the exporter, the provider, the processors. Flush or shut it down here."""

    def __init__(
        self,
        exporter: TrajectoryExporter,
        tracer_provider: TracerProvider,
        processor: SpanProcessor,
        otlp_processor: SpanProcessor | None,
        created_provider: bool,
        store: TrajectoryStore | None = None,
        owns_store: bool = False,
    ) -> None:
        self.exporter = exporter
        #: The store trajectories are written to (``configure(store=...)``), or None.
        self.store = store
        self._owns_store = owns_store
        self.tracer_provider = tracer_provider
        self.processor = processor
        self.otlp_processor = otlp_processor
        self.created_provider = created_provider
        self._closed = False
        self._guard_lock = threading.Lock()
        self._guard: threading.Thread | None = None
        self._guard_box: list[bool] = []
        self._dropped_reported = 0

    @property
    def otlp_exporter(self) -> SpanExporter | None:
        p = self.otlp_processor
        return p.span_exporter if isinstance(p, BatchSpanProcessor) else None

    @property
    def spans_dropped(self) -> int:
        """Spans the batch processor's full queue dropped before they reached the trajectory exporter.

        Each one is a step (or root) missing from a trajectory: such trajectories are flagged
        incomplete, and one that lost every span is gone. Raise ``configure(max_queue_size=)``
        when this grows; a WARNING says so at flush, shutdown and exit.
        """
        p = self.processor
        return p.dropped if isinstance(p, _CountingBatchSpanProcessor) else 0

    def _report_drops(self) -> None:
        dropped = self.spans_dropped
        if dropped > self._dropped_reported:
            p = self.processor
            size = p.max_queue_size if isinstance(p, _CountingBatchSpanProcessor) else None
            logger.warning(
                "trajectories: the batch span processor dropped %d spans (%d in all) because its queue of %s was full; "
                "trajectories that lost spans are flagged incomplete, ones that lost every span are gone: raise "
                "configure(max_queue_size=...) or OTEL_BSP_MAX_QUEUE_SIZE",
                dropped - self._dropped_reported,
                dropped,
                size,
            )
            self._dropped_reported = dropped

    def flush(self, timeout_millis: int = 30_000) -> bool:
        """Push queued spans through the processors, deliver every complete trajectory, retry failed deliveries.

        (A BatchSpanProcessor's own ``force_flush`` exports the queue but does not flush its
        exporter, so the trajectory exporter is flushed here explicitly.) The trajectory
        processor and exporter are flushed before the OTLP processor, so an OTLP endpoint
        that is down delays neither the store nor retried deliveries.

        Returns False if something failed or *timeout_millis* passed first: OpenTelemetry's
        ``force_flush`` ignores its timeout and waits for an export in progress, which a sink
        that never returns would make forever, so outside an event loop the flush runs in a
        helper thread and is waited for at most *timeout_millis*. Inside an event loop's
        thread it runs in the caller (a stream sink needs that loop); call it through
        ``anyio.to_thread.run_sync`` there.
        """
        if _in_event_loop():
            return self._flush_now(timeout_millis)
        result = self._bounded(self._flush_now, timeout_millis)
        return bool(result)

    def _flush_now(self, timeout_millis: int) -> bool:
        ok = _force_flush(self.processor, timeout_millis)
        self._report_drops()
        ok = self.exporter.force_flush(timeout_millis) and ok
        if self.otlp_processor is not None:
            ok = _force_flush(self.otlp_processor, timeout_millis) and ok
        return ok

    def _bounded(self, work: Callable[[int], bool], timeout_millis: int) -> bool | None:
        """``work(timeout_millis)`` in a daemon thread, waited for at most *timeout_millis*; None on timeout.

        While an earlier bounded call is still stuck, a new one waits for that one instead of
        starting another thread that would queue behind the same lock.
        """
        with self._guard_lock:
            guard = self._guard
            if guard is None or not guard.is_alive():
                box: list[bool] = []

                def run() -> None:
                    try:
                        box.append(work(timeout_millis))
                    except Exception:
                        logger.warning("trajectories: flushing failed", exc_info=True)
                        box.append(False)

                guard = threading.Thread(target=run, name="trajectories-flush", daemon=True)
                self._guard, self._guard_box = guard, box
                guard.start()
            box = self._guard_box
        guard.join(max(0, timeout_millis) / 1000)
        if guard.is_alive():
            logger.error(
                "trajectories: flush did not finish within %d ms: an export is stuck (a sink that does not return?)",
                timeout_millis,
            )
            return None
        return box[0] if box else False

    def shutdown(self) -> None:
        """Flush, then stop our processors: pending trajectories go out flagged incomplete, sinks close.

        The provider keeps running (it may be the application's); ours stops receiving spans.
        """
        global _current
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._at_exit)
        # A worker stuck in a blocked sink would make the batch processor's shutdown wait 30 s
        # and then drop the spans still queued behind it: check first (bounded), rescue if stuck.
        if not _in_event_loop() and self._bounded(self._flush_processor, self.exit_timeout_millis) is None:
            self._rescue_stuck_export()
        for p in (self.processor, self.otlp_processor):
            if p is None:
                continue
            try:
                p.shutdown()
            except Exception:
                logger.warning("trajectories: shutting down %s failed", type(p).__name__, exc_info=True)
        self._report_drops()
        if self._owns_store and self.store is not None:
            try:
                self.store.close()
            except Exception:
                logger.warning("trajectories: closing the store failed", exc_info=True)
        with _lock:
            if _current is self:
                _current = None

    #: How long the flush at interpreter exit (and before ``shutdown()``) may take before it
    #: gives up on a stuck export.
    exit_timeout_millis = 10_000

    def _flush_processor(self, timeout_millis: int) -> bool:
        return _force_flush(self.processor, timeout_millis)

    def _in_multiprocessing_child(self) -> None:
        """Run in a ``multiprocessing`` child as it starts (fork start method). Such a child ends
        with ``os._exit``, which skips ``atexit``; multiprocessing's own exit function runs its
        finalizers first, so the exit flush is registered there too (twice is harmless)."""
        multiprocessing.util.Finalize(None, self._at_exit, exitpriority=100)

    def _at_exit(self) -> None:
        # Registered after the provider's own atexit shutdown, so it runs first (atexit is LIFO):
        # spans still queued in the batch processor reach the exporter while it can deliver.
        if self._closed:
            return
        if self._bounded(self._flush_now, self.exit_timeout_millis) is None:
            self._rescue_stuck_export()

    def _rescue_stuck_export(self) -> None:
        """The exit flush (or the one before ``shutdown()``) is stuck behind an export that does
        not return (a blocked sink).

        Without this the process would never exit: the provider's own shutdown would wait 30 s
        for the worker, drop the spans queued behind it, and deliver to the same blocked sink
        again. Instead: take the spans still
        queued in the batch processor, hand them to the exporter here, and shut the processor
        and the exporter down without waiting. The exporter skips the blocked sink, sends
        everything to the others and dead-letters the rest.
        """
        batch = getattr(self.processor, "_batch_processor", None)  # OpenTelemetry internals, best effort
        queue = getattr(batch, "_queue", None)
        spans: list[Any] = []
        if queue is not None:
            try:
                while True:
                    spans.append(queue.pop())  # oldest first
            except IndexError:
                pass
            except Exception:
                logger.warning("trajectories: could not take the batch processor's queue", exc_info=True)
        logger.error(
            "trajectories: an export is stuck; delivering %d queued spans around the blocked sink and shutting down",
            len(spans),
        )
        self.exporter._treat_busy_sinks_as_blocked()  # whatever is still in a sink now is stuck in it
        if spans:
            self.exporter.export(spans)
        shutdown = getattr(batch, "shutdown", None)
        try:
            if callable(shutdown):
                shutdown(timeout_millis=0)  # marks the processor shut down; calls exporter.shutdown(timeout_millis=0)
            self.exporter.shutdown(timeout_millis=0)  # a no-op if that already did it
        except Exception:
            logger.warning("trajectories: shutting down after a stuck flush failed", exc_info=True)

    def __repr__(self) -> str:
        provider = type(self.tracer_provider).__name__
        return f"Configuration(provider={provider}, sinks={len(self.exporter.sinks)}, closed={self._closed})"


def _force_flush(processor: SpanProcessor, timeout_millis: int) -> bool:
    try:
        return bool(processor.force_flush(timeout_millis))
    except Exception:
        logger.warning("trajectories: flushing %s failed", type(processor).__name__, exc_info=True)
        return False


def _in_event_loop() -> bool:
    """Whether this thread runs an asyncio or trio event loop (anyio knows both)."""
    try:
        anyio.lowlevel.current_token()
    except Exception:
        return False
    return True


def current_configuration() -> Configuration | None:
    """The live result of the last :func:`configure` call, if any."""
    return _current


def _open_store(store: object) -> tuple[TrajectoryStore | None, bool]:
    """The store ``configure(store=...)`` asks for, and whether we opened it (and so close it)."""
    if store is None or store is False:
        return None, False
    if isinstance(store, TrajectoryStore):
        return store, False
    if store is True:
        return open_store(None), True
    if isinstance(store, (str, os.PathLike)):
        return open_store(store), True
    raise TypeError(f"store must be a TrajectoryStore, a path, True or False, got {type(store).__name__}: {shown(store)}")


def _otlp_exporter(endpoint: str | None, explicit: bool) -> SpanExporter | None:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        message = "sending spans over OTLP needs opentelemetry-exporter-otlp-proto-http: pip install 'trajectories[otlp]'"
        if explicit:
            raise ImportError(message) from None
        logger.warning("trajectories: OTEL_EXPORTER_OTLP_* is set but %s", message)
        return None
    if endpoint is None:
        return OTLPSpanExporter()  # reads every OTEL_EXPORTER_OTLP_* setting itself
    if not endpoint.rstrip("/").endswith("/v1/traces"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(endpoint=endpoint)


def configure(
    service_name: str | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    sinks: Iterable[Sink | Callable[[Trajectory], Any]] = (),
    jsonl_path: str | os.PathLike[str] | None = None,
    otlp_endpoint: str | None = None,
    otlp: bool | None = None,
    capture_embeddings: bool = True,
    embedder: Callable[[str], Any] | None = None,
    batch: bool = True,
    dead_letter_path: str | os.PathLike[str] | None = None,
    max_pending_traces: int = 10_000,
    max_pending_spans: int = 200_000,
    max_age: float = 300.0,
    store: TrajectoryStore | str | os.PathLike[str] | bool | None = True,
    capture_content: bool = False,
    redact: Callable[[Any], Any] | None = None,
    max_content_length: int = 4096,
    sink_timeout: float = 5.0,
    max_queue_size: int | None = None,
) -> Configuration:
    """Set up tracing so that every finished trajectory is scored and delivered to *sinks*.

    - ``tracer_provider``: an SDK provider to use; by default the global one if it is an SDK
      provider, else a new one (``Resource`` with ``service_name``) installed globally.
    - ``sinks``: where trajectories go (callables are wrapped); ``jsonl_path`` adds a JSON-lines file.
    - ``otlp_endpoint`` (e.g. ``http://collector:4318``): also export every span over OTLP/HTTP.
      Without it, ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``..._TRACES_ENDPOINT`` turn OTLP on when this
      call creates the provider (an application's own provider keeps its own exporters);
      ``otlp=False`` turns it off, ``otlp=True`` forces it on.
    - ``capture_embeddings`` / ``embedder``: put embeddings on spans; how ``query=`` text is embedded.
    - ``batch``: BatchSpanProcessor (default) or SimpleSpanProcessor (tests, scripts).
    - ``store``: where trajectories are kept for ``trajectories list/search`` and ``lessons_for``:
      ``True`` (default) the embedded SQLite store at ``$TRAJECTORIES_DB`` or ``./trajectories.db``;
      a path; a :class:`TrajectoryStore` (yours to close); ``False``/``None`` for none.
    - ``capture_content`` (default off): record ``@step`` functions' arguments and return values
      as ``trajectory.step.input`` / ``.output`` JSON, through ``redact`` (a callable from JSON
      values to JSON values; default :func:`redact_secrets`) and cut to ``max_content_length``
      characters (at least 64). See docs/security.md.
    - ``max_queue_size``: the batch processor's queue, in spans (``OTEL_BSP_MAX_QUEUE_SIZE``
      when not given, else 16 384). A full queue drops spans: ``Configuration.spans_dropped``
      counts them and a WARNING names them; see docs/reliability.md.
    - ``sink_timeout``: a sink call that has not returned for this many seconds is treated as
      blocked (skipped, its trajectories retried, then dead-lettered); see docs/reliability.md.

    Calling it again shuts the previous configuration down first. A flush is registered to
    run at interpreter exit, before the provider shuts down.
    """
    global _current
    if service_name is not None and not isinstance(service_name, str):
        raise TypeError(f"service_name must be a str, got {type(service_name).__name__}: {shown(service_name)}")
    if tracer_provider is not None and not isinstance(tracer_provider, TracerProvider):
        raise TypeError(
            "tracer_provider must be an opentelemetry.sdk.trace.TracerProvider (one that takes span processors), "
            f"got {type(tracer_provider).__name__}"
        )
    if otlp_endpoint is not None and not isinstance(otlp_endpoint, str):
        raise TypeError(f"otlp_endpoint must be a str URL, got {type(otlp_endpoint).__name__}: {shown(otlp_endpoint)}")
    for name, flag in (("capture_embeddings", capture_embeddings), ("batch", batch), ("capture_content", capture_content)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}: {shown(flag)}")
    if otlp is not None and not isinstance(otlp, bool):
        raise TypeError(f"otlp must be a bool or None, got {type(otlp).__name__}: {shown(otlp)}")
    if embedder is not None and not callable(embedder):
        raise TypeError(f"embedder must be a callable from str to a vector, got {type(embedder).__name__}")
    if redact is not None and not callable(redact):
        raise TypeError(f"redact must be a callable from JSON values to JSON values, got {type(redact).__name__}")
    check_int("max_content_length", max_content_length, minimum=64)
    if max_queue_size is not None:
        check_int("max_queue_size", max_queue_size, minimum=1)
    elif not os.environ.get("OTEL_BSP_MAX_QUEUE_SIZE"):
        max_queue_size = DEFAULT_MAX_QUEUE_SIZE
    if isinstance(sinks, (str, bytes)) or not isinstance(sinks, Iterable):
        raise TypeError(f"sinks must be an iterable of sinks or callables, got {type(sinks).__name__}")
    all_sinks = [as_sink(s, f"sinks[{i}]") for i, s in enumerate(sinks)]
    if jsonl_path is not None:
        all_sinks.append(JsonlSink(jsonl_path))
    the_store, owns_store = _open_store(store)
    if the_store is not None:
        all_sinks.append(StoreSink(the_store))
    exporter = TrajectoryExporter(
        all_sinks,
        dead_letter_path=dead_letter_path,
        max_pending_traces=max_pending_traces,
        max_pending_spans=max_pending_spans,
        max_age=max_age,
        sink_timeout=sink_timeout,
    )

    with _lock:
        previous, _current = _current, None
    if previous is not None:
        logger.warning("trajectories: configure() called again; shutting down the previous configuration")
        previous.shutdown()

    created = False
    provider = tracer_provider
    if provider is None:
        global_provider = trace.get_tracer_provider()
        if isinstance(global_provider, TracerProvider):
            provider = global_provider
        else:
            resource = Resource.create({SERVICE_NAME: service_name} if service_name is not None else {})
            provider = TracerProvider(resource=resource)
            trace.set_tracer_provider(provider)
            created = True
            if trace.get_tracer_provider() is not provider:
                logger.warning(
                    "trajectories: a non-SDK global tracer provider is already set (%s); pass tracer_provider= to "
                    "trajectory() to be traced by the one configure() made",
                    type(global_provider).__name__,
                )
    processor: SpanProcessor = _CountingBatchSpanProcessor(exporter, max_queue_size) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)

    otlp_processor: SpanProcessor | None = None
    env_endpoint = any(os.environ.get(k) for k in _OTLP_ENV)
    want_otlp = otlp if otlp is not None else (otlp_endpoint is not None or (env_endpoint and created))
    if want_otlp:
        otlp_exporter = _otlp_exporter(otlp_endpoint, explicit=otlp_endpoint is not None or otlp is True)
        if otlp_exporter is not None:
            otlp_processor = BatchSpanProcessor(otlp_exporter)
            provider.add_span_processor(otlp_processor)

    settings.capture_embeddings = capture_embeddings
    settings.capture_content = capture_content
    settings.redact = redact
    settings.max_content_length = max_content_length
    if embedder is not None:
        settings.embedder = embedder

    config = Configuration(exporter, provider, processor, otlp_processor, created, the_store, owns_store)
    atexit.register(config._at_exit)
    # multiprocessing's fork children leave with os._exit (no atexit): flush in its own exit hook.
    multiprocessing.util.register_after_fork(config, Configuration._in_multiprocessing_child)
    with _lock:
        _current = config
    return config
