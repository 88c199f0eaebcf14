"""Read OTLP JSON files as the OpenTelemetry Collector's file exporter writes them.

The collector's ``file`` exporter writes one ``ExportTraceServiceRequest`` in the OTLP
JSON mapping per line. Lines are read one at a time (constant memory per line); a line
that is not such a document is reported by its number and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..exceptions import OTLPDecodeError
from ..records import SpanRecord
from .decode import decode_json

__all__ = ["OTLPFileLine", "iter_otlp_file"]


@dataclass(slots=True)
class OTLPFileLine:
    """One line's result: its spans, or why it was skipped."""

    line_no: int
    spans: list[SpanRecord]
    rejected_spans: int = 0
    error: str | None = None


def iter_otlp_file(source: str | Path | IO[str]) -> Iterator[OTLPFileLine]:
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8") as fh:
            yield from _iter(fh)
    else:
        yield from _iter(source)


def _iter(lines: IO[str]) -> Iterator[OTLPFileLine]:
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield OTLPFileLine(line_no, [], error=f"not JSON ({type(exc).__name__})")
            continue
        try:
            result = decode_json(document)
        except OTLPDecodeError as exc:
            yield OTLPFileLine(line_no, [], error=str(exc))
            continue
        error = "; ".join(result.errors) if result.rejected else None
        yield OTLPFileLine(line_no, result.spans, result.rejected, error)
