"""Commands that move or reshape data: export, import (ruvllm JSON lines), distill."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from ..learning.distill import DistillConfig, DistillError, distill
from ..model.serde import JSONFormatError
from ..model.serde.jsonl import iter_jsonl_lines, write_jsonl
from ..model.trajectory import Trajectory
from ..store.bulk import BulkLoad, bulk_load
from ..store.sink import StoreSink
from .common import (
    EXIT_BAD_DATA,
    EXIT_NOT_FOUND,
    EXIT_OK,
    CLIError,
    add_filter_options,
    emit_json,
    filter_from,
    open_from,
    parse_quality,
)
from .otlp_cmds import import_otlp_file, looks_like_otlp, record_span_counts
from .render import Progress, plural

__all__ = ["register"]

_BATCH = 500


def cmd_export(args: argparse.Namespace) -> int:
    progress = Progress("exported")
    with open_from(args, create=False) as store:
        skipped_before = getattr(store, "skipped_rows", 0)
        f = filter_from(args)
        source: Iterator[Trajectory]
        source = store.iter_all() if f == type(f)() else reversed(store.list(f, limit=None))

        def counted() -> Iterator[Trajectory]:
            for n, t in enumerate(source, 1):
                if n % 100 == 0:
                    progress(n)
                yield t

        try:
            n = write_jsonl(sys.stdout, counted()) if args.output in (None, "-") else write_jsonl(args.output, counted())
        except OSError as exc:
            raise CLIError(f"cannot write {args.output}: {exc.strerror or exc}", EXIT_BAD_DATA) from None
        skipped = getattr(store, "skipped_rows", 0) - skipped_before
    progress.finish()
    print(
        f"exported {plural(n, 'trajectory', 'trajectories')}"
        + (f", {plural(skipped, 'damaged row')} skipped" if skipped else ""),
        file=sys.stderr,
    )
    return EXIT_BAD_DATA if skipped else EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    name = "<stdin>" if args.input == "-" else args.input
    progress = Progress("imported")
    fmt = args.format
    if fmt == "auto":
        fmt = "otlp" if args.input != "-" and looks_like_otlp(args.input) else "ruvllm"
    if args.index_memory is not None and not args.bulk:
        raise CLIError("--index-memory is for the index build of --bulk", 2)
    if fmt == "otlp":
        if args.bulk:
            raise CLIError("--bulk is for ruvllm JSON lines (OTLP spans are assembled and written as they complete)", 2)
        return _import_otlp(args, name, progress)
    bad = imported = 0
    try:
        lines = iter_jsonl_lines(sys.stdin if args.input == "-" else args.input)
        with open_from(args) as store:
            load = bulk_load(store, maintenance_work_mem=args.index_memory)
            writer = load if args.bulk else store
            batch: list[Trajectory] = []
            for line_no, item in lines:
                if isinstance(item, JSONFormatError):
                    bad += 1
                    message = str(item).removeprefix(f"line {line_no}: ")
                    print(f"{name}:{line_no}: {message}", file=sys.stderr)
                    continue
                batch.append(item)
                if len(batch) >= _BATCH:
                    imported += writer.add_many(batch)
                    batch.clear()
                    progress(imported)
            if batch:
                imported += writer.add_many(batch)
            if args.bulk:
                progress.finish()
                _report_bulk(load)
    except OSError as exc:
        raise CLIError(f"cannot read {name}: {exc.strerror or exc}", EXIT_BAD_DATA) from None
    except UnicodeDecodeError as exc:
        raise CLIError(f"cannot read {name}: not UTF-8 text ({exc.reason})", EXIT_BAD_DATA) from None
    progress.finish()
    print(
        f"imported {plural(imported, 'trajectory', 'trajectories')}"
        + (f", {plural(bad, 'invalid line')} skipped" if bad else ""),
        file=sys.stderr,
    )
    return EXIT_BAD_DATA if bad else EXIT_OK


def _report_bulk(load: BulkLoad) -> None:
    for dim in sorted(load.kept):
        print(
            f"dimension {dim} already had an HNSW index: it was updated row by row "
            f"(to rebuild it once instead, DROP INDEX trajectories_hnsw_{dim} before importing)",
            file=sys.stderr,
        )
    if load.built:
        print("building the HNSW index of the new dimensions ...", file=sys.stderr, flush=True)
    for dim, seconds in load.finish().items():
        print(f"built the HNSW index of dimension {dim} in {seconds:.1f} s", file=sys.stderr)


def _import_otlp(args: argparse.Namespace, name: str, progress: Progress) -> int:
    def report(line_no: int, message: str) -> None:
        print(f"{name}:{line_no}: {message}", file=sys.stderr)

    try:
        with open_from(args) as store:
            source = sys.stdin if args.input == "-" else args.input
            stats, bad = import_otlp_file(source, StoreSink(store), report=report, progress=Progress("spans read"))
            record_span_counts(store, stats)
    except OSError as exc:
        raise CLIError(f"cannot read {name}: {exc.strerror or exc}", EXIT_BAD_DATA) from None
    progress.finish()
    emitted, incomplete = stats.trajectories_emitted, stats.incomplete
    unrelated = ", ".join(f"{n} {reason}" for reason, n in sorted(stats.unrelated_by_reason.items()))
    print(
        f"imported {plural(emitted, 'trajectory', 'trajectories')} from OTLP spans"
        + (f" ({stats.framework_trajectories} from agent frameworks)" if stats.framework_trajectories else "")
        + (f" ({incomplete} incomplete: their root span was not in the file)" if incomplete else "")
        + (f", {plural(stats.unrelated_spans, 'span')} in no trajectory ({unrelated})" if stats.unrelated_spans else "")
        + (f", {plural(bad, 'invalid line')} skipped" if bad else ""),
        file=sys.stderr,
    )
    return EXIT_BAD_DATA if bad else EXIT_OK


def cmd_distill(args: argparse.Namespace) -> int:
    config = DistillConfig(
        min_quality_threshold=args.min_quality,
        max_lessons=args.max_lessons,
        min_trajectories=args.min_trajectories,
        deduplicate_lessons=not args.no_dedup,
        min_age_seconds=args.min_age,
    )
    progress = Progress("distilled")
    with open_from(args) as store:
        try:
            result = distill(store, config, prune=args.prune, progress=progress)
        except DistillError as exc:
            raise CLIError(str(exc), EXIT_NOT_FOUND) from None
        finally:
            progress.finish()
    if args.json:
        emit_json(result.to_dict())
        return EXIT_OK
    print(
        f"distilled {plural(result.trajectories_processed, 'trajectory', 'trajectories')}: {len(result.compressed)} compressed, "
        f"{len(result.kept_ids)} kept as they were (quality below {config.min_quality_threshold:g}), "
        f"{plural(len(result.pruned_ids), 'original')} pruned"
    )
    if result.key_lessons:
        print(f"key lessons ({len(result.key_lessons)}):")
        for k in result.key_lessons[:20]:
            print(f"  - {k.content}  (seen {k.observation_count}x, importance {k.importance:.2f})")
    return EXIT_OK


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "export",
        parents=[common],
        help="write trajectories as ruvllm JSON lines",
        description="Write stored trajectories (oldest first) as ruvllm serde JSON, one per line, to FILE or stdout.",
    )
    p.add_argument("output", nargs="?", metavar="FILE", help="output file (default: stdout; '-' also means stdout)")
    add_filter_options(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "import",
        parents=[common],
        help="read trajectories from ruvllm JSON lines or OTLP collector files",
        description="Add the trajectories in a ruvllm JSON-lines file or an OTLP JSON file (or '-' for stdin) to the "
        "store. Invalid lines "
        "are reported with their line numbers and skipped; the rest are imported (exit 3 if any line was invalid). "
        "Importing the same trajectory again replaces it.",
    )
    p.add_argument("input", metavar="FILE", help="JSON-lines file, or '-' for stdin")
    p.add_argument(
        "--format",
        choices=("auto", "ruvllm", "otlp"),
        default="auto",
        help="ruvllm: one Trajectory per line; otlp: one OTLP ExportTraceServiceRequest per line, as the OpenTelemetry "
        "Collector's file exporter writes them (spans are assembled into trajectories); auto (default) looks at the "
        "first line",
    )
    p.add_argument(
        "--bulk",
        action="store_true",
        help="PostgreSQL: an embedding dimension without an HNSW index gets it once, built after the import, instead of "
        "an index updated with every row (several times faster for a large import; SQLite: no difference)",
    )
    p.add_argument(
        "--index-memory",
        metavar="SIZE",
        help="with --bulk: PostgreSQL's maintenance_work_mem for that index build, e.g. 2GB (default: the server's)",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "distill",
        parents=[common],
        help="distil old trajectories into key lessons and compressed trajectories",
        description="Distil trajectories older than --min-age into compressed trajectories (those with quality at least "
        "--min-quality) and ranked key lessons, stored in the database. Nothing is lost: originals are kept unless "
        "--prune is given, and then only the compressed ones are deleted. Exit 1 (store unchanged) when there are "
        "fewer than --min-trajectories old trajectories.",
    )
    p.add_argument("--min-trajectories", type=_nonneg_int, default=100, metavar="N", help="need at least N (default 100)")
    p.add_argument("--min-quality", type=parse_quality, default=0.4, metavar="Q", help="compress quality >= Q (default 0.4)")
    p.add_argument("--min-age", type=float, default=86_400.0, metavar="SECONDS", help="only older trajectories (default 86400)")
    p.add_argument("--max-lessons", type=_nonneg_int, default=100, metavar="N", help="keep at most N key lessons (default 100)")
    p.add_argument("--no-dedup", action="store_true", help="do not merge near-duplicate lessons")
    p.add_argument("--prune", action="store_true", help="delete the originals that were compressed")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_distill)
