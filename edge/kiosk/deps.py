"""The kiosk's request dependencies: the running gate, and the guard on duty."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Cookie, Depends, HTTPException, Request

from edge.kiosk.runtime import Kiosk
from edge.tables.guards import Shift

COOKIE = "gatecheck_shift"
T = TypeVar("T")


def get_kiosk(request: Request) -> Kiosk:
    kiosk: Kiosk = request.app.state.kiosk
    return kiosk


KioskDep = Annotated[Kiosk, Depends(get_kiosk)]


def on_duty(kiosk: KioskDep, gatecheck_shift: Annotated[str | None, Cookie()] = None) -> Shift:
    """The guard whose shift cookie this screen holds (actions need one)."""
    with kiosk.lock:
        shift = kiosk.guards.on_duty(gatecheck_shift) if gatecheck_shift else None
    if shift is None:
        raise HTTPException(401, "请先登录 / log in with your guard id and PIN first")
    return shift


GuardDep = Annotated[Shift, Depends(on_duty)]


def act(kiosk: Kiosk, action: Callable[[], T]) -> T:
    """Run a guard action on the station, one at a time with the camera loop."""
    with kiosk.lock:
        return action()
