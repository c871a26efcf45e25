"""The gate screen: a local web page the device shows in Chromium's kiosk mode.

Everything it needs is served from here (no CDN: the gate works with no network at all).
Verdicts arrive live over Server-Sent Events; the guard's actions are JSON posts that
need the shift cookie set by a PIN login. The server binds to loopback by default: the
screen is attached to the device.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Cookie, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from core.reasons import texts as reason_texts
from edge import systemd
from edge.desk import FEVER_ACTIONS, ActionError
from edge.guards import GuardError
from edge.kiosk import forms
from edge.kiosk.runtime import Kiosk
from edge.store import StorageFault
from edge.tables.guards import Shift

HERE = Path(__file__).parent
COOKIE = "gatecheck_shift"
STATUS_EVERY_S = 2.0
T = TypeVar("T")


def _message(exc: RequestValidationError) -> str:
    """One line per bad field, in words a guard can act on."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"] if p not in ("body",))
        text = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {text}" if where else text)
    return "; ".join(lines)


def on_duty(request: Request, gatecheck_shift: Annotated[str | None, Cookie()] = None) -> Shift:
    """The guard whose shift cookie this screen holds (actions need one)."""
    kiosk: Kiosk = request.app.state.kiosk
    with kiosk.lock:
        shift = kiosk.guards.on_duty(gatecheck_shift) if gatecheck_shift else None
    if shift is None:
        raise HTTPException(401, "log in with your guard id and PIN first")
    return shift


Guard = Annotated[Shift, Depends(on_duty)]


async def _watchdog(kiosk: Kiosk, period_s: float) -> None:
    """Ping systemd while the camera loop turns and this event loop answers."""
    while True:
        if kiosk.camera_alive():
            systemd.notify("WATCHDOG=1")
        await asyncio.sleep(period_s)


