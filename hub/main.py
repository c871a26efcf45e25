"""The hub application factory: no import-time globals, so tests build isolated hubs."""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from core import __version__
from core.protocol import HEADER_SERVER_TIME
from hub import rollups
from hub.alerts import escalate_overdue, post_alerts
from hub.api.deps import KnownDevices, LoginRequired, UserDep, language
from hub.api.routes import admin, day_reports, device, ingest, pages, reports
from hub.core.config import HubSettings
from hub.core.db import SchemaMismatch, make_engine, refresh_statistics, require_schema
from hub.device_keys import expire_nonces
from hub.metrics import HubMetrics
from hub.people_first import CountPeople, People, lower_priority
from hub.records import RegistryError, UnknownRecord
from hub.throttle import LoginThrottle

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
     b"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]  # fmt: skip
"""Every page loads only from the hub, none may be framed, no address leaks elsewhere."""
HSTS = (b"strict-transport-security", b"max-age=31536000")


class ResponseHeaders:
    """Headers on every answer: the hub's clock (ms), so devices without an RTC can sign
    (docs/protocol.md), and the browser security headers. Plain ASGI: it runs on every
    device request, so it stays cheap."""

    def __init__(self, app: ASGIApp, https: bool = False) -> None:
        self.app = app
        self.fixed = [*SECURITY_HEADERS, HSTS] if https else SECURITY_HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((HEADER_SERVER_TIME.lower().encode(), str(int(time.time() * 1000)).encode()))
                headers.extend(self.fixed)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)


