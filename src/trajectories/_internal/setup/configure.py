"""``configure()``: the composition root — a tracer provider, the trajectory exporter and its
processor, the store, optional OTLP, the process-wide settings, and a flush at exit.

It never replaces a provider the application set: an SDK ``TracerProvider`` already
installed globally (or passed in) gets our processor added; only when the global provider is
still OpenTelemetry's default proxy does it create one (with ``service.name``) and install it.
Each step is a small function below; :func:`configure` checks its arguments, then calls them.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from ..embedding import HashingEmbedder
from ..export.exporter import TrajectoryExporter
from ..export.sinks import JsonlSink, Sink, as_sink
from ..model.trajectory import Trajectory
from ..settings import settings
from ..validate import check_int, shown
from .configuration import Configuration, replace_current
from .processor import DEFAULT_MAX_QUEUE_SIZE, LiveSpanObserver, TrajectorySpanProcessor

if TYPE_CHECKING:
    from ..store.base import TrajectoryStore

__all__ = ["DEFAULT_MAX_QUEUE_SIZE", "configure"]

logger = logging.getLogger(__name__)

_OTLP_ENV = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
#: What the exporter says may have happened to the spans of an incomplete trajectory.
_LOSS_HINT = (
    "dropped on the way (a full span processor queue: raise configure(max_queue_size=...)), "
    "still running at shutdown, or idle longer than max_age"
)


def _check_type(name: str, value: object, kind: type | tuple[type, ...], what: str, *, optional: bool = False) -> None:
    if (value is None and optional) or (isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))):
        return
    raise TypeError(f"{name} must be {what}, got {type(value).__name__}: {shown(value)}")


def _check_arguments(
    service_name: object,
    tracer_provider: object,
    otlp_endpoint: object,
    otlp: object,
    flags: dict[str, object],
    callables: dict[str, tuple[object, str]],
    max_content_length: object,
    max_queue_size: object,
) -> None:
    """Every argument of :func:`configure` that is not checked where it is used, checked here first."""
    _check_type("service_name", service_name, str, "a str", optional=True)
    if tracer_provider is not None and not isinstance(tracer_provider, TracerProvider):
        raise TypeError(
            "tracer_provider must be an opentelemetry.sdk.trace.TracerProvider (one that takes span processors), "
            f"got {type(tracer_provider).__name__}"
        )
    _check_type("otlp_endpoint", otlp_endpoint, str, "a str URL", optional=True)
    for name, flag in flags.items():
        _check_type(name, flag, bool, "a bool")
    _check_type("otlp", otlp, bool, "a bool or None", optional=True)
    for name, (value, what) in callables.items():
        if value is not None and not callable(value):
            raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    check_int("max_content_length", max_content_length, minimum=64)
    if max_queue_size is not None:
        check_int("max_queue_size", max_queue_size, minimum=1)


def _open_store(store: object) -> tuple[TrajectoryStore | None, bool]:
    """The store ``configure(store=...)`` asks for, and whether we opened it (and so close it)."""
    if store is None or store is False:
        return None, False
    # The store code (and sqlite3) loads when a store is asked for, not when trajectories is imported.
    from ..store.base import TrajectoryStore
    from ..store.open import open_store

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
        logger.warning("OTEL_EXPORTER_OTLP_* is set but %s", message)
        return None
    if endpoint is None:
        return OTLPSpanExporter()  # reads every OTEL_EXPORTER_OTLP_* setting itself
    if not endpoint.rstrip("/").endswith("/v1/traces"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(endpoint=endpoint)


def _resolve_provider(tracer_provider: TracerProvider | None, service_name: str | None) -> tuple[TracerProvider, bool]:
    """The provider to add our processor to, and whether this call created (and installed) it."""
    if tracer_provider is not None:
        return tracer_provider, False
    global_provider = trace.get_tracer_provider()
    if isinstance(global_provider, TracerProvider):
        return global_provider, False
    resource = Resource.create({SERVICE_NAME: service_name} if service_name is not None else {})
    provider = TracerProvider(resource=resource)
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        logger.warning(
            "a non-SDK global tracer provider is already set (%s); pass tracer_provider= to "
            "trajectory() to be traced by the one configure() made",
            type(global_provider).__name__,
        )
    return provider, True


def _otlp_processor(otlp_endpoint: str | None, otlp: bool | None, created: bool) -> SpanProcessor | None:
    """A batch processor exporting every span over OTLP/HTTP, when asked for (or set by environment)."""
    env_endpoint = any(os.environ.get(k) for k in _OTLP_ENV)
    want = otlp if otlp is not None else (otlp_endpoint is not None or (env_endpoint and created))
    if not want:
        return None
    exporter = _otlp_exporter(otlp_endpoint, explicit=otlp_endpoint is not None or otlp is True)
    return BatchSpanProcessor(exporter) if exporter is not None else None


def _apply_settings(
    capture_embeddings: bool,
    capture_content: bool,
    redact: Callable[[Any], Any] | None,
    max_content_length: int,
    embedder: Callable[[str], Any] | None,
) -> None:
    """The process-wide settings the instrumentation reads; every one is set by every call."""
    settings.capture_embeddings = capture_embeddings
    settings.capture_content = capture_content
    settings.redact = redact
    settings.max_content_length = max_content_length
    settings.embedder = embedder if embedder is not None else HashingEmbedder()


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

    Calling it again shuts the previous configuration down first and resets every setting it
    makes (the embedder included) to this call's values. A flush is registered to run at
    interpreter exit, before the provider shuts down.
    """
    _check_arguments(
        service_name,
        tracer_provider,
        otlp_endpoint,
        otlp,
        {"capture_embeddings": capture_embeddings, "batch": batch, "capture_content": capture_content},
        {
            "embedder": (embedder, "a callable from str to a vector"),
            "redact": (redact, "a callable from JSON values to JSON values"),
        },
        max_content_length,
        max_queue_size,
    )
    if isinstance(sinks, (str, bytes)) or not isinstance(sinks, Iterable):
        raise TypeError(f"sinks must be an iterable of sinks or callables, got {type(sinks).__name__}")
    all_sinks = [as_sink(s, f"sinks[{i}]") for i, s in enumerate(sinks)]
    if jsonl_path is not None:
        all_sinks.append(JsonlSink(jsonl_path))
    the_store, owns_store = _open_store(store)
    if the_store is not None:
        from ..store.sink import StoreSink

        all_sinks.append(StoreSink(the_store))
    exporter = TrajectoryExporter(
        all_sinks,
        dead_letter_path=dead_letter_path,
        max_pending_traces=max_pending_traces,
        max_pending_spans=max_pending_spans,
        max_age=max_age,
        sink_timeout=sink_timeout,
    )
    exporter.loss_hint = _LOSS_HINT

    previous = replace_current(None)
    if previous is not None:
        logger.warning("configure() called again; shutting down the previous configuration")
        previous.shutdown()

    provider, created = _resolve_provider(tracer_provider, service_name)
    processor: SpanProcessor
    if batch:
        processor = TrajectorySpanProcessor(exporter, max_queue_size=max_queue_size)
    else:
        provider.add_span_processor(LiveSpanObserver())
        processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    otlp_processor = _otlp_processor(otlp_endpoint, otlp, created)
    if otlp_processor is not None:
        provider.add_span_processor(otlp_processor)
    _apply_settings(capture_embeddings, capture_content, redact, max_content_length, embedder)

    config = Configuration(exporter, provider, processor, otlp_processor, created, the_store, owns_store)
    atexit.register(config.at_exit)
    # multiprocessing's fork children leave with os._exit (no atexit): flush in its own exit hook.
    multiprocessing.util.register_after_fork(config, Configuration.in_multiprocessing_child)
    replace_current(config)
    return config
