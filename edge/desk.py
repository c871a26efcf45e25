"""The guard's actions at the gate, each recorded as a check with the guard's id.

A check is never edited once written (it may already be at the hub): an action appends a
new check that names the earlier one in ``refers_to``. So a re-measure is a second check
of the same person, an override is a check with the guard's verdict and stated reason
(flag ``override``), a confirmed colour is a check decided on the colour the guard saw.
The hub counts decisions at the gate; ``holders`` counts people. Rules the guard cannot
bend: temperature rules apply to every action, and a confirmed fever is never overridden
to admit — it is acknowledged (what was done) and the person measured again.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal, get_args

from pydantic import BaseModel

from core.fever_drill import DISPOSITIONS, LEFT_UNTESTED, Disposition
from core.four_checks import NOT_LOOKED, Looked, flag_of
from core.messages import LocalisedError
from edge import clock
from edge.codes import Colour
from edge.decode import Code
from edge.kiosk import forms
from edge.policy import Decision, confirmed_colour, decide, temperature_decision
from edge.station import GateStation, Outcome
from edge.tables.fevers import FeverTable
from edge.tables.guards import Shift
from edge.tables.visitors import VisitorEntry, VisitorTable
from edge.thermometer import Reading, Thermometer

VISITOR = flag_of("person", "visitor")
"""The flag of a visitor's check: what opens the visitor book (and what the hub counts)."""
VISITOR_FORM_WINDOW_MS = 15 * 60_000
"""A visitor's registration follows their check within this (else: checked again)."""
FEVER_ACTIONS = {key: DISPOSITIONS[key] for key in get_args(Disposition)}
"""The dispositions a guard picks from for a confirmed fever (left_untested is its own button)."""


class ActionError(LocalisedError):
    """An action that does not apply to that check (the message says why)."""


class Hold(BaseModel):
    """An open fever case as the gate screen shows it (see ``edge.tables.fevers``)."""

    seq: int
    stage: Literal["retest", "fever"]
    temp_c: float | None
    wall_ms: int
    opens_in_s: int
    """Seconds until the re-test counts (0: now); 0 for a confirmed fever."""
    closes_in_s: int | None
    """Seconds until the re-test window closes; None for a confirmed fever."""


