"""The hub application factory: no import-time globals, so tests build isolated hubs."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from gatecheck import __version__
from hub.api.routes import dashboard, ingest, reports
from hub.core.config import HubSettings
from hub.core.db import create_schema, make_engine


def create_app(settings: HubSettings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build a hub serving ``settings.database_url`` (or the given engine)."""
    settings = settings or HubSettings()
    engine = engine or make_engine(settings.database_url)
    create_schema(engine)
    app = FastAPI(title="gatecheck hub", version=__version__)
    app.state.settings = settings
    app.state.engine = engine
    app.include_router(ingest.router)
    app.include_router(reports.router)
    app.include_router(dashboard.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
