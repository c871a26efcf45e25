"""Guards log in (a shift opens), see their shift, hand over (it closes)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from edge.kiosk import forms
from edge.kiosk.deps import COOKIE, GuardDep, KioskDep, act
from edge.kiosk.schemas import GuardOnDuty, ShiftReport

router = APIRouter(prefix="/api")


@router.post("/login", response_model=GuardOnDuty)
def login(form: forms.Login, response: Response, kiosk: KioskDep) -> GuardOnDuty:
    """Open a shift: the PIN, then the guard's own temperature (a fever keeps the shift
    closed and is reported)."""

    def fit() -> float | None:
        return kiosk.desk.shift_check(form.guard_id, form.temp_c)

    shift = act(kiosk, lambda: kiosk.guards.log_in(form.guard_id, form.pin, fit))
    response.set_cookie(COOKIE, shift.token, httponly=True, samesite="strict")
    return GuardOnDuty(id=shift.guard_id, name=shift.guard_name)


@router.get("/shift", response_model=ShiftReport)
def shift_counts(guard: GuardDep, kiosk: KioskDep) -> ShiftReport:
    counts = act(kiosk, lambda: kiosk.guards.counts(guard))
    return ShiftReport(
        guard=guard.guard_id,
        name=guard.guard_name,
        started_ms=guard.started_ms,
        counts=counts,
    )


@router.post("/logout", response_model=ShiftReport)
def handover(guard: GuardDep, response: Response, kiosk: KioskDep) -> ShiftReport:
    ended = act(kiosk, lambda: kiosk.guards.log_out(guard.token))
    counts = act(kiosk, lambda: kiosk.guards.counts(ended))
    response.delete_cookie(COOKIE)
    return ShiftReport(
        guard=ended.guard_id,
        started_ms=ended.started_ms,
        ended_ms=ended.ended_ms,
        counts=counts,
    )
