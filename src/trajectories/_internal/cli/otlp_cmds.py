"""``serve`` (an OTLP/HTTP receiver) and the OTLP side of ``import`` (collector files).

Both feed decoded spans to a :class:`TrajectoryExporter`, the same assembly the in-process
exporter uses, with the store (and optionally a JSON-lines file or stdout) as its sinks.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from ..exceptions import StoreError
from ..export.exporter import ExporterStats, TrajectoryExporter
from ..export.sinks import JsonlSink
from ..model.trajectory import Trajectory
from ..otlp.service import DEFAULT_MAX_PENDING_BYTES, serve
from ..records import SpanRecord
from ..store.base import TrajectoryStore
from ..store.sink import StoreSink
from .common import EXIT_BAD_DATA, EXIT_OK, CLIError, open_from
from .render import Progress, plural
from .ui_cmd import missing_extra

__all__ = ["import_otlp_file", "register"]

ENV_TOKEN = "TRAJECTORIES_TOKEN"
#: What the server extra installs and the receiver needs (it imports them lazily).
_SERVER_MODULES = ("starlette", "uvicorn", "google.protobuf", "opentelemetry.proto")


def _print_sink(trajectory: Trajectory) -> None:
    print(f"{trajectory.id}\t{trajectory.verdict.kind}\t{trajectory.quality:.4f}\t{len(trajectory.steps)} steps", flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    try:  # the server extra: say so in one line, not a traceback
        for module in _SERVER_MODULES:
            importlib.import_module(module)
    except ImportError as exc:
        raise missing_extra("serve", "server", exc) from None
    token = args.token or os.environ.get(ENV_TOKEN) or None
    if args.host not in ("127.0.0.1", "localhost", "::1") and token is None:
        print(f"trajectories: warning: serving on {args.host} without a bearer token (--token or ${ENV_TOKEN})", file=sys.stderr)
    with open_from(args) as store:
        sinks: list[Any] = [] if args.no_store else [StoreSink(store)]
        if args.jsonl:
            sinks.append(JsonlSink(args.jsonl))
        if args.print:
            sinks.append(_print_sink)

        def summary(stats: ExporterStats) -> None:
            print(f"trajectories serve: stopped; {stats_line(stats)}", file=sys.stderr)
            if not args.no_store:
                record_span_counts(store, stats)

        where = store.path if hasattr(store, "path") else "the store"
        print(
            f"trajectories serve: OTLP/HTTP on http://{args.host}:{args.port}/v1/traces -> {where}", file=sys.stderr, flush=True
        )
        # uvicorn turns SIGINT/SIGTERM into a graceful stop (the summary is printed then), and
        # afterwards re-raises the SIGINT it caught: Ctrl-C is the normal way to stop a server,
        # so it ends here with exit 0, not as an interruption.
        with contextlib.suppress(KeyboardInterrupt):
            serve(
                sinks,
                host=args.host,
                port=args.port,
                token=token,
                max_body=args.max_body,
                max_pending_bytes=args.max_pending_bytes,
                max_age=args.max_age,
                dead_letter_path=args.dead_letter,
                on_stop=summary,
            )
    return EXIT_OK


def stats_line(stats: ExporterStats) -> str:
    """What an exporter did, in one line: trajectories (from frameworks), spans, and every span of no
    trajectory by reason (nothing is dropped silently)."""
    unrelated = ", ".join(f"{n} {reason}" for reason, n in sorted(stats.unrelated_by_reason.items()))
    line = (
        f"{plural(stats.trajectories_emitted, 'trajectory', 'trajectories')} "
        f"({stats.incomplete} incomplete, {stats.framework_trajectories} from agent frameworks), "
        f"{stats.spans_seen} spans, {stats.late_spans} late, {stats.unrelated_spans} in no trajectory"
        f"{f' ({unrelated})' if unrelated else ''}, {stats.sink_failures} sink failures, {stats.dead_lettered} dead-lettered"
    )
    ignored = sum(stats.evaluations_ignored_by_reason.values())
    if stats.late_verdicts or ignored:  # evaluation results that came after their trajectory
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(stats.evaluations_ignored_by_reason.items()))
        not_read = f", {plural(ignored, 'evaluation')} not read ({reasons})" if ignored else ""
        line += (
            f", {plural(stats.late_verdicts, 'late verdict')} ({stats.late_verdicts_applied} applied, "
            f"{stats.late_verdicts_unmatched} unmatched, {stats.late_verdicts_dead_lettered} dead-lettered)"
            f"{not_read}"
        )
    return line


def record_span_counts(store: TrajectoryStore, stats: ExporterStats) -> None:
    """Add what an exporter could not place to the store's tally (``trajectories stats`` shows it)."""
    try:
        store.add_span_counts(stats.unrelated_by_reason)
    except StoreError as exc:
        print(f"trajectories: warning: could not record the spans of no trajectory: {exc}", file=sys.stderr)