def create_kiosk_app(kiosk: Kiosk) -> FastAPI:
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
    templates = Jinja2Templates(directory=HERE / "templates")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _message(exc)}, status_code=422)

    @app.exception_handler(ActionError)
    async def refused(request: Request, exc: ActionError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=409)

    @app.exception_handler(GuardError)
    async def denied(request: Request, exc: GuardError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=401)

    @app.exception_handler(StorageFault)
    async def unstored(request: Request, exc: StorageFault) -> JSONResponse:
        kiosk.storage_failed(exc)
        return JSONResponse({"error": f"{exc.text_zh} / {exc.text_en}", "code": exc.code}, status_code=503)

    @app.exception_handler(sqlite3.OperationalError)
    async def card_refused(request: Request, exc: sqlite3.OperationalError) -> JSONResponse:
        return await unstored(request, StorageFault(exc))  # guards, shifts, visitors: same card

    def act(action: Callable[[], T]) -> T:
        with kiosk.lock:
            return action()

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            "kiosk.html",
            {
                "gate": kiosk.station.bundle.gate,
                "config": {
                    "clear_after_s": kiosk.clear_after_s,
                    "reasons": reason_texts(),
                    "fever_actions": FEVER_ACTIONS,
                },
            },
        )

    @app.get("/events", response_class=EventSourceResponse)
    async def events() -> AsyncIterator[ServerSentEvent]:
        entry = kiosk.events.subscribe()
        _, queue = entry
        try:
            yield ServerSentEvent(event="status", data=await asyncio.to_thread(kiosk.status))
            yield ServerSentEvent(event="holds", data=await asyncio.to_thread(kiosk.holds))
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), STATUS_EVERY_S)
                except TimeoutError:
                    yield ServerSentEvent(event="status", data=await asyncio.to_thread(kiosk.status))
                    continue
                yield ServerSentEvent(event=event["event"], data=event["data"])
        finally:
            kiosk.events.unsubscribe(entry)

    @app.post("/api/heartbeat", status_code=204)
    def heartbeat() -> None:
        """The page's script beats every few seconds; the browser's watchdog listens."""
        kiosk.page_seen = time.monotonic()

    @app.get("/api/health")
    def health() -> dict[str, bool]:
        """For the kiosk-browser service (and monitoring): is each part still working?"""
        return {"camera_alive": kiosk.camera_alive(), "page_alive": kiosk.page_alive()}

    @app.get("/api/state")
    def state(gatecheck_shift: Annotated[str | None, Cookie()] = None) -> dict[str, Any]:
        with kiosk.lock:
            shift = kiosk.guards.on_duty(gatecheck_shift) if gatecheck_shift else None
        return {
            "status": kiosk.status(),
            "holds": kiosk.holds(),
            "guard": {"id": shift.guard_id, "name": shift.guard_name} if shift else None,
        }

    @app.post("/api/login")
    def login(form: forms.Login, response: Response) -> dict[str, Any]:
        shift = act(lambda: kiosk.guards.log_in(form.guard_id, form.pin))
        response.set_cookie(COOKIE, shift.token, httponly=True, samesite="strict")
        return {"id": shift.guard_id, "name": shift.guard_name}

    @app.get("/api/shift")
    def shift_counts(guard: Guard) -> dict[str, Any]:
        counts = act(lambda: kiosk.guards.counts(guard))
        return {"guard": guard.guard_id, "name": guard.guard_name, "started_ms": guard.started_ms,
                "counts": counts.__dict__}  # fmt: skip

    @app.post("/api/logout")
    def handover(guard: Guard, response: Response) -> dict[str, Any]:
        ended = act(lambda: kiosk.guards.log_out(guard.token))
        counts = act(lambda: kiosk.guards.counts(ended))
        response.delete_cookie(COOKIE)
        return {"guard": ended.guard_id, "started_ms": ended.started_ms, "ended_ms": ended.ended_ms,
                "counts": counts.__dict__}  # fmt: skip

    @app.post("/api/checks/{seq}/remeasure")
    def remeasure(seq: int, form: forms.Remeasure, guard: Guard) -> dict[str, Any]:
        return kiosk.announce(act(lambda: kiosk.desk.remeasure(guard, seq, form)))

    @app.post("/api/checks/{seq}/override")
    def override(seq: int, form: forms.Override, guard: Guard) -> dict[str, Any]:
        return kiosk.announce(act(lambda: kiosk.desk.override(guard, seq, form)))

    @app.post("/api/checks/{seq}/confirm")
    def confirm(seq: int, form: forms.Confirm, guard: Guard) -> dict[str, Any]:
        return kiosk.announce(act(lambda: kiosk.desk.confirm_colour(guard, seq, form.colour)))

    @app.post("/api/manual")
    def manual(form: forms.Identity, guard: Guard) -> dict[str, Any]:
        return kiosk.announce(act(lambda: kiosk.desk.manual_entry(guard, form)))

    @app.post("/api/refusals")
    def refusal(form: forms.Refusal, guard: Guard) -> dict[str, Any]:
        return kiosk.announce(act(lambda: kiosk.desk.refusal(guard, form)))

    @app.post("/api/visitors")
    def visitor(form: forms.Visitor, guard: Guard) -> dict[str, Any]:
        outcome, entry = act(lambda: kiosk.desk.register_visitor(guard, form))
        return {**kiosk.announce(outcome), "visitor_id": entry}

    @app.get("/api/visitors")
    def visitors(guard: Guard, inside: bool = True) -> list[dict[str, Any]]:
        return [v.__dict__ for v in act(lambda: kiosk.desk.visitors(inside_only=inside))]

    @app.post("/api/visitors/{visitor_id}/leave")
    def visitor_left(visitor_id: int, guard: Guard) -> dict[str, Any]:
        return act(lambda: kiosk.desk.visitor_left(guard, visitor_id)).__dict__

    @app.post("/api/fevers/{seq}/ack")
    def fever_ack(seq: int, form: forms.FeverAck, guard: Guard) -> list[dict[str, Any]]:
        act(lambda: kiosk.desk.acknowledge_fever(guard, seq, form))
        holds = kiosk.holds()
        kiosk.events.publish({"event": "holds", "data": holds})
        return holds

    return app
