"""The viewer's ASGI app: pages over a :class:`TrajectoryStore`, read only.

Security: every page is rendered with autoescape on; every response carries a strict
Content-Security-Policy (no scripts at all, styles and images only from this origin) and
``X-Content-Type-Options: nosniff``; nothing is loaded from another origin. With a token, a
request must carry ``Authorization: Bearer TOKEN`` or the session cookie, which a browser gets
by opening any page once with ``?token=TOKEN`` (answered by a redirect that drops it from the
address). Bound to loopback, requests naming another ``Host`` are refused (DNS rebinding).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...model import Trajectory
from ...store import BASE_KEY, MemoryCredit, StoreError, TrajectoryFilter, TrajectoryNotFoundError, TrajectoryStore
from ..learning.effect import base_rate
from . import views
from .charts import bars, time_chart

__all__ = ["CSP", "COOKIE", "DEFAULT_MIN_SIMILARITY", "PAGE_SIZE", "create_app"]

logger = logging.getLogger("trajectories.ui")

CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
COOKIE = "trajectories_ui"
PAGE_SIZE = 50
#: The search box shows only trajectories at least this similar (as ``trajectories search``).
DEFAULT_MIN_SIMILARITY = 0.25
VERDICTS = ("success", "failure", "partial", "recovered")


class _SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` (and ``Cache-Control: no-store`` on pages) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in dict(SECURITY_HEADERS)]
                headers.extend(SECURITY_HEADERS)
                if not str(scope.get("path", "")).startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class _BadRequest(Exception):
    pass


def _session_value(token: str) -> str:
    # The cookie holds a digest of the token, not the token itself.
    return hmac.new(token.encode(), b"trajectories-ui-session", hashlib.sha256).hexdigest()


def create_app(store: TrajectoryStore, *, token: str | None = None, allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """The viewer over *store*. *token* requires a bearer token (or the cookie it sets);
    *allowed_hosts* limits the ``Host`` header (the CLI passes the loopback names)."""
    if not isinstance(store, TrajectoryStore):
        raise TypeError(f"store must be a TrajectoryStore, got {type(store).__name__}")
    if token is not None and (not isinstance(token, str) or not token):
        raise ValueError("token must be a non-empty str or None")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trajectories._internal.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["iso"] = lambda t: t.strftime("%Y-%m-%d %H:%M:%S") if t is not None else "-"
    env.globals["name_of"] = views.trajectory_name
    env.globals["verdicts"] = VERDICTS
    expected_header = f"Bearer {token}".encode() if token else None
    expected_cookie = _session_value(token).encode() if token else None

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(template).render(request_path=request.url.path, **context)
        return HTMLResponse(html, status_code=status)

    def authorized(request: Request) -> bool:
        if expected_header is None or expected_cookie is None:
            return True
        header = request.headers.get("authorization", "").encode()
        cookie = request.cookies.get(COOKIE, "").encode()
        return hmac.compare_digest(header, expected_header) or hmac.compare_digest(cookie, expected_cookie)

    def guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            if token is not None:
                given = request.query_params.get("token")
                if given is not None:
                    if not hmac.compare_digest(given.encode(), token.encode()):
                        return page(request, "error.html", 401, title="Unauthorized", message="wrong token")
                    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                    target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
                    response = RedirectResponse(target, status_code=303)
                    response.set_cookie(COOKIE, _session_value(token), httponly=True, samesite="strict", path="/")
                    return response
                if not authorized(request):
                    message = "this viewer needs its token: open it once with ?token=TOKEN, or send Authorization: Bearer"
                    return page(request, "error.html", 401, title="Unauthorized", message=message)
            try:
                return handler(request)
            except _BadRequest as exc:
                return page(request, "error.html", 400, title="Bad request", message=str(exc))
            except TrajectoryNotFoundError as exc:
                return page(request, "error.html", 404, title="Not found", message=str(exc))
            except StoreError as exc:
                logger.warning("ui: %s", exc)
                return page(request, "error.html", 503, title="Store unavailable", message=str(exc))

        return endpoint

    def filters_from(request: Request) -> tuple[TrajectoryFilter, dict[str, str]]:
        q = request.query_params
        form = {k: q.get(k, "").strip() for k in ("verdict", "name", "session", "user", "since", "until", "min_quality", "q")}
        try:
            since = views.parse_day_or_time(form["since"]) if form["since"] else None
            until = views.parse_day_or_time(form["until"], end_of_day=True) if form["until"] else None
        except ValueError:
            raise _BadRequest("since/until must be ISO 8601 dates or times (e.g. 2026-01-31)") from None
        min_quality = None
        if form["min_quality"]:
            try:
                min_quality = float(form["min_quality"])
            except ValueError:
                raise _BadRequest("min quality must be a number within [0, 1]") from None
            if not 0.0 <= min_quality <= 1.0:
                raise _BadRequest("min quality must be within [0, 1]")
        if form["verdict"] and form["verdict"] not in VERDICTS:
            raise _BadRequest(f"verdict must be one of {', '.join(VERDICTS)}")
        f = TrajectoryFilter(
            name=form["name"] or None,
            session_id=form["session"] or None,
            user_id=form["user"] or None,
            verdict=form["verdict"] or None,
            min_quality=min_quality,
            since=since,
            until=until,
        )
        return f, form

    def list_page(request: Request) -> Response:
        f, form = filters_from(request)
        try:
            number = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            raise _BadRequest("page must be a number") from None
        kept = {k: v for k, v in form.items() if v}

        def link(n: int) -> str:
            return "/?" + urlencode({**kept, "page": str(n)})

        if form["q"]:
            try:
                hits = store.similar(form["q"], PAGE_SIZE, min_quality=f.min_quality, verdict=f.verdict)
            except ValueError as exc:  # e.g. text the embedder turns into a zero vector
                raise _BadRequest(f"cannot search for this text: {exc}") from None
            rows = [(h.trajectory, h.similarity) for h in hits if h.similarity >= DEFAULT_MIN_SIMILARITY]
            return page(
                request,
                "list.html",
                form=form,
                rows=rows,
                total=len(rows),
                number=1,
                pages=1,
                link=link,
                searching=True,
                min_similarity=DEFAULT_MIN_SIMILARITY,
            )
        total = store.count(f)
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(number, pages)
        ts = store.list(f, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        return page(
            request,
            "list.html",
            form=form,
            rows=[(t, None) for t in ts],
            total=total,
            number=number,
            pages=pages,
            link=link,
            searching=False,
            min_similarity=DEFAULT_MIN_SIMILARITY,
        )

    def find(ref: str) -> Trajectory:
        text = ref.strip().removeprefix("traj-")
        if text.isdigit() and int(text) < 1 << 64:
            return store.get(int(text))
        try:
            return store.get_by_uuid(UUID(ref.strip()))
        except ValueError:
            raise _BadRequest("not a trajectory id (expected traj-N, N or a uuid)") from None

    def trajectory_page(request: Request) -> Response:
        t = find(request.path_params["ref"])
        items, extra = views.recalled_items(t)
        keys = [i.key for i in items if i.key is not None]
        credit = store.memory_credit([*keys, BASE_KEY]) if keys else {}
        items = views.with_credit(items, credit)
        return page(
            request,
            "trajectory.html",
            t=t,
            rows=views.step_rows(t),
            parts=views.quality_parts(t),
            cause=views.root_cause_text(t),
            query=t.metadata.attributes.get(views.QUERY_ATTRIBUTE),
            recalled=items,
            recall_extra=extra,
            base_rate=base_rate(credit.get(BASE_KEY, MemoryCredit())),
            name=views.trajectory_name(t),
        )

    def overview_page(request: Request) -> Response:
        f, form = filters_from(request)
        ov = store.overview(f, buckets=24, top=10)
        return page(
            request,
            "overview.html",
            ov=ov,
            form=form,
            chart=time_chart(ov),
            verdict_bars=bars([(k, float(n), str(n)) for k, n in ov.by_verdict.items()], "verdict-"),
            cause_bars=bars([(k, float(n), str(n)) for k, n in ov.root_causes]),
            model_bars=bars(
                [
                    (m.model, float(m.input_tokens + m.output_tokens), f"{m.input_tokens} in / {m.output_tokens} out")
                    for m in ov.models
                ]
            ),
        )

    def lessons_page(request: Request) -> Response:
        lessons = store.key_lessons()
        credit = store.memory_credit([*(("lesson", k.id) for k in lessons), BASE_KEY])
        rows = [(k, credit.get(("lesson", k.id), MemoryCredit())) for k in lessons]
        return page(
            request,
            "lessons.html",
            lessons=rows,
            base=credit.get(BASE_KEY, MemoryCredit()),
            base_rate=base_rate(credit.get(BASE_KEY, MemoryCredit())),
            compressed=store.stats(top_actions=0).compressed,
        )

    routes = [
        Route("/", guarded(list_page)),
        Route("/trajectories/{ref}", guarded(trajectory_page)),
        Route("/overview", guarded(overview_page)),
        Route("/lessons", guarded(lessons_page)),
        Mount("/static", app=_guarded_static(StaticFiles(packages=[("trajectories._internal.ui", "static")]), authorized)),
    ]
    middleware = [Middleware(_SecurityHeaders)]
    if allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(routes=routes, middleware=middleware)


def _guarded_static(app: ASGIApp, authorized: Callable[[Request], bool]) -> ASGIApp:
    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not authorized(Request(scope)):
            await Response("unauthorized", status_code=401, media_type="text/plain")(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded
