"""OTLP decoding: protobuf and the JSON mapping give the same span fields as the SDK span."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.helpers.otlp import json_body, otlp_json, protobuf_body
from trajectories._internal.otlp.decode import decode_json, decode_protobuf
from trajectories._internal.records import SpanRecord
from trajectories.exceptions import OTLPDecodeError


def _spans(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> list:  # type: ignore[type-arg]
    tracer = tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("root", attributes={"trajectory.id": 2**62 + 5, "trajectory.tags": ["a", "b"]}):
        with tracer.start_as_current_span(
            "child",
            attributes={"trajectory.step.confidence": 0.75, "flag": True, "embedding": [0.5, -1.25]},
        ) as child:
            child.add_event("exception", {"exception.type": "ValueError"})
            child.set_status(StatusCode.ERROR, "boom")
    return list(span_exporter.get_finished_spans())


def _check(decoded: list[SpanRecord], originals: list) -> None:  # type: ignore[type-arg]
    assert len(decoded) == len(originals) == 2
    by_id = {d.span_id: d for d in decoded}
    for span in originals:
        d = by_id[span.context.span_id]
        assert d.trace_id == span.context.trace_id
        assert d.parent_span_id == (span.parent.span_id if span.parent else None)
        assert d.name == span.name
        assert (d.start_ns, d.end_ns) == (span.start_time, span.end_time)
        assert d.attributes == {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in span.attributes.items()}
        assert d.status_code == {StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}[span.status.status_code]
        assert [e[0] for e in d.events] == [e.name for e in span.events]
    child = next(d for d in decoded if d.name == "child")
    assert child.events == (("exception", {"exception.type": "ValueError"}),)
    assert child.attributes["embedding"] == (0.5, -1.25)
    assert isinstance(child.attributes["trajectory.step.confidence"], float)


def test_protobuf_round_trip(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    originals = _spans(tracer_provider, span_exporter)
    result = decode_protobuf(protobuf_body(originals))
    assert result.rejected == 0
    _check(result.spans, originals)


def test_json_mapping_round_trip_with_hex_ids(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    originals = _spans(tracer_provider, span_exporter)
    document = json.loads(json_body(originals))
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32  # hex, as the OTLP JSON mapping says
    result = decode_json(document)
    assert result.rejected == 0
    _check(result.spans, originals)
    # 64-bit integers arrive as strings in OTLP JSON and must come back as ints
    root = next(d for d in result.spans if d.name == "root")
    assert root.attributes["trajectory.id"] == 2**62 + 5


def test_json_snake_case_keys_are_accepted(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    originals = _spans(tracer_provider, span_exporter)
    text = json.dumps(otlp_json(originals))
    for camel, snake in [("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), ("traceId", "trace_id")]:
        text = text.replace(f'"{camel}"', f'"{snake}"')
    _check(decode_json(json.loads(text)).spans, originals)


def test_bad_spans_are_rejected_one_by_one(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    document = otlp_json(_spans(tracer_provider, span_exporter))
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append({"traceId": "zz", "spanId": "00" * 8, "name": "bad"})
    spans.append({"traceId": "ab" * 16, "spanId": "cd" * 8, "name": 5})
    spans.append("not a span")
    result = decode_json(document)
    assert len(result.spans) == 2
    assert result.rejected == 3
    assert any("traceId" in e for e in result.errors)


@pytest.mark.parametrize("body", [b"\xff\xff\xff", b"\x0a\x05abc", b"\x0a\xff\xff\xff\xff\x0f"])
def test_garbage_protobuf_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(OTLPDecodeError):
        decode_protobuf(body)


@pytest.mark.parametrize("document", [[], "x", 5, {"resourceSpans": {}}])
def test_json_that_is_not_a_request_is_a_decode_error(document: object) -> None:
    with pytest.raises(OTLPDecodeError):
        decode_json(document)


def test_empty_request_decodes_to_nothing() -> None:
    assert decode_protobuf(b"").spans == []
    assert decode_json({}).spans == []


def test_collector_file_lines_are_read_and_bad_ones_reported_by_number(
    tmp_path: Path, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    from trajectories._internal.otlp.files import iter_otlp_file

    good = json.dumps(otlp_json(_spans(tracer_provider, span_exporter)))
    path = tmp_path / "traces.json"
    path.write_text("\n".join([good, "{broken", "", '["not", "a request"]', good]) + "\n", encoding="utf-8")
    lines = list(iter_otlp_file(path))
    assert [(x.line_no, len(x.spans), x.error is None) for x in lines] == [
        (1, 2, True),
        (2, 0, False),
        (4, 0, False),
        (5, 2, True),
    ]
    assert "not JSON" in (lines[1].error or "")


def test_protobuf_attribute_values_of_every_kind() -> None:
    """Scalars as they are (bytes too), arrays of scalars as tuples without their non-scalar
    elements, key-value lists and empty values left out: the rest of the span still counts."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x01" * 16, b"\x02" * 8, "work"
    span.start_time_unix_nano, span.end_time_unix_nano = 10, 20
    nested = AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key="x", value=AnyValue(int_value=1))]))
    values = {
        "s": AnyValue(string_value="text"),
        "b": AnyValue(bool_value=True),
        "i": AnyValue(int_value=-7),
        "d": AnyValue(double_value=0.25),
        "raw": AnyValue(bytes_value=b"\x00\x01"),
        "arr": AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="a"), nested, AnyValue(int_value=3)])),
        "kv": nested,
        "empty": AnyValue(),
    }
    span.attributes.extend(KeyValue(key=k, value=v) for k, v in values.items())
    (record,) = decode_protobuf(request.SerializeToString()).spans
    assert record.attributes == {"s": "text", "b": True, "i": -7, "d": 0.25, "raw": b"\x00\x01", "arr": ("a", 3)}
    assert (record.name, record.start_ns, record.end_ns) == ("work", 10, 20)


