"""``serve``: the OTLP/HTTP receiver wired to a trajectory exporter, as a library call.

``trajectories serve`` is this function with its arguments from the command line. It builds a
:class:`TrajectoryExporter` over the given sinks, the receiver app in front of it, a thread that
expires idle traces while no spans arrive, and a shutdown that flushes everything pending; then
it serves until SIGINT/SIGTERM (uvicorn turns them into a graceful stop) and returns the
exporter's final statistics.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..export.exporter import ExporterStats, TrajectoryExporter
from ..export.sinks import Sink
from ..model.trajectory import Trajectory

__all__ = ["DEFAULT_MAX_PENDING_BYTES", "receiver_app", "serve"]

#: ``serve`` bounds the bytes of spans waiting for their root (the exporter itself has no default).
DEFAULT_MAX_PENDING_BYTES = 256 * 1024 * 1024


def receiver_app(
    exporter: TrajectoryExporter,
    *,
    token: str | None = None,
    max_body: int | None = None,
    on_stop: Callable[[ExporterStats], None] | None = None,
) -> Any:
    """The receiver's ASGI app feeding *exporter*, with an expiry thread that stops with the app.

    On shutdown the exporter is shut down (pending trajectories are delivered, incomplete ones
    flagged) and *on_stop* gets its final statistics.
    """
    from .receiver import DEFAULT_MAX_BODY, create_app  # the server extra

    stop = threading.Event()
    interval = min(5.0, exporter.max_age / 2)

    def tick() -> None:  # expiry is checked on export and flush: flush while idle too
        while not stop.wait(interval):
            exporter.force_flush()

    def on_shutdown() -> None:
        stop.set()
        exporter.shutdown()
        if on_stop is not None:
            on_stop(exporter.stats)

    def health() -> dict[str, Any]:
        stats = exporter.stats
        return {
            "trajectories": stats.trajectories_emitted,
            "incomplete": stats.incomplete,
            "late_spans": stats.late_spans,
            "framework_trajectories": stats.framework_trajectories,
            "unrelated_spans": stats.unrelated_spans,
            "unrelated_by_reason": dict(stats.unrelated_by_reason),
            "pending_spans": stats.pending_spans,
            "late_verdicts": stats.late_verdicts,
            "late_verdicts_applied": stats.late_verdicts_applied,
            "late_verdicts_unmatched": stats.late_verdicts_unmatched,
            "evaluations_ignored_by_reason": dict(stats.evaluations_ignored_by_reason),
        }

    app = create_app(
        exporter.export_records,
        token=token,
        max_body=DEFAULT_MAX_BODY if max_body is None else max_body,
        on_shutdown=on_shutdown,
        health=health,
    )
    threading.Thread(target=tick, name="trajectories-serve-expiry", daemon=True).start()
    return app


def serve(
    sinks: Sequence[Sink | Callable[[Trajectory], Any]],
    *,
    host: str = "127.0.0.1",
    port: int = 4318,
    token: str | None = None,
    max_body: int | None = None,
    max_pending_bytes: int | None = DEFAULT_MAX_PENDING_BYTES,
    max_age: float = 300.0,
    dead_letter_path: str | None = None,
    on_stop: Callable[[ExporterStats], None] | None = None,
) -> None:
    """Receive OTLP/HTTP traces on ``http://{host}:{port}/v1/traces`` and deliver the trajectories
    in them to *sinks* (a :class:`~trajectories.store.StoreSink` to store them) until stopped."""
    from .server import run  # the server extra

    exporter = TrajectoryExporter(sinks, max_age=max_age, dead_letter_path=dead_letter_path, max_pending_bytes=max_pending_bytes)
    exporter.loss_hint = "their trace was still arriving when it was idle longer than max_age, or at shutdown"
    run(receiver_app(exporter, token=token, max_body=max_body, on_stop=on_stop), host=host, port=port)