def import_otlp_file(
    source: Any, sink: Callable[[Trajectory], Any] | Any, *, report: Callable[[int, str], None], progress: Progress | None = None
) -> tuple[ExporterStats, int]:
    """Assemble the trajectories in an OTLP JSON-lines file; returns the exporter's statistics and the bad lines."""
    from ..otlp.files import iter_otlp_file

    exporter = TrajectoryExporter([sink], max_age=1e9)
    exporter.loss_hint = "the file does not hold every span of their trace (a collector that sampled or split it?)"
    bad = 0
    spans = 0
    for line in iter_otlp_file(source):
        if line.error is not None:
            bad += 1
            report(line.line_no, line.error)
        if line.spans:
            records: list[SpanRecord] = line.spans
            exporter.export_records(records)
            spans += len(records)
            if progress is not None:
                progress(spans)
    exporter.shutdown()  # what never saw its root is emitted now, flagged incomplete
    stats = exporter.stats
    if stats.sink_failures:
        raise CLIError(
            f"{stats.sink_failures} trajectories could not be stored; they were written to {exporter.dead_letter_path}",
            EXIT_BAD_DATA,
        )
    return stats, bad


def looks_like_otlp(path: str) -> bool:
    """True when the first non-blank line of *path* is an OTLP ExportTraceServiceRequest."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.strip():
                    head = line[:4096]
                    if '"resourceSpans"' in head or '"resource_spans"' in head:
                        return True
                    try:
                        doc = json.loads(line)
                    except ValueError:
                        return False
                    return isinstance(doc, dict) and ("resourceSpans" in doc or "resource_spans" in doc)
    except OSError:
        return False
    return False


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "serve",
        parents=[common],
        help="receive OTLP/HTTP traces and store the trajectories in them",
        description="An OTLP/HTTP receiver: POST /v1/traces with application/x-protobuf (optionally gzip) or "
        "application/json. Spans are assembled into scored trajectories and written to the store. SIGINT/SIGTERM "
        "flush what is pending (trajectories whose root never arrived are stored flagged incomplete). Needs the "
        "server extra: pip install 'trajectories[server]'.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=4318, help="port (default 4318, OTLP/HTTP's)")
    p.add_argument("--token", default=None, help=f"require 'Authorization: Bearer TOKEN' (default ${ENV_TOKEN})")
    p.add_argument(
        "--max-body",
        type=int,
        default=16 * 1024 * 1024,
        metavar="BYTES",
        help="largest request body, measured after gunzip (default 16 MiB)",
    )
    p.add_argument(
        "--max-pending-bytes",
        type=int,
        default=DEFAULT_MAX_PENDING_BYTES,
        metavar="BYTES",
        help="most body bytes held for traces waiting for their root; beyond, the oldest are stored incomplete (default 256 MiB)",
    )
    p.add_argument(
        "--max-age",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="store a trace whose root span has not arrived within SECONDS as incomplete (default 300)",
    )
    p.add_argument("--jsonl", metavar="FILE", help="also append each trajectory as ruvllm JSON to FILE")
    p.add_argument("--print", action="store_true", help="also print a line per trajectory to stdout")
    p.add_argument("--no-store", action="store_true", help="do not write to the database (use with --jsonl or --print)")
    p.add_argument(
        "--dead-letter",
        metavar="FILE",
        default=None,
        help="where trajectories that cannot be stored go, as JSON lines (default ./trajectories-deadletter.jsonl)",
    )
    p.set_defaults(func=cmd_serve)
