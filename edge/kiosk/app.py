"""The gate screen: a local web page the device shows in Chromium's kiosk mode.

Everything it needs is served from here (no CDN: the gate works with no network at all).
Verdicts arrive live over Server-Sent Events; the guard's actions are JSON posts that
need the shift cookie set by a PIN login. The server binds to loopback by default: the
screen is attached to the device.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from edge import systemd
from edge.desk import ActionError
from edge.guards import GuardError
from edge.kiosk.errors import language, validation_message
from edge.kiosk.routes import actions, screen, shifts
from edge.kiosk.runtime import Kiosk
from edge.store import StorageFault

HERE = Path(__file__).parent
HTTP_TEXTS = {404: ("未找到", "not found"), 405: ("不支持此操作", "not allowed here")}


async def _watchdog(kiosk: Kiosk, period_s: float) -> None:
    """Ping systemd while the camera loop turns and this event loop answers."""
    while True:
        if kiosk.camera_alive():
            systemd.notify("WATCHDOG=1")
        await asyncio.sleep(period_s)


def create_kiosk_app(kiosk: Kiosk) -> FastAPI:
    """The gate page's app over a running gate: routers for the screen, the guards' shifts
    and their actions (``edge.kiosk.routes``), every error a JSON ``{"error": …}``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        period = systemd.watchdog_period_s()
        task = asyncio.create_task(_watchdog(kiosk, period)) if period else None
        systemd.notify("READY=1")
        yield
        systemd.notify("STOPPING=1")
        if task is not None:
            task.cancel()

    app = FastAPI(title="gatecheck kiosk", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.kiosk = kiosk
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in (screen.router, shifts.router, actions.router):
        app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": validation_message(exc, language(request))}, status_code=422)

    @app.exception_handler(ActionError)
    async def refused(request: Request, exc: ActionError) -> JSONResponse:
        return JSONResponse({"error": exc.text(language(request))}, status_code=409)

    @app.exception_handler(GuardError)
    async def denied(request: Request, exc: GuardError) -> JSONResponse:
        return JSONResponse({"error": exc.text(language(request))}, status_code=401)

    @app.exception_handler(StorageFault)
    async def unstored(request: Request, exc: StorageFault) -> JSONResponse:
        kiosk.storage_failed(exc)
        text = exc.text_en if language(request) == "en" else exc.text_zh
        return JSONResponse({"error": text, "code": exc.code}, status_code=503)

    @app.exception_handler(sqlite3.OperationalError)
    async def card_refused(request: Request, exc: sqlite3.OperationalError) -> JSONResponse:
        return await unstored(request, StorageFault(exc))  # guards, shifts, visitors: same card

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        texts = HTTP_TEXTS.get(exc.status_code, ("请求失败", "request failed"))
        return JSONResponse({"error": texts[language(request) == "en"]}, status_code=exc.status_code)

    return app
