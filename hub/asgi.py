"""The hub as an ASGI application factory, for servers that start several worker
processes (``gatecheck hub serve --workers N``): each worker builds its own app from the
``GATECHECK_HUB_*`` settings in its environment. No worker migrates the database."""

from __future__ import annotations

from fastapi import FastAPI

from hub.core.config import HubSettings
from hub.main import create_app


def app() -> FastAPI:
    return create_app(HubSettings())
