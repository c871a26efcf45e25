"""The kiosk's request dependencies: the running gate, and the guard on duty."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Cookie, Depends, Request

from edge.guards import GuardError
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
        raise GuardError("请先登录（保安编号和 PIN 码）", "log in with your guard id and PIN first")
    return shift


GuardDep = Annotated[Shift, Depends(on_duty)]


def act(kiosk: Kiosk, action: Callable[[], T]) -> T:
    """Run a guard action on the station, one at a time with the camera loop."""
    with kiosk.lock:
        return action()


def lane_open(kiosk: KioskDep) -> None:
    """Refuse a new check while a fever case holds the lane (the drill stops screening)."""
    act(kiosk, kiosk.desk.refuse_while_held)


LaneOpen = Annotated[None, Depends(lane_open)]
