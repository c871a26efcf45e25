"""The guard's actions — each recorded as a new check with the guard's id (edge.desk)."""

from __future__ import annotations

from fastapi import APIRouter

from edge.desk import Hold
from edge.kiosk import forms
from edge.kiosk.deps import GuardDep, KioskDep, LaneOpen, act
from edge.kiosk.schemas import ShownCheck
from edge.tables.visitors import VisitorEntry

router = APIRouter(prefix="/api")


@router.post("/checks/{seq}/remeasure", response_model=ShownCheck)
def remeasure(seq: int, _: LaneOpen, form: forms.Remeasure, guard: GuardDep, kiosk: KioskDep) -> ShownCheck:
    return kiosk.announce(act(kiosk, lambda: kiosk.desk.remeasure(guard, seq, form)))


@router.post("/checks/{seq}/override", response_model=ShownCheck)
def override(seq: int, _: LaneOpen, form: forms.Override, guard: GuardDep, kiosk: KioskDep) -> ShownCheck:
    return kiosk.announce(act(kiosk, lambda: kiosk.desk.override(guard, seq, form)))


@router.post("/checks/{seq}/confirm", response_model=ShownCheck)
def confirm(seq: int, _: LaneOpen, form: forms.Confirm, guard: GuardDep, kiosk: KioskDep) -> ShownCheck:
    return kiosk.announce(act(kiosk, lambda: kiosk.desk.confirm_colour(guard, seq, form.colour)))


@router.post("/manual", response_model=ShownCheck)
def manual(_: LaneOpen, form: forms.Identity, guard: GuardDep, kiosk: KioskDep) -> ShownCheck:
    """Someone checked by hand, with the guard's taps for them."""
    return kiosk.announce(act(kiosk, lambda: kiosk.manual_entry(guard, form)))


@router.post("/refusals", response_model=ShownCheck)
def refusal(_: LaneOpen, form: forms.Refusal, guard: GuardDep, kiosk: KioskDep) -> ShownCheck:
    return kiosk.announce(act(kiosk, lambda: kiosk.desk.refusal(guard, form)))


@router.post("/checks/{seq}/register", response_model=VisitorEntry)
def register(seq: int, form: forms.Visitor, guard: GuardDep, kiosk: KioskDep) -> VisitorEntry:
    """The visitor of check ``seq`` (which admitted them) into the visitor book."""
    return act(kiosk, lambda: kiosk.desk.register_visitor(guard, seq, form))


@router.get("/visitors", response_model=list[VisitorEntry])
def visitors(guard: GuardDep, kiosk: KioskDep, inside: bool = True) -> list[VisitorEntry]:
    return act(kiosk, lambda: kiosk.desk.visitors(inside_only=inside))


@router.post("/visitors/{visitor_id}/leave", response_model=VisitorEntry)
def visitor_left(visitor_id: int, guard: GuardDep, kiosk: KioskDep) -> VisitorEntry:
    entry = act(kiosk, lambda: kiosk.desk.visitor_left(guard, visitor_id))
    kiosk.publish_status()  # the exit record waits to be sent
    return entry


@router.post("/holds/{seq}/retest", response_model=ShownCheck)
def retest(seq: int, form: forms.Retest, guard: GuardDep, kiosk: KioskDep) -> ShownCheck:
    """The re-test of a first high reading holding the lane (the fever drill)."""
    return kiosk.announce(act(kiosk, lambda: kiosk.desk.retest(guard, seq, form)))


@router.post("/holds/{seq}/release", response_model=list[Hold])
def release(seq: int, form: forms.Release, guard: GuardDep, kiosk: KioskDep) -> list[Hold]:
    """A first high reading that will not be re-tested: the lane opens, the record says why."""
    kiosk.announce(act(kiosk, lambda: kiosk.desk.release(guard, seq, form)))
    return [Hold(**hold) for hold in kiosk.holds()]


@router.post("/fevers/{seq}/ack", response_model=list[Hold])
def fever_ack(seq: int, form: forms.FeverAck, guard: GuardDep, kiosk: KioskDep) -> list[Hold]:
    """A confirmed fever's disposition (the people present are recorded with it)."""
    kiosk.announce(act(kiosk, lambda: kiosk.desk.acknowledge_fever(guard, seq, form)))
    return [Hold(**hold) for hold in kiosk.holds()]


@router.post("/looked", response_model=forms.NextPerson)
def looked(form: forms.NextPerson, guard: GuardDep, kiosk: KioskDep) -> forms.NextPerson:
    """The guard's taps for the next person: the itinerary card and the mask they see, who
    they are, their answers to the health questions, or that they are leaving."""
    act(kiosk, lambda: kiosk.look(form))
    return form