class RefuseNul:
    """A NUL byte in a request's path or query is refused (422) before any route sees it:
    no id or date contains one, and PostgreSQL cannot even compare text holding it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]
        ):
            refusal = JSONResponse({"detail": "请求中含有 NUL 字符 / NUL byte in the request"}, 422)
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _escalate_forever(engine: Engine, settings: HubSettings) -> None:
    """Every ``escalate_every_s``: alerts past their reporting deadline are escalated and
    the webhook hears of them again (each worker runs this; each alert escalates once)."""
    while True:
        await asyncio.sleep(settings.escalate_every_s)
        try:
            now_ms = int(time.time() * 1000)
            raised = await asyncio.to_thread(escalate_overdue, engine, settings, now_ms)
            if raised and settings.alert_webhook_url:
                await asyncio.to_thread(post_alerts, settings.alert_webhook_url, raised)
        except SQLAlchemyError:
            logger.exception("looking for overdue alerts failed; trying again next round")


async def _fold_forever(engine: Engine, settings: HubSettings) -> None:
    """Every ``rollup_every_s``: count changes move into the region rollups (one worker at
    a time folds; the others find the lock taken and wait for the next round)."""
    while True:
        await asyncio.sleep(settings.rollup_every_s)
        try:
            await asyncio.to_thread(rollups.fold, engine)
        except SQLAlchemyError:
            logger.exception("folding the region rollups failed; trying again next round")


async def _expire_nonces_forever(engine: Engine) -> None:
    """Every minute: the nonces past the replay window are forgotten (hub.device_keys)."""
    while True:
        await asyncio.sleep(60)
        try:
            await asyncio.to_thread(expire_nonces, engine, int(time.time() * 1000))
        except SQLAlchemyError:
            logger.exception("forgetting old nonces failed; trying again in a minute")


async def _analyse_forever(engine: Engine) -> None:
    """Every hour: fresh planner statistics for SQLite (hub.core.db.refresh_statistics)."""
    while True:
        await asyncio.sleep(3600)
        try:
            await asyncio.to_thread(refresh_statistics, engine)
        except SQLAlchemyError:
            logger.exception("refreshing the database statistics failed; trying again in an hour")


def create_app(settings: HubSettings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build a hub serving ``settings.database_url`` (or the given engine)."""
    settings = settings or HubSettings()
    engine = engine or make_engine(settings.database_url, settings.db_connections)
    require_schema(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in AnyIO's worker threads (40 by default): together with the
        # uploads' own lane as many as there are pooled connections, so a burst queues in
        # the event loop instead of as threads fighting over the GIL and the pool.
        to_thread.current_default_thread_limiter().total_tokens = the_rest
        # What is built by now lives as long as the process: frozen out of the collector's
        # reach, a full collection scans only what requests made. Unfrozen, each took
        # ~135 ms holding the GIL every ~15 s under load, the hub's slowest moments
        # (bench/fleet.py at 60 requests/s: p99 181 -> 108 ms; full collection ~7 ms).
        gc.freeze()
        tasks = [
            asyncio.create_task(_escalate_forever(engine, settings)),
            asyncio.create_task(_fold_forever(engine, settings)),
            asyncio.create_task(_analyse_forever(engine)),
            asyncio.create_task(_expire_nonces_forever(engine)),
        ]
        yield
        for task in tasks:
            task.cancel()
        # The requests are done (or given up after the graceful stop's 30 s): never
        # block the event loop on a thread stuck in the database.
        app.state.upload_threads.shutdown(wait=False, cancel_futures=True)

    # The OpenAPI document and its viewer are behind the login like every other page.
    app = FastAPI(
        title="gatecheck hub", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
        lifespan=lifespan,
    )  # fmt: skip
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = HubMetrics()
    app.state.throttle = LoginThrottle()
    app.state.known_devices = KnownDevices()
    app.state.people = People()
    # Device uploads get half the connections as threads of their own, at a lower CPU
    # priority (hub.people_first), the people's pages and the API the rest: a fleet
    # catching up never makes a manager's page wait behind its queue (an agent retries
    # unseen; a person is waiting), nor the reverse.
    uploads = max(1, settings.db_connections // 2)
    the_rest = max(1, settings.db_connections - uploads)
    app.state.upload_threads = ThreadPoolExecutor(uploads, "upload", initializer=lower_priority)
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(ingest.router)
    app.include_router(device.router)
    app.include_router(reports.router)
    app.include_router(pages.router)
    app.include_router(day_reports.router)
    app.include_router(admin.router)

    @app.exception_handler(RegistryError)
    async def not_done(request: Request, exc: RegistryError) -> Response:
        status = 404 if isinstance(exc, UnknownRecord) else 422
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """A page a person asked for that is not there (or not theirs): a page in their
        language with the way back; tools and devices keep the JSON answer."""
        if exc.status_code == 404 and pages.wants_page(request):
            return pages.not_found_page(request, await language(request))
        return await http_exception_handler(request, exc)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "log in first"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    def described() -> dict[str, Any]:
        """FastAPI's document (made once) plus the models of bodies that routes read raw
        (device uploads)."""
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = FastAPI.openapi(app)
        for name, schema in (("BatchIn", ingest.BATCH_SCHEMA), ("VisitorsIn", ingest.VISITORS_SCHEMA)):
            body = dict(schema)
            spec["components"]["schemas"].update({**body.pop("$defs", {}), name: body})
        return spec

    app.openapi = described  # type: ignore[method-assign]

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi(user: UserDep) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(user: UserDep) -> FileResponse:
        """Swagger UI from files the hub serves itself (swagger-ui-bundle), no CDN."""
        return FileResponse(STATIC / "docs.html")

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus, with ``Authorization: Bearer <GATECHECK_HUB_METRICS_TOKEN>``."""
        token = settings.metrics_token
        given = request.headers.get("authorization", "")
        if not token or not hmac.compare_digest(given, f"Bearer {token}"):
            return JSONResponse(
                {"detail": "metrics need the bearer token (GATECHECK_HUB_METRICS_TOKEN)"}, 401
            )
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(CountPeople, people=app.state.people)
    app.add_middleware(RefuseNul)
    app.add_middleware(ResponseHeaders, https=settings.https)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness: this process answers (a load balancer restarts it when not)."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        """Readiness: the database answers and is at this software's schema (a load
        balancer sends no traffic here otherwise)."""
        try:
            require_schema(engine)
        except (SchemaMismatch, SQLAlchemyError) as exc:
            return JSONResponse({"status": "not ready", "detail": str(exc)[:300]}, status_code=503)
        return JSONResponse({"status": "ready"})

    return app
