"""Decode OTLP trace requests (protobuf or the OTLP JSON mapping) into neutral span fields.

Both the ``serve`` receiver and ``import`` of collector files use this, and feed the same
assembly as the in-process exporter. Decoding is defensive: the payload is untrusted, so a
span with fields of the wrong shape is rejected (counted) rather than crashing the batch,
and nothing from the payload is ever evaluated or logged.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import OTLPDecodeError
from ..records import SpanRecord

__all__ = ["DecodeResult", "decode_json", "decode_protobuf"]

_MAX_ARRAY = 65_536
# What the protobuf fields can hold: times are fixed64, attribute ints int64.
_U64 = (0, (1 << 64) - 1)
_I64 = (-(1 << 63), (1 << 63) - 1)
# OTLP Span.flags: bit 8 says whether bit 9 (the parent is remote) is known.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
_from_bytes = int.from_bytes


@dataclass(slots=True)
class DecodeResult:
    spans: list[SpanRecord]
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, why: str) -> None:
        self.rejected += 1
        if len(self.errors) < 5:
            self.errors.append(why)


# --------------------------------------------------------------------------- protobuf


def decode_protobuf(body: bytes) -> DecodeResult:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError, RecursionError) as exc:
        raise OTLPDecodeError(f"not a valid ExportTraceServiceRequest protobuf: {type(exc).__name__}") from None
    result = DecodeResult([])
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                try:
                    result.spans.append(_pb_span(span))
                except (ValueError, TypeError) as exc:
                    result.reject(str(exc))
    return result


def _pb_id(raw: bytes, size: int, what: str, *, optional: bool = False) -> int | None:
    if not raw:
        if optional:
            return None
        raise ValueError(f"span without {what}")
    if len(raw) != size:
        raise ValueError(f"{what} must be {size} bytes, got {len(raw)}")
    value = int.from_bytes(raw, "big")
    if value == 0:
        if optional:
            return None
        raise ValueError(f"{what} is all zeros")
    return value


def _remote(flags: int) -> bool:
    return bool(flags & _HAS_IS_REMOTE) and bool(flags & _IS_REMOTE)


def _pb_span(span: Any) -> SpanRecord:
    # The usual span read inline (ids of the right size and not zero, no events); _pb_id says
    # what is wrong with the rest. Each protobuf field read is a call into upb: each read once.
    raw = span.trace_id
    trace_id: int | None = _from_bytes(raw, "big") if len(raw) == 16 else 0
    if not trace_id:
        trace_id = _pb_id(raw, 16, "trace_id")
    raw = span.span_id
    span_id: int | None = _from_bytes(raw, "big") if len(raw) == 8 else 0
    if not span_id:
        span_id = _pb_id(raw, 8, "span_id")
    if trace_id is None or span_id is None:  # unreachable: required ids raise instead
        raise ValueError("span without ids")
    raw = span.parent_span_id
    parent = _from_bytes(raw, "big") if len(raw) == 8 else None
    if not parent:
        parent = _pb_id(raw, 8, "parent_span_id", optional=True)
    start = span.start_time_unix_nano
    end = span.end_time_unix_nano
    events = span.events
    status = span.status
    return SpanRecord(
        trace_id,
        span_id,
        parent,
        span.name,
        start,
        end if end > start else start,
        _pb_attributes(span.attributes),
        tuple([(ev.name, _pb_attributes(ev.attributes)) for ev in events]) if events else (),
        status.code,
        parent_is_remote=_remote(span.flags),
        status_message=status.message or None,
    )


def _pb_attributes(kvs: Any) -> dict[str, Any]:
    # _pb_value inlined for the scalars (nearly every attribute), strings and ints first.
    out: dict[str, Any] = {}
    for kv in kvs:
        v = kv.value
        which = v.WhichOneof("value")
        if which == "string_value":
            out[kv.key] = v.string_value
        elif which == "int_value":
            out[kv.key] = v.int_value
        elif which is None or which == "kvlist_value":
            continue
        else:
            out[kv.key] = _pb_value(v) if which == "array_value" else getattr(v, which)
    return out


def _pb_value(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        values = [_pb_value(x) for x in v.array_value.values[:_MAX_ARRAY]]
        return tuple(x for x in values if isinstance(x, (str, bool, int, float)))
    if which == "kvlist_value":
        return None  # not part of our contract; other attributes of the span still count
    return getattr(v, which)


# --------------------------------------------------------------------------- JSON


def decode_json(document: Any) -> DecodeResult:
    """Decode a parsed OTLP JSON document (``ExportTraceServiceRequest`` in the JSON mapping).

    Per the OTLP specification, trace and span ids are hex strings and 64-bit integers may
    be strings; keys are lowerCamelCase (snake_case is accepted too).
    """
    if not isinstance(document, Mapping):
        raise OTLPDecodeError("an OTLP JSON document must be an object")
    resource_spans = _get(document, "resourceSpans", "resource_spans", default=[])
    if not isinstance(resource_spans, list):
        raise OTLPDecodeError("resourceSpans must be an array")
    result = DecodeResult([])
    for rs in resource_spans:
        if not isinstance(rs, Mapping):
            result.reject("resourceSpans entry is not an object")
            continue
        scopes = _get(rs, "scopeSpans", "scope_spans", default=[])
        for ss in scopes if isinstance(scopes, list) else ():
            spans = _get(ss, "spans", default=[]) if isinstance(ss, Mapping) else []
            for span in spans if isinstance(spans, list) else ():
                try:
                    result.spans.append(_json_span(span))
                except (ValueError, TypeError, KeyError) as exc:
                    result.reject(str(exc))
    return result


def _get(obj: Mapping[str, Any], camel: str, snake: str | None = None, *, default: Any = None) -> Any:
    if camel in obj:
        return obj[camel]
    if snake is not None and snake in obj:
        return obj[snake]
    return default


def _json_id(raw: Any, size: int, what: str, *, optional: bool = False) -> int | None:
    if raw in (None, ""):
        if optional:
            return None
        raise ValueError(f"span without {what}")
    if not isinstance(raw, str):
        raise TypeError(f"{what} must be a hex string")
    try:
        data = bytes.fromhex(raw)
    except ValueError:
        try:  # some producers use proto3's default JSON mapping (base64)
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{what} is neither hex nor base64") from None
    if len(data) != size:
        raise ValueError(f"{what} must be {size} bytes, got {len(data)}")
    value = int.from_bytes(data, "big")
    if value == 0:
        if optional:
            return None
        raise ValueError(f"{what} is all zeros")
    return value


def _json_int(raw: Any, what: str, bounds: tuple[int, int] = _I64) -> int:
    if isinstance(raw, bool):
        raise TypeError(f"{what} must be an integer")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and len(raw) <= 24 and raw.strip().lstrip("-").isdigit():
        value = int(raw)
    else:
        raise TypeError(f"{what} must be an integer")
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{what} is out of range")
    return value


def _json_span(span: Any) -> SpanRecord:
    if not isinstance(span, Mapping):
        raise TypeError("span is not an object")
    trace_id = _json_id(_get(span, "traceId", "trace_id"), 16, "traceId")
    span_id = _json_id(_get(span, "spanId", "span_id"), 8, "spanId")
    if trace_id is None or span_id is None:  # unreachable: required ids raise instead
        raise ValueError("span without ids")
    start = _json_int(_get(span, "startTimeUnixNano", "start_time_unix_nano", default=0), "startTimeUnixNano", _U64)
    end = _json_int(_get(span, "endTimeUnixNano", "end_time_unix_nano", default=0), "endTimeUnixNano", _U64)
    name = _get(span, "name", default="")
    if not isinstance(name, str):
        raise TypeError("span name must be a string")
    status = _get(span, "status", default={})
    code = _get(status, "code", default=0) if isinstance(status, Mapping) else 0
    if isinstance(code, str):  # enum by name is allowed in proto3 JSON
        code = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}.get(code, 0)
    events_raw = _get(span, "events", default=[])
    events = []
    for ev in events_raw if isinstance(events_raw, list) else ():
        if isinstance(ev, Mapping) and isinstance(ev.get("name", ""), str):
            events.append((ev.get("name", ""), _json_attributes(_get(ev, "attributes", default=[]))))
    flags = _get(span, "flags", default=0)
    return SpanRecord(
        trace_id,
        span_id,
        _json_id(_get(span, "parentSpanId", "parent_span_id"), 8, "parentSpanId", optional=True),
        name,
        start,
        max(start, end),
        _json_attributes(_get(span, "attributes", default=[])),
        tuple(events),
        _json_int(code, "status.code"),
        parent_is_remote=isinstance(flags, int) and not isinstance(flags, bool) and _remote(flags),
        status_message=message if isinstance(status, Mapping) and isinstance(message := status.get("message"), str) else None,
    )


def _json_attributes(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(kvs, list):
        return out
    for kv in kvs:
        if not isinstance(kv, Mapping) or not isinstance(kv.get("key"), str):
            continue
        value = _json_value(kv.get("value"))
        if value is not None:
            out[kv["key"]] = value
    return out


def _json_value(v: Any, depth: int = 0) -> Any:
    if not isinstance(v, Mapping) or depth > 1:
        return None
    for key in ("stringValue", "string_value"):
        if key in v:
            return v[key] if isinstance(v[key], str) else None
    for key in ("boolValue", "bool_value"):
        if key in v:
            return v[key] if isinstance(v[key], bool) else None
    for key in ("intValue", "int_value"):
        if key in v:
            try:
                return _json_int(v[key], "intValue")
            except (TypeError, ValueError):
                return None
    for key in ("doubleValue", "double_value"):
        if key in v:
            d = v[key]
            if isinstance(d, (int, float)) and not isinstance(d, bool):
                return float(d)
            if isinstance(d, str) and d in ("NaN", "Infinity", "-Infinity"):
                return float(d.replace("Infinity", "inf"))
            return None
    for key in ("arrayValue", "array_value"):
        if key in v:
            arr = v[key]
            values = arr.get("values", []) if isinstance(arr, Mapping) else []
            if not isinstance(values, list):
                return None
            items = (_json_value(x, depth + 1) for x in values[:_MAX_ARRAY])
            return tuple(x for x in items if isinstance(x, (str, bool, int, float)))
    return None
