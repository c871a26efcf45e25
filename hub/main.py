"""The hub application factory: no import-time globals, so tests build isolated hubs."""

from __future__ import annotations

import hmac
import logging
import secrets
import time

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatecheck import __version__
from hub.api.deps import LoginRequired, UserDep
from hub.api.routes import admin, device, ingest, pages, reports
from hub.core.config import HubSettings
from hub.core.db import create_schema, make_engine
from hub.metrics import HubMetrics
from provisioning.errors import ProvisioningError, UnknownRecord
from sync.protocol import HEADER_SERVER_TIME

logger = logging.getLogger(__name__)


class ServerTimeHeader:
    """Every answer carries the hub's clock (ms), so devices without an RTC can sign
    (docs/protocol.md). Plain ASGI: it runs on every device request, so it stays cheap."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((HEADER_SERVER_TIME.lower().encode(), str(int(time.time() * 1000)).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)


def create_app(settings: HubSettings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build a hub serving ``settings.database_url`` (or the given engine)."""
    settings = settings or HubSettings()
    engine = engine or make_engine(settings.database_url)
    create_schema(engine)
    # The OpenAPI document and its viewer are behind the login like every other page.
    app = FastAPI(title="gatecheck hub", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = HubMetrics()
    secret = settings.secret_key or secrets.token_urlsafe(32)
    if not settings.secret_key:
        logger.warning("GATECHECK_HUB_SECRET_KEY is not set: sessions end when the hub restarts")
    app.add_middleware(SessionMiddleware, secret_key=secret, max_age=12 * 3600, same_site="lax")
    app.include_router(ingest.router)
    app.include_router(device.router)
    app.include_router(reports.router)
    app.include_router(pages.router)
    app.include_router(admin.router)

    @app.exception_handler(ProvisioningError)
    async def not_done(request: Request, exc: ProvisioningError) -> Response:
        status = 404 if isinstance(exc, UnknownRecord) else 422
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "log in first"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi(user: UserDep) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(user: UserDep) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/api/v1/openapi.json", title="gatecheck hub API")

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

    app.add_middleware(ServerTimeHeader)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