def test_protobuf_spans_with_bad_ids_are_rejected_one_by_one_and_odd_fields_read() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    good = {"trace_id": b"\x01" * 16, "span_id": b"\x02" * 8, "start_time_unix_nano": 10, "end_time_unix_nano": 20}
    cases = [
        ({"trace_id": b"\x01" * 15}, "trace_id must be 16 bytes, got 15"),
        ({"trace_id": b""}, "span without trace_id"),
        ({"span_id": b"\x00" * 8}, "span_id is all zeros"),
        ({"parent_span_id": b"\x03" * 7}, "parent_span_id must be 8 bytes, got 7"),
    ]
    for change, _ in cases:
        spans.add(name="bad", **{**good, **change})
    spans.add(name="zero parent", parent_span_id=b"\x00" * 8, **good)
    odd = spans.add(name="odd", parent_span_id=b"\x03" * 8, flags=0x300, **{**good, "end_time_unix_nano": 5})
    odd.status.code = 2
    odd.status.message = "boom"
    odd.events.add(name="e").attributes.add(key="k").value.int_value = 7
    kv = odd.attributes.add(key="list")
    kv.value.array_value.values.add().string_value = "a"
    kv.value.array_value.values.add().bool_value = True
    odd.attributes.add(key="nested").value.kvlist_value.values.add(key="x")
    odd.attributes.add(key="unset")
    spans.add(name="remote unknown", flags=0x200, **good)  # bit 9 without bit 8: not known to be remote
    result = decode_protobuf(request.SerializeToString())
    assert result.rejected == len(cases)
    assert result.errors == [why for _, why in cases]
    zero_parent, odd_span, unknown = result.spans
    assert zero_parent.parent_span_id is None
    assert not zero_parent.parent_is_remote
    assert (odd_span.parent_span_id, odd_span.parent_is_remote) == (0x03030303_03030303, True)
    assert (odd_span.start_ns, odd_span.end_ns) == (10, 10)  # an end before the start is the start
    assert (odd_span.status_code, odd_span.status_message) == (2, "boom")
    assert odd_span.events == (("e", {"k": 7}),)
    assert odd_span.attributes == {"list": ("a", True)}  # kvlists and unset values are left out
    assert not unknown.parent_is_remote
    assert unknown.status_message is None
    assert unknown.events == ()
