"""The hub application factory: no import-time globals, so tests build isolated hubs."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine

from gatecheck import __version__
from hub.api.routes import dashboard, device, ingest, reports
from hub.core.config import HubSettings
from hub.core.db import create_schema, make_engine
from sync.protocol import HEADER_SERVER_TIME


def create_app(settings: HubSettings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build a hub serving ``settings.database_url`` (or the given engine)."""
    settings = settings or HubSettings()
    engine = engine or make_engine(settings.database_url)
    create_schema(engine)
    app = FastAPI(title="gatecheck hub", version=__version__)
    app.state.settings = settings
    app.state.engine = engine
    app.include_router(ingest.router)
    app.include_router(device.router)
    app.include_router(reports.router)
    app.include_router(dashboard.router)

    @app.middleware("http")
    async def server_time(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # Devices without an RTC learn the hub's time from any answer (docs/protocol.md).
        response = await call_next(request)
        response.headers[HEADER_SERVER_TIME] = str(int(time.time() * 1000))
        return response

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
