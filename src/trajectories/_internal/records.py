"""SpanRecord: the neutral form of a finished span that the assembly reads.

The in-process exporter makes one from each OpenTelemetry ``ReadableSpan``; the OTLP
receiver decodes its payload into the same fields. Conversion must stay cheap (the exporter
sees every span the application makes), so the record keeps a reference to the span's own
attribute mapping instead of copying it, and turns events into tuples only if asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

__all__ = ["STATUS_ERROR", "SdkSpanView", "SpanLike", "SpanRecord", "record_from_span"]

#: A span view's ``status_code`` of a failed span (OTLP's numbering, the SDK's ``StatusCode.ERROR``).
STATUS_ERROR = 2
_SDK_UNSET = StatusCode.UNSET
_SDK_ERROR = StatusCode.ERROR

_NO_ATTRIBUTES: Mapping[str, Any] = {}


class SpanLike(Protocol):
    """What the assembly needs from a span; the OTLP decoder's spans have the same fields."""

    @property
    def trace_id(self) -> int: ...
    @property
    def span_id(self) -> int: ...
    @property
    def parent_span_id(self) -> int | None: ...
    @property
    def name(self) -> str: ...
    @property
    def start_ns(self) -> int: ...
    @property
    def end_ns(self) -> int: ...
    @property
    def attributes(self) -> Mapping[str, Any]: ...
    @property
    def status_code(self) -> int: ...
    @property
    def parent_is_remote(self) -> bool: ...
    @property
    def events(self) -> Sequence[Any]: ...


class SpanRecord:
    """A finished span: ids, name, times (epoch ns), attributes, events, status code.

    ``status_code`` uses OTLP's numbering (0 unset, 1 ok, 2 error), which is also the
    value of the SDK's ``StatusCode``. ``parent_is_remote`` is true when the parent lives in
    another process (then it can never arrive here). ``size`` is what the span weighs in
    bytes as it arrived (the OTLP receiver's share of the request body; 0 if unknown): the
    exporter's ``max_pending_bytes`` counts it.
    """

    __slots__ = (
        "_events",
        "attributes",
        "end_ns",
        "name",
        "parent_is_remote",
        "parent_span_id",
        "size",
        "span_id",
        "start_ns",
        "status_code",
        "status_message",
        "trace_id",
    )

    def __init__(
        self,
        trace_id: int,
        span_id: int,
        parent_span_id: int | None,
        name: str,
        start_ns: int,
        end_ns: int,
        attributes: Mapping[str, Any] | None = None,
        events: Sequence[Any] = (),
        status_code: int = 0,
        *,
        parent_is_remote: bool = False,
        size: int = 0,
        status_message: str | None = None,
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.name = name
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.attributes: Mapping[str, Any] = _NO_ATTRIBUTES if attributes is None else attributes
        self._events = events
        self.status_code = status_code
        self.parent_is_remote = parent_is_remote
        self.size = size
        self.status_message = status_message

    @property
    def events(self) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        """``(name, attributes)`` of each event, converted from SDK events on first use."""
        out = tuple(e if isinstance(e, tuple) else (e.name, e.attributes or _NO_ATTRIBUTES) for e in self._events)
        self._events = out
        return out

    def __repr__(self) -> str:
        return f"SpanRecord(name={self.name!r}, trace_id={self.trace_id:032x}, span_id={self.span_id:016x})"


def _attributes(span: ReadableSpan) -> Mapping[str, Any]:
    """The span's attributes without a copy, as fast to read as a dict.

    ``ReadableSpan.attributes`` wraps the SDK's ``BoundedAttributes`` in a ``MappingProxyType``,
    which makes every lookup go through two layers of Python code (about 1 µs each, and the
    assembly does dozens per span). Once a span has ended its ``BoundedAttributes`` is
    immutable, so reading its inner dict is safe; anything else falls back to the public view.
    """
    raw = getattr(span, "_attributes", None)
    inner = getattr(raw, "_dict", None)
    if isinstance(inner, dict) and getattr(raw, "_immutable", False):
        return inner
    attributes = span.attributes
    return attributes if attributes is not None else _NO_ATTRIBUTES


class SdkSpanView:
    """A finished SDK span seen as a :class:`SpanLike`, built in a few attribute reads.

    The ids and the attribute mapping (all the buffer needs) are read once; the name, times,
    status and events only when the trajectory is assembled.
    """

    __slots__ = ("_span", "attributes", "parent_is_remote", "parent_span_id", "span_id", "trace_id")
    size = 0  # in-process spans are not weighed (see SpanRecord.size)

    def __init__(self, span: ReadableSpan) -> None:
        self._span = span
        ctx = span.context
        self.trace_id: int = ctx.trace_id if ctx is not None else 0
        self.span_id: int = ctx.span_id if ctx is not None else 0
        parent = span.parent
        self.parent_span_id: int | None = parent.span_id if parent is not None else None
        self.parent_is_remote: bool = parent is not None and parent.is_remote
        self.attributes: Mapping[str, Any] = _attributes(span)

    @property
    def name(self) -> str:
        return self._span.name

    @property
    def start_ns(self) -> int:
        return self._span.start_time or 0

    @property
    def end_ns(self) -> int:
        start = self._span.start_time or 0
        end = self._span.end_time or start
        return end if end >= start else start

    @property
    def status_code(self) -> int:
        code = self._span.status.status_code
        if code is _SDK_UNSET:  # identity first: an enum's ``.value`` is a Python-level property
            return 0
        if code is _SDK_ERROR:
            return STATUS_ERROR
        return int(code.value)

    @property
    def status_message(self) -> str | None:
        return self._span.status.description

    @property
    def events(self) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        return tuple((e.name, e.attributes or _NO_ATTRIBUTES) for e in self._span.events)

    def __repr__(self) -> str:
        return f"SdkSpanView(name={self.name!r}, trace_id={self.trace_id:032x}, span_id={self.span_id:016x})"


def record_from_span(span: ReadableSpan) -> SdkSpanView:
    """A cheap SpanLike view of a finished SDK span: no copy (spans are immutable once ended)."""
    return SdkSpanView(span)
