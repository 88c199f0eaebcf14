"""Make real OTLP payloads from real SDK spans, as an SDK exporter or a collector writes them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan


def protobuf_body(spans: Sequence[ReadableSpan]) -> bytes:
    return encode_spans(spans).SerializeToString()  # type: ignore[no-any-return]


def _hex_ids(node: Any) -> Any:
    """The OTLP JSON mapping writes ids as hex, where proto3's default JSON uses base64."""
    import base64

    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                out[key] = base64.b64decode(value).hex()
            else:
                out[key] = _hex_ids(value)
        return out
    if isinstance(node, list):
        return [_hex_ids(x) for x in node]
    return node


def otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    document = json_format.MessageToDict(encode_spans(spans))
    return _hex_ids(document)  # type: ignore[no-any-return]


def json_body(spans: Sequence[ReadableSpan]) -> bytes:
    return json.dumps(otlp_json(spans)).encode()
