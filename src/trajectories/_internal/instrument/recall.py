"""Recall is part of the trajectory: the memory-search span, and what the current run was given.

``lessons_for()`` calls :func:`record_recall` after it searched. It writes one ``search_memory``
span (the GenAI semantic conventions' memory operation) as a child of the current span, with the
query's source, k, the filters, the ranking mode and the kind, id and similarity of every memory
that came back (``trajectory.recall.*``, docs/attributes.md); the query text and the records'
content only with content capture on, redacted like other content. Inside a trajectory the
memories are also handed to its handle, which writes them once, at its end, as
``metadata.attributes["recalled"]`` (``trajectory.attributes.recalled`` on the root span).

The span carries ``trajectory.recall.query_source``; the exporter recognises it and never makes
it a step nor folds it into one. Nothing here raises into the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.trace import SpanKind

from ... import attributes as A
from ..diagnostics import report_internal_error
from ..model.recall import RecalledMemory
from ..settings import settings
from .content import redact_secrets, render_content, render_text
from .context import CURRENT_TRAJECTORY, get_tracer

__all__ = ["QUERY_SOURCES", "recall_span_attributes", "record_recall"]

_logger = logging.getLogger(__name__)

#: What a recall query can be.
QUERY_SOURCES = ("text", "embedding")


def recall_span_attributes(
    *,
    query_source: str,
    k: int,
    filters: Mapping[str, str | float],
    memories: Sequence[RecalledMemory],
    rank: str,
    query: str | None,
    capture_content: bool,
) -> dict[str, Any]:
    """The ``search_memory`` span's attributes (content only when *capture_content*)."""
    attrs: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: A.OPERATION_SEARCH_MEMORY,
        A.GEN_AI_MEMORY_RECORD_COUNT: len(memories),
        A.RECALL_QUERY_SOURCE: query_source,
        A.RECALL_K: k,
        A.RECALL_RANK: rank,
        A.RECALL_KINDS: [m.kind for m in memories],
        A.RECALL_IDS: [str(m.id) for m in memories],
        A.RECALL_SIMILARITIES: [m.similarity for m in memories],
    }
    for name, value in filters.items():
        if isinstance(value, (str, float)) or (isinstance(value, int) and not isinstance(value, bool)):
            attrs[A.RECALL_FILTERS_PREFIX + name] = value
    if capture_content:
        redact = settings.redact or redact_secrets
        limit = settings.max_content_length
        if query is not None:
            text = render_text(query, redact, limit)
            if text is not None:
                attrs[A.GEN_AI_MEMORY_QUERY_TEXT] = text
        records = [
            {"content": m.lesson, "id": f"{m.kind}:{m.id}", "score": m.similarity, "metadata": {"kind": m.kind}} for m in memories
        ]
        rendered = render_content(records, redact, limit)
        if rendered is not None:
            attrs[A.GEN_AI_MEMORY_RECORDS] = rendered
    return attrs


def record_recall(
    *,
    query_source: str,
    k: int,
    filters: Mapping[str, str | float],
    memories: Sequence[RecalledMemory],
    rank: str,
    query: str | None = None,
    start_ns: int | None = None,
) -> None:
    """Trace one memory search and, inside a trajectory, remember what it returned. Never raises.

    *query* is the query text (None for an embedding), recorded only with content capture on;
    *start_ns* when the search began (``time.time_ns()``; default now, a span of no duration).
    Outside a trajectory the span is still written (when a tracer provider is set) and nothing
    is credited.
    """
    try:
        handle = CURRENT_TRAJECTORY.get()
        memories = tuple(memories)
        end_ns = time.time_ns()
        attrs = recall_span_attributes(
            query_source=query_source,
            k=k,
            filters=filters,
            memories=memories,
            rank=rank,
            query=query,
            capture_content=settings.capture_content,
        )
        provider = handle.tracer_provider if handle is not None else None
        if handle is not None and not handle.closed and handle.id_int:
            attrs[A.TRAJECTORY_ID] = handle.id_int
        span = get_tracer(provider).start_span(
            A.OPERATION_SEARCH_MEMORY,
            kind=SpanKind.INTERNAL,
            attributes=attrs,
            start_time=start_ns if isinstance(start_ns, int) and 0 < start_ns <= end_ns else end_ns,
        )
        span.end(end_time=end_ns)
        if handle is not None:
            handle.add_recalled(memories)
    except Exception:
        report_internal_error("recording a recall", logger=_logger)
