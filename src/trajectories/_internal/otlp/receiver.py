"""The OTLP/HTTP trace receiver: an ASGI app (Starlette, the ``server`` extra) for ``trajectories serve``.

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
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

# The protobuf messages (the server extra) at import, not in the first request's time.
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..exceptions import OTLPDecodeError
from ..records import SpanRecord
from .decode import DecodeResult, decode_json, decode_protobuf

__all__ = ["ReceiverStats", "create_app"]

logger = logging.getLogger(__name__)

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


class _Receiver:
    """The request handlers of the receiver: ``POST /v1/traces`` and ``GET /health``."""

    def __init__(
        self, on_spans: Callable[[list[SpanRecord]], None], token: str | None, max_body: int, stats: ReceiverStats
    ) -> None:
        self.on_spans = on_spans
        self.expected = f"Bearer {token}".encode() if token else None
        self.max_body = max_body
        self.stats = stats
        #: Extra figures for ``/health`` (the exporter's, when ``serve`` wires one).
        self.health_extra: Callable[[], dict[str, Any]] | None = None

    def answer(self, status: int, content: bytes | str, media_type: str) -> Response:
        self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        return Response(content, status_code=status, media_type=media_type)

    def error(self, status: int, message: str, media_type: str) -> Response:
        if media_type == PROTOBUF:
            from google.rpc.status_pb2 import Status  # the server extra

            return self.answer(status, Status(code=status, message=message).SerializeToString(), PROTOBUF)
        return self.answer(status, json.dumps({"code": status, "message": message}), JSON)

    async def read_body(self, request: Request) -> bytes:
        max_body = self.max_body
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

    async def decode(self, request: Request, ctype: str) -> tuple[DecodeResult, int]:
        body = await self.read_body(request)
        if ctype == PROTOBUF:
            return await run_in_threadpool(decode_protobuf, body), len(body)
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise OTLPDecodeError("body is not valid JSON") from None
        return await run_in_threadpool(decode_json, document), len(body)

    async def traces(self, request: Request) -> Response:
        counters = self.stats
        counters.requests += 1
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        media = ctype if ctype in (PROTOBUF, JSON) else JSON
        if self.expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, self.expected):
                counters.unauthorized += 1
                return self.error(401, "missing or wrong bearer token", media)
        if ctype not in (PROTOBUF, JSON):
            counters.unsupported += 1
            return self.error(415, f"Content-Type must be {PROTOBUF} or {JSON}", JSON)
        try:
            result, size = await self.decode(request, ctype)
        except _TooLarge:
            counters.too_large += 1
            return self.error(413, f"body larger than {self.max_body} bytes", media)
        except ClientDisconnect:  # nobody to answer; not an error of ours
            counters.disconnected += 1
            return self.error(400, "client disconnected", media)
        except OTLPDecodeError as exc:
            counters.bad_requests += 1
            return self.error(400, str(exc), media)
        counters.spans_rejected += result.rejected
        if result.spans:
            share = size // len(result.spans) + 1  # what each span weighs, for max_pending_bytes
            for span in result.spans:
                span.size = share
            try:
                await run_in_threadpool(self.on_spans, result.spans)
            except Exception as exc:
                counters.consumer_failures += 1
                # The exception's text may quote the payload: its type only, the traceback at DEBUG.
                logger.error(
                    "could not process %d decoded spans: %s",
                    len(result.spans),
                    type(exc).__name__,
                    exc_info=logger.isEnabledFor(logging.DEBUG),
                )
                return self.error(503, "spans could not be processed; retry later", media)
            counters.spans_accepted += len(result.spans)
        return self.answer(200, _response(result, media), media)

    async def health(self, request: Request) -> Response:
        body: dict[str, Any] = {"status": "ok", "requests": self.stats.requests, "spans_accepted": self.stats.spans_accepted}
        if self.health_extra is not None:
            body.update(self.health_extra())
        return JSONResponse(body)


def _guarded(inner: Any, counters: ReceiverStats) -> Any:
    """The ASGI app around *inner*: a misbehaving client must not make the server log a traceback
    per request. When the answer cannot be sent (the client hung up, or the HTTP server already
    answered a malformed request itself and must close), count it and end quietly."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
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


def create_app(
    on_spans: Callable[[list[SpanRecord]], None],
    *,
    token: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    stats: ReceiverStats | None = None,
    on_shutdown: Callable[[], None] | None = None,
    health: Callable[[], dict[str, Any]] | None = None,
) -> Any:
    """Build the ASGI app. ``on_spans`` gets each request's decoded spans (from a worker thread);
    ``on_shutdown`` runs when the server stops; ``health`` adds figures to ``/health``."""
    counters = stats if stats is not None else ReceiverStats()
    receiver = _Receiver(on_spans, token, max_body, counters)
    receiver.health_extra = health

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if on_shutdown is not None:
                await run_in_threadpool(on_shutdown)

    inner = Starlette(
        routes=[Route("/v1/traces", receiver.traces, methods=["POST"]), Route("/health", receiver.health, methods=["GET"])],
        lifespan=lifespan,
    )
    inner.state.stats = counters
    return _guarded(inner, counters)


def _response(result: DecodeResult, media: str) -> bytes | str:
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