class GuardDesk:
    """Guard actions on one gate station."""

    def __init__(self, station: GateStation, thermometer: Thermometer) -> None:
        self.station = station
        self.thermometer = thermometer
        self.visitor_book = VisitorTable(station.store)
        self.fevers = FeverTable(station.store)

    def _reading(self, typed: float | None) -> Reading:
        """The typed temperature, else the sensor's. A sensor that gives none is the same
        rule as at the camera (the guard measures by hand) — here the guard is asked to
        type it, since a re-measure or a visitor without a temperature means nothing."""
        if typed is not None:
            return Reading(typed, "manual")
        try:
            return self.thermometer.read()
        except Exception as exc:  # any driver failure; the status bar shows which
            raise ActionError(
                "测温仪无读数，请手工测温并输入体温",
                "The thermometer gave no reading: measure by hand and type the temperature",
            ) from exc

    def shift_check(self, guard_id: str, temp_c: float | None) -> float | None:
        """A guard's own temperature before their shift (000:19, 002:33): normal — kept with
        the shift, which starts; at or above the staff threshold — recorded as a check (a
        fever: sent ahead and alerted) and the shift does not start."""
        policy = self.station.policy
        if temp_c is None:
            if policy.shift_temperature_required:
                raise ActionError("请先输入本人体温再上岗", "type your own temperature to start the shift")
            return None
        if temp_c >= policy.threshold_for("staff"):
            staff = (flag_of("person", "staff"),)
            decision = Decision("deny", "staff_fever", staff)
            self.station.write(decision, Reading(temp_c, "manual"), None, guard_id=guard_id)
            raise ActionError(
                f"体温 {temp_c:.1f} °C，不能上岗，已上报，请到临时观察点",
                f"temperature {temp_c:.1f} °C: the shift cannot start; it has been reported",
            )
        return temp_c

    def _outcome(self, seq: int) -> Outcome:
        outcome = self.station.outcome(seq)
        if outcome is None:
            raise ActionError(
                f"第 {seq} 条记录已不在本屏幕，请重新检查此人",
                f"check #{seq} is no longer on this screen: check the person again",
            )
        return outcome

    def remeasure(self, shift: Shift, seq: int, form: forms.Remeasure) -> Outcome:
        """Measure again the person of check ``seq`` (same code, new reading)."""
        earlier = self._outcome(seq)
        if earlier.decision.verdict != "remeasure" and earlier.decision.reason != "no_temperature":
            raise ActionError(f"第 {seq} 条记录无需复测", f"check #{seq} did not ask for a new measurement")
        return self.station.record(earlier.code, self._reading(form.temp_c), shift.guard_id, refers_to=seq)

    def override(self, shift: Shift, seq: int, form: forms.Override) -> Outcome:
        """The guard's own verdict on check ``seq``, with the reason they give."""
        earlier = self._outcome(seq)
        if earlier.decision.reason == "fever" and form.verdict == "admit":
            raise ActionError(
                "体温异常不能人工放行：请先处置",
                "a confirmed fever cannot be admitted by override: record what was done first",
            )
        decision = Decision(form.verdict, "override", ("override", *earlier.decision.flags))
        return self.station.write(
            decision, earlier.reading, earlier.holder, earlier.code, earlier.verification,
            guard_id=shift.guard_id, refers_to=seq, note=form.reason,
        )  # fmt: skip

    def confirm_colour(self, shift: Shift, seq: int, colour: Colour) -> Outcome:
        """The colour the guard read off a code the gate cannot verify offline."""
        earlier = self._outcome(seq)
        if earlier.decision.reason != "code_unverified":
            raise ActionError(
                f"第 {seq} 条记录不是待确认颜色的健康码",
                f"check #{seq} is not a code waiting for the guard's confirmation",
            )
        decision = confirmed_colour(colour, self.station.policy)
        flags = (*earlier.decision.flags, *decision.flags, *camera_agrees(earlier, colour))
        decision = Decision(decision.verdict, decision.reason, flags)
        return self.station.write(
            decision, earlier.reading, earlier.holder, earlier.code, earlier.verification,
            guard_id=shift.guard_id, refers_to=seq,
        )  # fmt: skip

    def manual_entry(
        self, shift: Shift, form: forms.Identity, looked: Looked = NOT_LOOKED, leaving: bool = False
    ) -> Outcome:
        """Someone without a phone: a code typed from paper goes through the normal
        verification; an ID checked by the guard stands for the code — the temperature and
        what the guard saw (``looked``) still decide. ``leaving``: recorded as an exit."""
        typed = Code(form.code.encode(), form.code, "utf-8", ((0, 0),) * 4, "typed") if form.code else None
        if leaving:
            if typed is not None:
                return self.station.record_exit(typed, shift.guard_id)
            holder = self.station.holder_of(form.identifier())
            return self.station.write(Decision("admit", "exit"), None, holder, guard_id=shift.guard_id)
        reading = self._reading(form.temp_c)
        if typed is not None:
            return self.station.record(typed, reading, shift.guard_id, looked=looked)
        holder = self.station.holder_of(form.identifier())
        presented = replace(self.station.presentation(None, reading, holder), looked=self.station.who(looked))
        checked = Decision("admit", "id_checked", ("manual_entry",))
        decision = decide(presented, self.station.policy, identity=checked)
        return self.station.write(decision, reading, holder, guard_id=shift.guard_id)

    def register_visitor(self, shift: Shift, seq: int, form: forms.Visitor) -> VisitorEntry:
        """Open a visitor's entry in the book for check ``seq`` — the visitor's own check
        (code, temperature, itinerary card, mask, health questions), which must have
        admitted them: the form opens only after the checks (002:21)."""
        screened = self.visitor_book.screened(seq)
        if screened is None or screened.verdict != "admit" or VISITOR not in screened.flags:
            raise ActionError(
                f"第 {seq} 条记录不是已通过检查的访客：请先检查访客（扫码、测温、行程卡、口罩、健康问题）",
                f"check #{seq} is not a visitor who passed the checks: check the visitor first "
                "(code, temperature, itinerary card, mask, health questions)",
            )
        if screened.visitor_id is not None:
            raise ActionError(
                f"第 {seq} 条记录的访客已登记（访客 {screened.visitor_id}）",
                f"the visitor of check #{seq} is registered already (visitor #{screened.visitor_id})",
            )
        now_ms = clock.now().wall_ms
        if now_ms - screened.wall_ms > VISITOR_FORM_WINDOW_MS:
            minutes = VISITOR_FORM_WINDOW_MS // 60_000
            raise ActionError(
                f"第 {seq} 条检查已超过 {minutes} 分钟，请重新检查访客",
                f"check #{seq} is more than {minutes} minutes old: check the visitor again",
            )
        if self.station.policy.visitor_escort_required and not form.escort:
            raise ActionError("本场所要求填写陪同人", "this site requires the visitor's escort")
        visitor_id = self.visitor_book.open(
            seq, form.name, form.phone, form.host, form.purpose, form.escort, shift.guard_id, now_ms
        )
        return self.visitors(visitor_id=visitor_id)[0]

    def visitor_left(self, shift: Shift, visitor_id: int) -> VisitorEntry:
        """Close a visitor's entry (销号), with an exit record for the hub's count of who
        left — in one transaction, so neither is kept without the other."""
        entry = self.visitors(visitor_id=visitor_id)
        gone = ActionError(f"访客 {visitor_id} 不在场内", f"visitor #{visitor_id} is not in the building")
        if not entry or entry[0].left_ms is not None:
            raise gone
        holder = self.station.store.holder_at(entry[0].check_seq)
        now_ms = clock.now().wall_ms

        def close(_: int) -> None:
            if not self.visitor_book.close(visitor_id, shift.guard_id, now_ms):
                raise gone  # closed meanwhile: the exit record is not kept either

        leaving = Decision("admit", "exit", (VISITOR,))
        self.station.write(
            leaving, None, holder, guard_id=shift.guard_id, refers_to=entry[0].check_seq, also=close
        )
        return self.visitors(visitor_id=visitor_id)[0]

    def visitors(self, *, inside_only: bool = False, visitor_id: int | None = None) -> list[VisitorEntry]:
        """The visitor book, newest first (the phone number stays in the database)."""
        return self.visitor_book.entries(inside_only=inside_only, visitor_id=visitor_id)

    def refusal(self, shift: Shift, form: forms.Refusal) -> Outcome:
        """Someone refused to be checked: denied, and reported at once (priority lane)."""
        return self.station.write(
            Decision("deny", "refused"), None, None, guard_id=shift.guard_id, note=form.note
        )

    def holds(self) -> list[Hold]:
        """The fever cases holding the lane, oldest first: nobody else gets a verdict
        until a guard has acted on each (re-tested, released, or recorded the disposition)."""
        now = clock.now()
        opens, closes = self.station.policy.retest_window_s()
        holds = []
        for case in self.fevers.open_cases(now.boot_id, now.mono_ms - closes * 1000):
            age_s = (now.mono_ms - case.mono_ms) / 1000
            retest = case.stage == "retest"
            holds.append(
                Hold(
                    seq=case.seq,
                    stage=case.stage,
                    temp_c=case.temp_c,
                    wall_ms=case.wall_ms,
                    opens_in_s=max(0, math.ceil(opens - age_s)) if retest else 0,
                    closes_in_s=max(0, int(closes - age_s)) if retest else None,
                )
            )
        return holds

    def _hold(self, seq: int, stage: str) -> Hold:
        for hold in self.holds():
            if hold.seq == seq and hold.stage == stage:
                return hold
        if stage == "retest":
            raise ActionError(
                f"第 {seq} 条记录不是待复测的体温偏高",
                f"check #{seq} is not a high reading waiting for its re-test",
            )
        raise ActionError(
            f"第 {seq} 条记录不是待处置的体温异常", f"check #{seq} is not a fever waiting for its disposition"
        )

    def retest(self, shift: Shift, seq: int, form: forms.Retest) -> Outcome:
        """The drill's re-test of a first high reading, by the method the guard names: a
        high reading inside the window confirms the fever; before it opens, nothing is
        stored and the guard is told how long to wait."""
        hold = self._hold(seq, "retest")
        if hold.opens_in_s > 0:
            minutes, seconds = divmod(hold.opens_in_s, 60)
            raise ActionError(
                f"请等待 {minutes}:{seconds:02d} 后复测", f"re-test in {minutes}:{seconds:02d}, not before"
            )
        reading = self._reading(form.temp_c)
        method = (f"retest_{form.method}",)
        earlier = self.station.outcome(seq)
        if earlier is not None:
            return self.station.record(earlier.code, reading, shift.guard_id, refers_to=seq, flags=method)
        # Restarted since the first reading: the code is gone, the person is its pseudonym.
        holder = self.station.store.holder_at(seq)
        presentation = self.station.presentation(None, reading, holder, refers_to=seq)
        decision = temperature_decision(presentation, self.station.policy) or Decision("manual", "no_code")
        decision = Decision(decision.verdict, decision.reason, (*decision.flags, *method))
        return self.station.write(decision, reading, holder, guard_id=shift.guard_id, refers_to=seq)

    def release(self, shift: Shift, seq: int, form: forms.Release) -> Outcome:
        """A first high reading that will not be re-tested (the person left): the lane
        opens again and the record says so, with the guard's words."""
        self._hold(seq, "retest")
        return self._close_case(shift, seq, LEFT_UNTESTED, form.note)

    def acknowledge_fever(self, shift: Shift, seq: int, form: forms.FeverAck) -> Outcome:
        """A confirmed fever's disposition, with the people present around it."""
        self._hold(seq, "fever")
        return self._close_case(shift, seq, form.action, form.note)

    def _close_case(self, shift: Shift, seq: int, action: str, note: str | None) -> Outcome:
        """Close a case: the acknowledgement (who, what, the people present) and a
        ``fever_handled`` record that carries it to the hub, in one transaction."""
        now_ms = clock.now().wall_ms
        present = self.fevers.people_present(seq, now_ms)
        holder = self.station.store.holder_at(seq)

        def acknowledge(_: int) -> None:
            self.fevers.acknowledge(seq, shift.guard_id, action, note, now_ms, present)

        decision = Decision("deny", "fever_handled", (f"disposition_{action}",))
        return self.station.write(
            decision, None, holder, guard_id=shift.guard_id, refers_to=seq, note=note, also=acknowledge
        )

    def refuse_while_held(self) -> None:
        """Nobody else is checked while a fever case holds the lane."""
        if self.holds():
            raise ActionError(
                "车道暂停：请先处置体温异常", "the lane is on hold: deal with the fever case first"
            )


def camera_agrees(earlier: Outcome, colour: Colour) -> tuple[str, ...]:
    """Flags saying whether the camera read the colour the guard confirmed (none when the
    camera read no colour): the record shows what the guard was offered."""
    camera = earlier.code.colour if earlier.code else None
    if camera is None:
        return ()
    return ("colour_camera",) if camera == colour else ("colour_camera_differs",)
