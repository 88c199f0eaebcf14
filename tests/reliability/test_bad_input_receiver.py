"""Bad input for the OTLP/HTTP receiver: every bad request gets a 4xx, and the server keeps serving.

Driven through the real ASGI app (starlette's TestClient) with hypothesis, and as a burst of
assorted bad requests and malformed HTTP against the real uvicorn server. Behind the app is
a real TrajectoryExporter, so wrong types in our attributes go all the way through the
assembly. Figures are printed as ``[bad-input] ...`` lines (``pytest -s``).
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import random
import socket
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.helpers.otlp import otlp_json, protobuf_body
from tests.helpers.paths import ROOT
from trajectories import TrajectoryExporter
from trajectories import attributes as A
from trajectories._internal.otlp.receiver import ReceiverStats, create_app
from trajectories._internal.otlp.server import running_in_thread
from trajectories.export import ListSink

MAX_BODY = 64 * 1024
FAST = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
PB = "application/x-protobuf"
JS = "application/json"
ALLOWED = {200, 400, 413, 415}


class Served:
    def __init__(self, tmp_path: Path) -> None:
        self.sink = ListSink()
        self.exporter = TrajectoryExporter([self.sink], dead_letter_path=tmp_path / "dead.jsonl", max_pending_bytes=1 << 20)
        self.stats = ReceiverStats()
        self.app = create_app(self.exporter.export_records, max_body=MAX_BODY, stats=self.stats)


@pytest.fixture
def served(tmp_path: Path) -> Served:
    return Served(tmp_path)


@pytest.fixture
def client(served: Served) -> Iterator[TestClient]:
    with TestClient(served.app) as c:
        yield c


def assert_error_body(status: int, content: bytes, ctype: str) -> None:
    """A 4xx carries a google.rpc.Status (protobuf) or {"code", "message"} (JSON)."""
    if status == 200:
        return
    if ctype.startswith(PB):
        from google.rpc.status_pb2 import Status

        assert Status.FromString(content).code == status
    else:
        assert json.loads(content)["code"] == status


def still_serving(client: TestClient, served: Served, valid: bytes) -> None:
    emitted = len(served.sink)
    response = client.post("/v1/traces", content=valid, headers={"Content-Type": PB})
    assert response.status_code == 200
    assert len(served.sink) == emitted + 1  # a real trajectory still comes out
    assert client.get("/health").json()["status"] == "ok"


content_types = st.sampled_from(
    [PB, JS, "application/json; charset=utf-8", "text/plain", "", "application/x-protobuf; proto=x", "multipart/form-data", "*/*"]
)
encodings = st.sampled_from([None, "gzip", "identity", "br", "deflate", "GZIP", "x" * 100])


def test_random_bodies_types_and_encodings_get_4xx(client: TestClient, served: Served, search_spans: list[Any]) -> None:
    n = [0]
    statuses: Counter[int] = Counter()

    @FAST
    @given(st.binary(max_size=2000), content_types, encodings, st.booleans())
    def prop(body: bytes, ctype: str, encoding: str | None, compress: bool) -> None:
        n[0] += 1
        headers = {"Content-Type": ctype}
        if encoding is not None:
            headers["Content-Encoding"] = encoding
            if compress and encoding.lower() == "gzip":
                body = gzip.compress(body)
        response = client.post("/v1/traces", content=body, headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code in ALLOWED
        assert_error_body(response.status_code, response.content, response.headers["content-type"])

    prop()
    print(f"[bad-input] receiver, random bodies x content types x encodings: {n[0]} requests, statuses {dict(statuses)}")
    assert n[0] >= 200
    still_serving(client, served, protobuf_body(search_spans))
    assert served.exporter.stats.internal_errors == 0


def test_truncated_and_flipped_protobuf_requests(client: TestClient, served: Served, search_spans: list[Any]) -> None:
    valid = protobuf_body(search_spans)
    statuses: Counter[int] = Counter()
    rng = random.Random(8)
    bodies = [valid[:cut] for cut in range(0, len(valid), 7)]
    for _ in range(200):
        at = rng.randrange(len(valid))
        bodies.append(valid[:at] + bytes([valid[at] ^ rng.randrange(1, 256)]) + valid[at + 1 :])
    for body in bodies:
        response = client.post("/v1/traces", content=body, headers={"Content-Type": PB})
        statuses[response.status_code] += 1
        assert response.status_code in (200, 400)
    print(f"[bad-input] receiver, truncated/bit-flipped protobuf: {len(bodies)} requests, statuses {dict(statuses)}")
    assert served.exporter.stats.internal_errors == 0
    served.exporter.shutdown()  # what the damaged requests left pending comes out, flagged incomplete
    assert served.exporter.stats.assembly_errors == 0


def test_huge_bodies_are_413_without_reading_them_whole(client: TestClient, served: Served) -> None:
    sent = 0
    # declared too large
    assert client.post("/v1/traces", content=b"x" * (MAX_BODY + 1), headers={"Content-Type": PB}).status_code == 413
    sent += 1

    # streamed (chunked, no Content-Length), far over the limit: refused once the limit is passed
    chunks_read = [0]

    def stream() -> Iterator[bytes]:
        for _ in range(10_000):  # 640 MiB if it were all read
            chunks_read[0] += 1
            yield b"\x00" * 65_536

    response = client.post("/v1/traces", content=stream(), headers={"Content-Type": PB})
    sent += 1
    assert response.status_code == 413
    # gzip bombs: 64 MiB of zeros in ~64 KiB; and nested gzip
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024), compresslevel=9)
    for body in (bomb[:MAX_BODY], gzip.compress(gzip.compress(b"\x00" * (8 * 1024 * 1024)))):
        response = client.post("/v1/traces", content=body, headers={"Content-Type": JS, "Content-Encoding": "gzip"})
        sent += 1
        assert response.status_code in (400, 413)
    # a raw deflate stream declared as gzip
    raw = zlib.compress(b"\x00" * 100_000)
    assert client.post("/v1/traces", content=raw, headers={"Content-Type": PB, "Content-Encoding": "gzip"}).status_code == 400
    sent += 1
    print(f"[bad-input] receiver, oversized and gzip-bomb bodies: {sent} requests, all 4xx")
    assert served.stats.too_large >= 3


def _nested_pb_value(depth: int) -> bytes:
    """An AnyValue holding an array holding an array ... *depth* levels deep, as raw protobuf."""
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    inner: bytes = AnyValue(string_value="leaf").SerializeToString()
    for _ in range(depth):
        inner = _field(5, _field(1, inner))  # AnyValue.array_value = ArrayValue{values: [inner]}
    return inner


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_deeply_nested_bodies_and_attributes(client: TestClient, served: Served, search_spans: list[Any]) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    sent = 0
    for depth in (10, 50, 99, 100, 200, 1000, 5000):
        request = ExportTraceServiceRequest.FromString(protobuf_body(search_spans))
        rs = request.resource_spans[0]
        scope = rs.scope_spans[0]
        span = scope.spans[0]
        nested = _nested_pb_value(depth)
        key = A.TRAJECTORY_TAGS.encode()
        kv = _field(1, key) + _field(2, nested)  # KeyValue{key, value}
        span_bytes = span.SerializeToString() + _field(9, kv)  # Span.attributes
        del scope.spans[:]
        scope_bytes = scope.SerializeToString() + _field(2, span_bytes)  # ScopeSpans.spans
        del rs.scope_spans[:]
        body = _field(1, rs.SerializeToString() + _field(2, scope_bytes))  # request.resource_spans[ScopeSpans]
        response = client.post("/v1/traces", content=body, headers={"Content-Type": PB})
        sent += 1
        assert response.status_code in (200, 400), depth
        if depth <= 10:  # deeper than protobuf's 100 nested messages is a DecodeError: 400
            assert response.status_code == 200
    for text in ("[" * 60_000, '{"resourceSpans":' * 3_500, json.dumps({"resourceSpans": [{"scopeSpans": [[[[[[]]]]]]}]})):
        response = client.post("/v1/traces", content=text.encode(), headers={"Content-Type": JS})
        sent += 1
        assert response.status_code in (200, 400)
    nested_json: Any = {"stringValue": "leaf"}
    for _ in range(5000):
        nested_json = {"arrayValue": {"values": [nested_json]}}
    doc = otlp_json(search_spans)
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"].append({"key": A.TRAJECTORY_TAGS, "value": nested_json})
    try:
        body = json.dumps(doc).encode()
    except RecursionError:  # pragma: no cover - json.dumps depth depends on the C stack
        body = b"[" * 10_000
    response = client.post("/v1/traces", content=body, headers={"Content-Type": JS})
    sent += 1
    assert response.status_code in (200, 400, 413)
    print(f"[bad-input] receiver, deeply nested bodies and attribute values: {sent} requests, none 5xx")
    still_serving(client, served, protobuf_body(search_spans))


# --------------------------------------------------------------------------- our attributes, wrong types

any_value = st.one_of(
    st.builds(lambda s: {"stringValue": s}, st.text(max_size=6)),
    st.builds(lambda b: {"boolValue": b}, st.booleans()),
    st.builds(lambda i: {"intValue": str(i)}, st.integers(-(1 << 70), 1 << 70)),
    st.builds(lambda i: {"intValue": i}, st.integers(-(1 << 64), 1 << 64)),
    st.builds(lambda d: {"doubleValue": d}, st.floats(allow_nan=False) | st.sampled_from(["NaN", "Infinity", "-Infinity", "x"])),
    st.builds(
        lambda v: {"arrayValue": {"values": v}},
        st.lists(st.builds(lambda s: {"stringValue": s}, st.text(max_size=3)), max_size=3),
    ),
    st.builds(lambda v: {"kvlistValue": {"values": v}}, st.just([{"key": "a", "value": {"stringValue": "b"}}])),
    st.just({}),
    st.just(None),
    st.just([1, 2]),
    st.sampled_from([{"stringValue": v} for v in ("invoke_agent", "success", "failure", "partial", "needs_retry", "[[[")]),
)
ours = st.sampled_from(
    [
        A.TRAJECTORY_ID,
        A.GEN_AI_OPERATION_NAME,
        A.STEP_INDEX,
        A.STEP_CONFIDENCE,
        A.STEP_OUTCOME,
        A.TRAJECTORY_VERDICT,
        A.TRAJECTORY_VERDICT_ROOT_CAUSE,
        A.TRAJECTORY_STEP_COUNT,
        A.GEN_AI_USAGE_INPUT_TOKENS,
        A.TRAJECTORY_QUERY_EMBEDDING,
        A.STEP_TAGS,
        A.TRAJECTORY_LESSONS,
        A.TRAJECTORY_VERDICT_REFLECTION_ATTEMPTS,
        A.STEP_INPUT,
        A.STEP_CONTEXT_EMBEDDING,
    ]
)


@st.composite
def documents_with_wrong_types(draw: st.DrawFn) -> dict[str, Any]:
    spans = []
    trace_id = draw(st.integers(1, (1 << 128) - 1))
    tids = draw(st.lists(st.integers(1, (1 << 63) - 1), min_size=1, max_size=2))
    for i in range(draw(st.integers(1, 5))):
        attrs = [{"key": k, "value": v} for k, v in draw(st.dictionaries(ours, any_value, max_size=8)).items()]
        if draw(st.integers(0, 4)):
            attrs.append({"key": A.TRAJECTORY_ID, "value": {"intValue": str(draw(st.sampled_from(tids)))}})
        if i == 0 and draw(st.booleans()):
            attrs.append({"key": A.GEN_AI_OPERATION_NAME, "value": {"stringValue": "invoke_agent"}})
        span: dict[str, Any] = {
            "traceId": f"{trace_id:032x}",
            "spanId": f"{i + 1:016x}",
            "name": draw(st.text(max_size=4)),
            "startTimeUnixNano": draw(st.sampled_from(["1700000000000000000"] * 20 + ["0", "-5", "1" * 30, 12, None])),
            "endTimeUnixNano": draw(st.sampled_from(["1700000000100000000"] * 20 + ["0", "x", 10**25])),
            "attributes": attrs,
        }
        if i:
            span["parentSpanId"] = draw(st.sampled_from([f"{1:016x}"] * 4 + [f"{i:016x}", "zz", ""]))
        spans.append(span)
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}


def test_wrong_types_in_our_attributes_never_break_the_exporter(
    client: TestClient, served: Served, search_spans: list[Any]
) -> None:
    n = [0]
    statuses: Counter[int] = Counter()

    @FAST
    @given(documents_with_wrong_types())
    def prop(doc: dict[str, Any]) -> None:
        n[0] += 1
        response = client.post("/v1/traces", content=json.dumps(doc).encode(), headers={"Content-Type": JS})
        statuses[response.status_code] += 1
        assert response.status_code == 200  # bad spans are rejected inside a 200 (partial success)

    prop()
    served.exporter.shutdown()
    stats = served.exporter.stats
    print(
        f"[bad-input] receiver+exporter, wrong types in our attributes: {n[0]} requests, statuses {dict(statuses)}, "
        f"{served.stats.spans_accepted} spans accepted, {served.stats.spans_rejected} rejected, "
        f"{stats.trajectories_emitted} trajectories ({stats.incomplete} incomplete), "
        f"assembly errors {stats.assembly_errors}, internal errors {stats.internal_errors}"
    )
    assert n[0] >= 200
    assert (stats.assembly_errors, stats.internal_errors, stats.sink_failures) == (0, 0, 0)
    assert stats.pending_spans == 0


# --------------------------------------------------------------------------- burst against the real server


def _raw(base: str, data: bytes) -> None:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        with contextlib.suppress(OSError):
            sock.recv(4096)


def test_burst_of_bad_requests_against_the_real_server(tmp_path: Path, search_spans: list[Any]) -> None:
    served = Served(tmp_path)
    valid = protobuf_body(search_spans)
    rng = random.Random(2026)
    statuses: Counter[int] = Counter()
    by_kind: dict[int, set[int]] = {}
    expected = {0: {200, 400}, 1: {200, 400}, 2: {415}, 3: {413}, 4: {400}, 5: {413}, 6: {200}, 7: {400}}
    malformed_http = [
        b"GARBAGE\r\n\r\n",
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",  # then the client hangs up
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /v1/traces HTTP/1.1\r\n" + b"X-Long: " + b"a" * 100_000 + b"\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200),  # a TLS ClientHello to a plain-HTTP port
    ]
    with running_in_thread(served.app) as base:
        host, port = base.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        for i in range(400):
            kind = i % 8
            headers = {"Content-Type": PB}
            if kind == 0:
                body = rng.randbytes(rng.randrange(1, 3000))
            elif kind == 1:
                at = rng.randrange(len(valid))
                body = valid[:at]
            elif kind == 2:
                body, headers = rng.randbytes(200), {"Content-Type": "text/html"}
            elif kind == 3:
                body = rng.randbytes(MAX_BODY + rng.randrange(1, 1000))
            elif kind == 4:
                body, headers = b"{" * rng.randrange(1, 50_000), {"Content-Type": JS}
            elif kind == 5:
                body, headers = gzip.compress(b"\x00" * (4 * 1024 * 1024)), {"Content-Type": PB, "Content-Encoding": "gzip"}
            elif kind == 6:
                body, headers = (
                    json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}).encode(),
                    {"Content-Type": JS},
                )
            else:
                body, headers = rng.randbytes(100), {"Content-Type": PB, "Content-Encoding": "br"}
            try:
                conn.request("POST", "/v1/traces", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                statuses[response.status] += 1
                by_kind.setdefault(kind, set()).add(response.status)
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
            except (ConnectionError, http.client.HTTPException):  # the server may close after a 413
                statuses[-1] += 1
                conn.close()
        for data in malformed_http:
            _raw(base, data)
        conn.close()
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("POST", "/v1/traces", body=valid, headers={"Content-Type": PB})
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200
        conn.request("GET", "/health")
        health = conn.getresponse()
        assert health.status == 200
        assert json.loads(health.read())["status"] == "ok"
        conn.close()
    sent = sum(statuses.values())
    print(
        f"[bad-input] real uvicorn server, burst: {sent} bad requests + {len(malformed_http)} malformed HTTP messages, "
        f"statuses {dict(sorted(statuses.items()))}; then a valid request -> 200, /health -> ok"
    )
    assert sent == 400
    # 200 only for a request whose bad spans are rejected inside it (partial success), or
    # random bytes / a truncation that happen to parse as a protobuf request
    assert all(by_kind[k] <= expected[k] for k in by_kind), by_kind
    assert len(served.sink) == 1  # the valid request's trajectory
    assert served.exporter.stats.internal_errors == 0


def test_burst_against_the_real_serve_command(tmp_path: Path, search_spans: list[Any]) -> None:
    """The real entry point in a subprocess, with a token: bad requests get 4xx, nothing leaks to stderr."""
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from trajectories import SQLiteTrajectoryStore

    marker = "SERVE-MARKER-51c2"
    token = "burst-token"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    src = str(ROOT / "src")
    env = dict(
        os.environ,
        TRAJECTORIES_DB=str(tmp_path / "served.db"),
        TRAJECTORIES_TOKEN=token,
        PYTHONPATH=os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "trajectories", "serve", "--port", str(port), "--max-body", str(MAX_BODY)],
        env=env,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    statuses: Counter[int] = Counter()
    rng = random.Random(51)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                assert server.poll() is None
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        auth = {"Authorization": f"Bearer {token}"}
        for i in range(300):
            kind = i % 6
            body = marker.encode() + rng.randbytes(rng.randrange(1, 2000))
            headers = {"Content-Type": PB, **auth}
            if kind == 1:
                headers = {"Content-Type": JS, **auth}
            elif kind == 2:
                headers = {"Content-Type": f"text/{marker}", **auth}
            elif kind == 3:
                body = marker.encode() * (MAX_BODY // len(marker) + 1)
            elif kind == 4:
                headers = {"Content-Type": PB, "Authorization": f"Bearer {marker}"}
            elif kind == 5:
                doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": marker, "name": marker}]}]}]}
                body, headers = json.dumps(doc).encode(), {"Content-Type": JS, **auth}
            try:
                conn.request("POST", "/v1/traces", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                statuses[response.status] += 1
            except (ConnectionError, http.client.HTTPException):
                statuses[-1] += 1
                conn.close()
        for data in (b"GARBAGE\r\n\r\n", b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + marker.encode()):
            _raw(f"http://127.0.0.1:{port}", data)
        conn.request("POST", "/v1/traces", body=protobuf_body(search_spans), headers={"Content-Type": PB, **auth})
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200
        conn.close()
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    text = stderr.decode(errors="replace")
    print(
        f"[bad-input] `trajectories serve` subprocess, burst: {sum(statuses.values())} bad requests, statuses "
        f"{dict(sorted(statuses.items()))}; then a valid one -> 200; stderr clean"
    )
    assert server.returncode in (0, -signal.SIGTERM), text
    assert set(statuses) <= {200, 400, 401, 413, 415}
    assert statuses[401] == 50
    assert marker not in text
    assert "Traceback" not in text
    assert "stopped; 1 trajectory (0 incomplete, 0 from agent frameworks)" in text
    store = SQLiteTrajectoryStore(tmp_path / "served.db")
    assert store.count() == 1
    store.close()
