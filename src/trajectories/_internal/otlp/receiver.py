"""The OTLP/HTTP trace receiver: an ASGI app (Starlette) for ``trajectories serve``.

It answers as the OTLP/HTTP specification says: 200 with an (empty or partial-success)
``ExportTraceServiceResponse`` in the request's encoding; 400 for a body that does not
decode; 401 without the configured bearer token; 413 over the size limit; 415 for other
content types. Payloads are never evaluated or logged; only counts and error kinds are.
Each decoded span carries its share of the body's size (``SpanRecord.size``), so that the
exporter behind it can bound the memory of what waits for its root (``max_pending_bytes``).
"""

from __future__ import annotations

import hmac
import json
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..export.records import SpanRecord
from .decode import DecodeResult, OTLPDecodeError, decode_json, decode_protobuf

__all__ = ["ReceiverStats", "create_app"]

logger = logging.getLogger("trajectories.serve")

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
DEFAULT_MAX_BODY = 16 * 1024 * 1024


@dataclass(slots=True)
class ReceiverStats:
    requests: int = 0
    spans_accepted: int = 0
    spans_rejected: int = 0
    bad_requests: int = 0
    too_large: int = 0
    unsupported: int = 0
    unauthorized: int = 0
    consumer_failures: int = 0
    #: Requests whose client went away (or whose connection the HTTP server had already
    #: answered and closed, e.g. a malformed chunked body) before the answer could be sent.
    disconnected: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    """Sending the answer failed: the client or the connection is gone."""


def create_app(
    on_spans: Callable[[list[SpanRecord]], None],
    *,
    token: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    stats: ReceiverStats | None = None,
    on_shutdown: Callable[[], None] | None = None,
) -> Any:
    """Build the ASGI app. ``on_spans`` gets each request's decoded spans (from a worker thread)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    counters = stats if stats is not None else ReceiverStats()
    expected = f"Bearer {token}".encode() if token else None

    def answer(status: int, content: bytes | str, media_type: str) -> Response:
        counters.by_status[status] = counters.by_status.get(status, 0) + 1
        return Response(content, status_code=status, media_type=media_type)

    def error(status: int, message: str, media_type: str) -> Response:
        if media_type == PROTOBUF:
            from google.rpc.status_pb2 import Status

            return answer(status, Status(code=status, message=message).SerializeToString(), PROTOBUF)
        return answer(status, json.dumps({"code": status, "message": message}), JSON)

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise _TooLarge
            chunks.append(chunk)
        body = b"".join(chunks)
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding == "gzip":
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            try:
                body = inflater.decompress(body, max_body + 1)
            except zlib.error:
                raise OTLPDecodeError("body is not valid gzip") from None
            if len(body) > max_body or inflater.unconsumed_tail:
                raise _TooLarge
        elif encoding not in ("identity", ""):
            raise OTLPDecodeError(f"unsupported Content-Encoding {encoding[:40]!r}")
        return body

    async def traces(request: Request) -> Response:
        counters.requests += 1
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        media = ctype if ctype in (PROTOBUF, JSON) else JSON
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                counters.unauthorized += 1
                return error(401, "missing or wrong bearer token", media)
        if ctype not in (PROTOBUF, JSON):
            counters.unsupported += 1
            return error(415, f"Content-Type must be {PROTOBUF} or {JSON}", JSON)
        try:
            body = await read_body(request)
            result: DecodeResult
            if ctype == PROTOBUF:
                result = await run_in_threadpool(decode_protobuf, body)
            else:
                try:
                    document = json.loads(body)
                except (ValueError, RecursionError):
                    raise OTLPDecodeError("body is not valid JSON") from None
                result = await run_in_threadpool(decode_json, document)
        except _TooLarge:
            counters.too_large += 1
            return error(413, f"body larger than {max_body} bytes", media)
        except ClientDisconnect:  # nobody to answer; not an error of ours
            counters.disconnected += 1
            return error(400, "client disconnected", media)
        except OTLPDecodeError as exc:
            counters.bad_requests += 1
            return error(400, str(exc), media)
        counters.spans_rejected += result.rejected
        if result.spans:
            share = len(body) // len(result.spans) + 1  # what each span weighs, for max_pending_bytes
            for span in result.spans:
                span.size = share
            try:
                await run_in_threadpool(on_spans, result.spans)
            except Exception as exc:
                counters.consumer_failures += 1
                # The exception's text may quote the payload: its type only, the traceback at DEBUG.
                logger.error(
                    "could not process %d decoded spans: %s",
                    len(result.spans),
                    type(exc).__name__,
                    exc_info=logger.isEnabledFor(logging.DEBUG),
                )
                return error(503, "spans could not be processed; retry later", media)
            counters.spans_accepted += len(result.spans)
        return answer(200, _response(result, media), media)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "requests": counters.requests, "spans_accepted": counters.spans_accepted})

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def _lifespan(app: Any) -> Any:
        try:
            yield
        finally:
            if on_shutdown is not None:
                await run_in_threadpool(on_shutdown)

    inner = Starlette(
        routes=[Route("/v1/traces", traces, methods=["POST"]), Route("/health", health, methods=["GET"])],
        lifespan=_lifespan,
    )
    inner.state.stats = counters

    async def app(scope: Any, receive: Any, send: Any) -> None:
        # A misbehaving client must not make the server log a traceback per request: when the
        # answer cannot be sent (the client hung up, or the HTTP server already answered a
        # malformed request itself and must close), count it and end quietly.
        async def guarded_send(message: Any) -> None:
            try:
                await send(message)
            except Exception as exc:
                raise _Gone from exc

        try:
            await inner(scope, receive, guarded_send)
        except _Gone:
            counters.disconnected += 1

    app.state = inner.state  # type: ignore[attr-defined]
    return app


def _response(result: DecodeResult, media: str) -> bytes | str:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    if media == PROTOBUF:
        response = ExportTraceServiceResponse()
        if result.rejected:
            response.partial_success.rejected_spans = result.rejected
            response.partial_success.error_message = "; ".join(result.errors)[:1000]
        encoded: bytes = response.SerializeToString()
        return encoded
    if not result.rejected:
        return "{}"
    return json.dumps(
        {"partialSuccess": {"rejectedSpans": str(result.rejected), "errorMessage": "; ".join(result.errors)[:1000]}}
    )
