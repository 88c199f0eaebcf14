"""From spans to scored trajectories: the exporter, the pure assembly, and the sinks.

``TrajectoryExporter`` is an OpenTelemetry ``SpanExporter``; ``assemble_trajectories`` is
the pure function it (and the OTLP receiver, and file import) uses; ``serve`` runs the OTLP/HTTP
receiver (the ``server`` extra) in front of an exporter, as ``trajectories serve`` does. See
docs/exporter.md.
"""

from ._internal.export.assembly import assemble_trajectories
from ._internal.export.exporter import DEFAULT_DEAD_LETTER_PATH, ExporterStats, TrajectoryExporter
from ._internal.export.late import LateVerdict
from ._internal.export.sinks import CallbackSink, JsonlSink, ListSink, Sink, StreamSink
from ._internal.otlp.service import receiver_app, serve
from ._internal.records import SpanLike, SpanRecord, record_from_span

__all__ = [
    "DEFAULT_DEAD_LETTER_PATH",
    "CallbackSink",
    "ExporterStats",
    "JsonlSink",
    "LateVerdict",
    "ListSink",
    "Sink",
    "SpanLike",
    "SpanRecord",
    "StreamSink",
    "TrajectoryExporter",
    "assemble_trajectories",
    "receiver_app",
    "record_from_span",
    "serve",
]
