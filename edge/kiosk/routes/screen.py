"""The gate page, its live events, heartbeat and health."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.templating import Jinja2Templates

from core.fever_drill import RETEST_METHODS
from core.four_checks import CATEGORIES, SYMPTOMS
from core.reasons import texts as reason_texts
from edge.desk import FEVER_ACTIONS
from edge.kiosk.deps import KioskDep
from edge.kiosk.schemas import Health

STATUS_EVERY_S = 2.0
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def page(request: Request, kiosk: KioskDep) -> HTMLResponse:
    policy = kiosk.station.policy
    return templates.TemplateResponse(
        request,
        "kiosk.html",
        {
            "gate": kiosk.station.bundle.gate,
            "config": {
                "clear_after_s": kiosk.clear_after_s,
                "reasons": reason_texts(),
                "fever_actions": FEVER_ACTIONS,
                "retest_methods": RETEST_METHODS,
                "timezone": kiosk.station.bundle.timezone,
                "volume": kiosk.volume,
                "voice": kiosk.voice.available() if kiosk.voice else [],
                "categories": CATEGORIES,
                "symptoms": {k: v for k, v in SYMPTOMS.items() if k in policy.symptom_questions},
                "escort_required": policy.visitor_escort_required,
            },
        },
    )


@router.get("/events", response_class=EventSourceResponse)
async def events(kiosk: KioskDep) -> AsyncIterator[ServerSentEvent]:
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


@router.get("/voice/{lang}/{key}.wav", response_class=FileResponse)
def voice(lang: str, key: str, kiosk: KioskDep) -> FileResponse:
    """A spoken prompt rendered on this device (edge.voice)."""
    path = kiosk.voice.files.get((lang, key)) if kiosk.voice else None
    if path is None:
        raise HTTPException(404)
    return FileResponse(path, media_type="audio/wav")


@router.post("/api/heartbeat", status_code=204)
def heartbeat(kiosk: KioskDep) -> None:
    """The page's script beats every few seconds; the browser's watchdog listens."""
    kiosk.page_seen = time.monotonic()


@router.get("/api/health", response_model=Health)
def health(kiosk: KioskDep) -> Health:
    """For the kiosk-browser service (and monitoring): is each part still working?"""
    return Health(camera_alive=kiosk.camera_alive(), page_alive=kiosk.page_alive())


@router.get("/api/state")
def state(kiosk: KioskDep, gatecheck_shift: Annotated[str | None, Cookie()] = None) -> dict[str, Any]:
    """Everything the page draws on load: the status bar, fever holds, who is on duty."""
    with kiosk.lock:
        shift = kiosk.guards.on_duty(gatecheck_shift) if gatecheck_shift else None
    return {
        "status": kiosk.status(),
        "holds": kiosk.holds(fresh=True),
        "guard": {"id": shift.guard_id, "name": shift.guard_name} if shift else None,
        "looked": kiosk.next_looked().model_dump(),
        "looked_default": kiosk.default_looked().model_dump(),
    }
