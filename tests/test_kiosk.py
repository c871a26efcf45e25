"""The guard's actions through the kiosk's HTTP API: who did what is stored with each
check, and bad input is refused with a clear message and stores nothing."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.bundle import DeviceBundle
from edge import clock, guards
from edge.guards import GuardBook
from edge.kiosk.app import create_kiosk_app
from edge.kiosk.runtime import Kiosk
from edge.station import GateStation
from edge.store import CheckStore, SyncKey
from gatecheck.samples import recolour, render_frame
from tests.conftest import fill_disk
from tests.kiosk_helpers import GUARD_ID, GUARD_NAME, GUARD_PIN, LOGIN, FrameFeed, SettableSensor

Gate = tuple[Kiosk, FrameFeed, SettableSensor]
EN = {"Accept-Language": "en"}
ENGLISH_WORD = re.compile(r"(?!PIN\b)[A-Za-z]{3,}")
"""English in a Chinese message (the PIN is called so on the screen, too)."""
NO_ONE = {"itinerary": None, "mask": None, "category": None, "symptoms": None, "leaving": False}
"""The taps of a person nobody said anything about."""
VISITOR = {
    "name": "李 四",
    "phone": "138-0013-8000",
    "host": "3号楼 201",
    "purpose": "送货",
    "escort": "王保安",
}


@pytest.fixture
def api(kiosk: Gate) -> Iterator[TestClient]:
    with TestClient(create_kiosk_app(kiosk[0])) as client:
        yield client


@pytest.fixture
def guard(api: TestClient) -> TestClient:
    response = api.post("/api/login", json=LOGIN)
    assert response.status_code == 200, response.text
    return api


def shown(gate: Kiosk, feed: FrameFeed, payload: str, after: int = 0) -> dict[str, Any]:
    """Show a code to the camera; wait until the check is stored; return its row."""
    feed.show(render_frame(payload))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with gate.lock:
            rows = [r for r in gate.station.store.rows() if r["seq"] > after]
        if rows:
            return rows[-1]
        time.sleep(0.01)
    raise AssertionError("the camera loop stored no check")


def table(gate: Kiosk, name: str) -> list[dict[str, Any]]:
    with gate.lock:
        return list(gate.station.store.db[name].rows)


def test_actions_need_a_guard_logged_in(api: TestClient, kiosk: Gate) -> None:
    for path, body in (
        ("/api/refusals", {}),
        (
            "/api/checks/1/register",
            {"name": "李四", "phone": "13800138000", "host": "3-201", "purpose": "visit"},
        ),
        ("/api/looked", {"mask": "worn"}),
        ("/api/manual", {"kind": "resident_id", "id_number": "11010519491231002X"}),
        ("/api/checks/1/override", {"verdict": "admit", "reason": "known staff"}),
    ):
        response = api.post(path, json=body)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "请先登录（保安编号和 PIN 码）"
        english = api.post(path, json=body, headers={"Accept-Language": "en"})
        assert "log in" in english.json()["error"]
    assert table(kiosk[0], "checks") == [] and table(kiosk[0], "visitors") == []


def test_wrong_pins_lock_the_guard_out(api: TestClient) -> None:
    for _ in range(5):
        response = api.post("/api/login", json={"guard_id": GUARD_ID, "pin": "0000"}, headers=EN)
        assert response.status_code == 401 and "wrong PIN" in response.json()["error"]
    locked = api.post("/api/login", json=LOGIN, headers=EN)
    assert locked.status_code == 401 and "try again in" in locked.json()["error"]
    assert int(locked.json()["error"].split("try again in ")[1].split()[0]) <= 60


def test_a_lockout_lasts_a_minute_of_this_boot_whatever_the_wall_clock(api: TestClient, kiosk: Gate) -> None:
    for _ in range(5):
        api.post("/api/login", json={"guard_id": GUARD_ID, "pin": "0000"})
    with kiosk[0].lock:
        (boot, until) = (
            kiosk[0]
            .station.store.db.execute(
                "SELECT locked_boot, locked_until_ms FROM guards WHERE id = ?", (GUARD_ID,)
            )
            .fetchone()
        )
        now = clock.now()
        assert boot == now.boot_id and now.mono_ms < until <= now.mono_ms + 60_000
        # After a reboot (another boot id) the lockout is over, not decades long.
        kiosk[0].station.store.db.execute("UPDATE guards SET locked_boot = 'an earlier boot'")
    assert api.post("/api/login", json=LOGIN).status_code == 200


def test_an_unknown_guard_costs_one_pin_check_like_a_known_one(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.post("/api/login", json={"guard_id": "NOBODY", "pin": "0000"})  # the stand-in hash is made once
    work: list[str] = []
    real_check = guards.check_password
    monkeypatch.setattr(guards, "check_password", lambda p, h: work.append("check") or real_check(p, h))
    api.post("/api/login", json={"guard_id": GUARD_ID, "pin": "0000"})
    known, work[:] = list(work), []
    unknown = api.post("/api/login", json={"guard_id": "NOBODY", "pin": "0000"})
    assert unknown.json() == api.post("/api/login", json={"guard_id": GUARD_ID, "pin": "0000"}).json()
    assert known == ["check"] and work[:1] == ["check"]


def test_override_is_stored_with_the_guard_and_reason(guard: TestClient, kiosk: Gate, signed: Any) -> None:
    gate, feed, _ = kiosk
    denied = shown(gate, feed, signed("p-yellow", "yellow"))
    assert (denied["verdict"], denied["reason"], denied["guard_id"]) == ("deny", "code_yellow", None)
    response = guard.post(
        f"/api/checks/{denied['seq']}/override", json={"verdict": "admit", "reason": "resident, tested today"}
    )
    assert response.status_code == 200, response.text
    row = table(gate, "checks")[-1]
    assert (row["verdict"], row["reason"], row["guard_id"], row["refers_to"]) == (
        "admit", "override", GUARD_ID, denied["seq"],
    )  # fmt: skip
    assert row["note"] == "resident, tested today" and "override" in row["flags"]
    assert row["holder"] == denied["holder"]


def camera_sees(gate: Kiosk, feed: FrameFeed, payload: str) -> None:
    """Show a code and wait until the camera loop has taken the frame (stored or not)."""
    seen = gate.frame_seen
    feed.show(render_frame(payload))
    deadline = time.monotonic() + 10
    while gate.frame_seen == seen and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the frame's decode and decision


def holds(api: TestClient) -> list[dict[str, Any]]:
    return list(api.get("/api/state").json()["holds"])


def test_the_fever_drill_holds_the_lane_waits_five_minutes_and_records_the_disposition(
    guard: TestClient, kiosk: Gate, signed: Any, later: Callable[[float], None]
) -> None:
    gate, feed, sensor = kiosk
    before = shown(gate, feed, signed("p-before"))
    sensor.celsius = 38.2
    first = shown(gate, feed, signed("p-hot"), after=before["seq"])
    assert (first["verdict"], first["reason"]) == ("remeasure", "temp_high")
    [hold] = holds(guard)
    assert (hold["seq"], hold["stage"]) == (first["seq"], "retest") and 280 <= hold["opens_in_s"] <= 285
    # The lane is held: the camera keeps reading, nobody else gets a verdict or a check.
    sensor.celsius = 36.5
    camera_sees(gate, feed, signed("p-next"))
    assert len(table(gate, "checks")) == 2
    refused = guard.post("/api/manual", json={"kind": "resident_id", "id_number": "11010519491231002X"})
    assert refused.status_code == 409 and "车道暂停" in refused.json()["error"]
    # Too soon: told how long to wait, nothing stored (the window opens at 5:00 less 15 s).
    too_soon = guard.post(f"/api/holds/{first['seq']}/retest", json={"method": "axillary", "temp_c": 38.4})
    assert too_soon.status_code == 409 and "后复测" in too_soon.json()["error"]
    later(283)
    early = guard.post(f"/api/holds/{first['seq']}/retest", json={"method": "axillary", "temp_c": 38.4})
    assert early.status_code == 409 and "0:0" in early.json()["error"]
    assert len(table(gate, "checks")) == 2
    later(2)
    fever = guard.post(f"/api/holds/{first['seq']}/retest", json={"method": "axillary", "temp_c": 38.4})
    assert fever.status_code == 200, fever.text
    assert (fever.json()["verdict"], fever.json()["reason"], fever.json()["hold"]) == ("deny", "fever", True)
    row = table(gate, "checks")[-1]
    assert (row["refers_to"], row["temp_source"], row["urgent"]) == (first["seq"], "manual", 1)
    assert "retest_axillary" in row["flags"].split(",")
    # Confirmed: held until the disposition is recorded; never overridden to admit.
    assert [(h["seq"], h["stage"]) for h in holds(guard)] == [(row["seq"], "fever")]
    override = {"verdict": "admit", "reason": "feels fine"}
    assert guard.post(f"/api/checks/{row['seq']}/override", json=override).status_code == 409
    assert guard.post(f"/api/fevers/{row['seq']}/ack", json={}).status_code == 422
    done = guard.post(f"/api/fevers/{row['seq']}/ack", json={"action": "observation_point"})
    assert done.status_code == 200 and done.json() == [] and holds(guard) == []
    [ack] = table(gate, "fever_acks")
    assert (ack["seq"], ack["guard_id"], ack["action"]) == (row["seq"], GUARD_ID, "observation_point")
    assert json.loads(ack["present"]) == [before["holder"]]  # the person before, not the case
    handled = table(gate, "checks")[-1]
    assert (handled["verdict"], handled["reason"], handled["refers_to"]) == (
        "deny",
        "fever_handled",
        row["seq"],
    )
    assert handled["flags"] == "disposition_observation_point" and handled["urgent"] == 1
    assert handled["holder"] == first["holder"]
    counts = guard.get("/api/shift").json()["counts"]  # the disposition is a record, not a check
    assert (counts["checks"], counts["deny"], counts["fevers"]) == (3, 1, 1)
    # The lane is open again: the code shown while it was held is taken at once.
    admitted = shown(gate, feed, signed("p-next"), after=handled["seq"])
    assert (admitted["verdict"], admitted["reason"]) == ("admit", "ok")


def test_a_re_test_window_closes_and_a_later_high_reading_starts_over(
    guard: TestClient, kiosk: Gate, signed: Any, later: Callable[[float], None]
) -> None:
    gate, feed, sensor = kiosk
    sensor.celsius = 38.0
    first = shown(gate, feed, signed("p-slow"))
    gate.station._outcomes.clear()  # restarted since: the hold comes from the stored checks
    assert [h["seq"] for h in holds(guard)] == [first["seq"]]
    later(300 + 1800 + 14)  # the last second of the window (5 min + 30 min + 15 s grace)
    assert holds(guard)[0]["closes_in_s"] in (0, 1)
    later(2)
    assert holds(guard) == []  # lapsed: the lane opens by itself
    again = shown(gate, feed, signed("p-slow"), after=first["seq"])
    assert (again["verdict"], again["reason"]) == ("remeasure", "temp_high")  # a new first reading
    # Released without a re-test: the record says so, in the guard's words.
    left = guard.post(f"/api/holds/{again['seq']}/release", json={"note": "走了"})
    assert left.status_code == 200 and left.json() == []
    released = table(gate, "checks")[-1]
    assert (released["reason"], released["flags"], released["note"]) == (
        "fever_handled", "disposition_left_untested", "走了",
    )  # fmt: skip


def test_a_normal_re_test_after_a_restart_decides_by_temperature_then_by_hand(
    guard: TestClient, kiosk: Gate, signed: Any, later: Callable[[float], None]
) -> None:
    gate, feed, sensor = kiosk
    sensor.celsius = 37.6
    first = shown(gate, feed, signed("p-warm"))
    gate.station._outcomes.clear()
    later(300)
    sensor.celsius = 36.7
    normal = guard.post(f"/api/holds/{first['seq']}/retest", json={"method": "infrared"})
    assert normal.status_code == 200, normal.text
    assert (normal.json()["verdict"], normal.json()["reason"]) == ("manual", "no_code")
    assert table(gate, "checks")[-1]["holder"] == first["holder"] and holds(guard) == []


def test_a_visitor_passes_the_checks_then_registers_and_is_closed_off_on_leaving(
    guard: TestClient, kiosk: Gate, signed: Any
) -> None:
    gate, feed, _ = kiosk
    asked = guard.post("/api/looked", json={"category": "visitor", "symptoms": [], "mask": "worn"})
    assert asked.status_code == 200, asked.text
    check = shown(gate, feed, signed("p-visitor"))
    assert (check["verdict"], check["reason"]) == ("admit", "ok")
    assert set(check["flags"].split(",")) == {"person_visitor", "symptom_none", "mask_worn"}
    assert "register" in gate.describe(gate.station.outcome(check["seq"])).actions  # type: ignore[arg-type]
    response = guard.post(f"/api/checks/{check['seq']}/register", json=VISITOR)
    assert response.status_code == 200, response.text
    (visitor,) = table(gate, "visitors")
    assert (visitor["check_seq"], visitor["guard_id"], visitor["escort"]) == (
        check["seq"],
        GUARD_ID,
        "王保安",
    )
    assert [r["seq"] for r in table(gate, "checks")] == [check["seq"]]  # the book entry is no second check
    again = guard.post(f"/api/checks/{check['seq']}/register", json=VISITOR, headers=EN)
    assert again.status_code == 409 and "registered already" in again.json()["error"]
    assert [v["id"] for v in guard.get("/api/visitors").json()] == [visitor["id"]]
    left = guard.post(f"/api/visitors/{visitor['id']}/leave")
    assert left.status_code == 200 and left.json()["left_ms"] is not None
    exit_ = table(gate, "checks")[-1]
    assert (exit_["reason"], exit_["refers_to"], exit_["flags"], exit_["holder"]) == (
        "exit", check["seq"], "person_visitor", check["holder"]
    )  # fmt: skip
    assert guard.get("/api/visitors").json() == []
    assert guard.post(f"/api/visitors/{visitor['id']}/leave").status_code == 409
    assert len(table(gate, "checks")) == 2  # a second leaving records nothing


def test_a_visitor_with_a_yellow_code_is_refused_before_any_form_opens(
    guard: TestClient, kiosk: Gate, signed: Any
) -> None:
    gate, feed, _ = kiosk
    unasked = guard.post("/api/looked", json={"category": "visitor"}, headers=EN)
    assert unasked.status_code == 409 and "health questions" in unasked.json()["error"]
    assert guard.post("/api/looked", json={"category": "visitor", "symptoms": []}).status_code == 200
    yellow = shown(gate, feed, signed("p-yellow-visitor", "yellow"))
    assert (yellow["verdict"], yellow["reason"]) == ("deny", "code_yellow")
    assert "register" not in gate.describe(gate.station.outcome(yellow["seq"])).actions  # type: ignore[arg-type]
    refused = guard.post(f"/api/checks/{yellow['seq']}/register", json=VISITOR, headers=EN)
    assert refused.status_code == 409 and "not a visitor who passed" in refused.json()["error"]
    assert table(gate, "visitors") == []
    resident = shown(gate, feed, signed("p-resident"), after=yellow["seq"])  # admitted, but no visitor
    assert guard.post(f"/api/checks/{resident['seq']}/register", json=VISITOR).status_code == 409
    assert table(gate, "visitors") == []


def test_a_visitor_with_a_cough_is_refused_and_reported(guard: TestClient, kiosk: Gate, signed: Any) -> None:
    gate, feed, _ = kiosk
    assert guard.post("/api/looked", json={"category": "visitor", "symptoms": ["cough"]}).status_code == 200
    coughing = shown(gate, feed, signed("p-cough"))
    assert (coughing["verdict"], coughing["reason"], coughing["urgent"]) == ("deny", "symptoms", 1)
    assert guard.post(f"/api/checks/{coughing['seq']}/register", json=VISITOR).status_code == 409


def test_the_escort_is_required_unless_the_site_says_otherwise(
    guard: TestClient, kiosk: Gate, signed: Any, later: Callable[[float], None]
) -> None:
    gate, feed, _ = kiosk
    guard.post("/api/looked", json={"category": "visitor", "symptoms": []})
    check = shown(gate, feed, signed("p-alone"))
    alone = {k: v for k, v in VISITOR.items() if k != "escort"}
    refused = guard.post(f"/api/checks/{check['seq']}/register", json=alone, headers=EN)
    assert refused.status_code == 409 and "escort" in refused.json()["error"]
    assert table(gate, "visitors") == []
    later(16 * 60)
    stale = guard.post(f"/api/checks/{check['seq']}/register", json=VISITOR, headers=EN)
    assert stale.status_code == 409 and "check the visitor again" in stale.json()["error"]


@pytest.mark.site_policy(visitor_escort_required=False)
def test_a_site_may_register_visitors_without_an_escort(guard: TestClient, kiosk: Gate) -> None:
    gate = kiosk[0]
    guard.post("/api/looked", json={"category": "visitor", "symptoms": []})
    paper = guard.post("/api/manual", json={"kind": "name_phone", "name": "赵六", "phone": "13900139000"})
    assert (paper.json()["verdict"], paper.json()["reason"]) == ("admit", "id_checked")
    alone = {k: v for k, v in VISITOR.items() if k != "escort"}
    registered = guard.post(f"/api/checks/{paper.json()['seq']}/register", json=alone)
    assert registered.status_code == 200, registered.text
    assert table(gate, "visitors")[0]["escort"] is None


def test_a_feverish_visitor_gets_no_entry_opened(guard: TestClient, kiosk: Gate) -> None:
    guard.post("/api/looked", json={"category": "visitor", "symptoms": []})
    body = {"kind": "name_phone", "name": "赵六", "phone": "13900139000", "temp_c": 38.0}
    response = guard.post("/api/manual", json=body)
    assert response.json()["verdict"] == "remeasure" and "register" not in response.json()["actions"]
    assert guard.post(f"/api/checks/{response.json()['seq']}/register", json=VISITOR).status_code == 409
    assert table(kiosk[0], "visitors") == []


def test_manual_entry_stores_a_pseudonym_never_the_id(guard: TestClient, kiosk: Gate) -> None:
    gate = kiosk[0]
    response = guard.post("/api/manual", json={"kind": "resident_id", "id_number": "11010519491231002x"})
    assert response.status_code == 200, response.text
    row = table(gate, "checks")[0]
    assert (row["verdict"], row["reason"], row["guard_id"]) == ("admit", "id_checked", GUARD_ID)
    assert row["holder"] and len(row["holder"]) == 32
    assert b"11010519491231002" not in gate.station.store.path.read_bytes()


def test_refusal_is_an_urgent_denial(guard: TestClient, kiosk: Gate) -> None:
    response = guard.post("/api/refusals", json={"note": "walked off"})
    assert response.json()["reason"] == "refused"
    row = table(kiosk[0], "checks")[0]
    assert (row["verdict"], row["urgent"], row["guard_id"], row["note"]) == (
        "deny",
        1,
        GUARD_ID,
        "walked off",
    )


BAD_INPUT = [
    ("/api/checks/1/register", {"name": "", "phone": "13800138000", "host": "A", "purpose": "x"}, "name"),
    ("/api/checks/1/register", {"name": "李四", "phone": "call me", "host": "A", "purpose": "x"}, "phone"),
    ("/api/checks/1/register", {"name": "李四", "phone": "13800138000", "host": "", "purpose": "x"}, "host"),
    (
        "/api/checks/1/register",
        {"name": "李四", "phone": "13800138000", "host": "A", "purpose": ""},
        "purpose",
    ),
    (
        "/api/checks/1/register",
        {"name": "李四", "phone": "13800138000", "host": "A", "purpose": "x", "escort": "e" * 41},
        "escort",
    ),
    (
        "/api/checks/1/register",
        {"name": "李四", "phone": "13800138000", "host": "A", "purpose": "x", "temp_c": 36.6},
        "temperature: not a field",
    ),
    (
        "/api/checks/1/register",
        {"name": "李四", "phone": "13800138000", "host": "A", "purpose": "x", "escort": "王"},
        "not a visitor who passed",
    ),
    ("/api/looked", {"category": "alien"}, "kind of person"),
    ("/api/looked", {"symptoms": ["sneezing"]}, "health questions"),
    ("/api/looked", {"leaving": True, "mask": "worn"}, "leaving"),
    ("/api/manual", {"kind": "resident_id", "id_number": "110105194912310021"}, "check digit"),
    ("/api/manual", {"kind": "passport", "id_number": "E1"}, "passport"),
    ("/api/manual", {"kind": "name_phone", "name": "王五"}, "phone"),
    ("/api/manual", {"kind": "code"}, "code"),
    ("/api/manual", {"kind": "fingerprint"}, "how"),
    ("/api/refusals", {"note": "n" * 201}, "note"),
    ("/api/checks/1/override", {"verdict": "admit", "reason": "o"}, "reason: at least 2"),
    ("/api/checks/1/override", {"verdict": "maybe", "reason": "known staff"}, "decision"),
    ("/api/checks/1/confirm", {"colour": "blue"}, "colour"),
    ("/api/checks/1/remeasure", {"temp_c": 99}, "between 25 and 45"),
    ("/api/holds/1/retest", {"method": "axillary"}, "type the temperature"),
    ("/api/holds/1/retest", {"method": "oral", "temp_c": 38.0}, "re-test method"),
    ("/api/holds/1/retest", {"method": "infrared"}, "not a high reading waiting"),
    ("/api/holds/1/release", {"note": "x"}, "note: at least 2"),
    ("/api/fevers/1/ack", {"action": "other"}, "say what was done"),
    ("/api/fevers/1/ack", {}, "action taken: required"),
    ("/api/fevers/1/ack", {"action": "observation_point"}, "not a fever waiting"),
    ("/api/checks/999/override", {"verdict": "admit", "reason": "known staff"}, "no longer on this screen"),
    ("/api/login", {"guard_id": GUARD_ID, "pin": "12"}, "PIN"),
    ("/api/nowhere", {}, "not found"),
]


@pytest.mark.parametrize(("path", "body", "named"), BAD_INPUT)
def test_bad_input_is_refused_clearly_and_stores_nothing(
    guard: TestClient, kiosk: Gate, path: str, body: dict[str, Any], named: str
) -> None:
    gate = kiosk[0]
    before = {name: table(gate, name) for name in ("checks", "visitors", "fever_acks", "shifts")}
    response = guard.post(path, json=body, headers=EN)
    assert response.status_code in (404, 409, 422), response.text
    assert named in response.json()["error"]
    chinese = guard.post(path, json=body).json()["error"]
    assert chinese and not ENGLISH_WORD.search(chinese), chinese
    assert {name: table(gate, name) for name in before} == before


def test_handover_counts_the_shift(guard: TestClient, kiosk: Gate, signed: Any) -> None:
    gate, feed, _ = kiosk
    first = shown(gate, feed, signed("p-1"))
    red = shown(gate, feed, signed("p-2", "red"), after=first["seq"])
    guard.post("/api/looked", json={"category": "visitor", "symptoms": []})
    visitor = shown(gate, feed, signed("p-visiting"), after=red["seq"])
    assert guard.post(f"/api/checks/{visitor['seq']}/register", json=VISITOR).status_code == 200
    counts = guard.get("/api/shift").json()["counts"]
    assert (counts["checks"], counts["admit"], counts["deny"], counts["visitors_in"]) == (3, 2, 1, 1)
    ended = guard.post("/api/logout")
    assert ended.status_code == 200 and ended.json()["counts"]["checks"] == 3
    assert guard.post("/api/refusals", json={}).status_code == 401


def test_a_failing_sensor_shows_and_the_check_asks_for_a_measurement(
    api: TestClient, kiosk: Gate, signed: Any
) -> None:
    gate, feed, sensor = kiosk
    sensor.celsius = None
    row = shown(gate, feed, signed("p-3"))
    assert (row["verdict"], row["reason"]) == ("manual", "no_temperature")
    status = api.get("/api/state").json()["status"]
    assert status["sensor"] == "error" and "not answering" in status["sensor_detail"]
    assert status["online"] is False and status["backlog"] == 1


def test_guard_actions_with_a_failing_sensor_ask_for_a_typed_temperature(
    guard: TestClient, kiosk: Gate, signed: Any
) -> None:
    gate, feed, sensor = kiosk
    sensor.celsius = None
    first = shown(gate, feed, signed("p-4"))
    again = guard.post(f"/api/checks/{first['seq']}/remeasure", json={})
    visitor = {"kind": "name_phone", "name": "李四", "phone": "13800138000"}
    refused = guard.post("/api/manual", json=visitor)
    for answer in (again, refused):
        assert answer.status_code == 409 and "手工测温" in answer.json()["error"]
    assert len(table(gate, "checks")) == 1 and table(gate, "visitors") == []  # nothing half-stored
    typed = guard.post(f"/api/checks/{first['seq']}/remeasure", json={"temp_c": 36.6})
    assert typed.status_code == 200 and typed.json()["temp_source"] == "manual"


def test_guard_confirms_the_colour_of_a_code_the_gate_cannot_verify(guard: TestClient, kiosk: Gate) -> None:
    gate, feed = kiosk[0], kiosk[1]
    opaque = shown(gate, feed, "https://health.example.cn/qr/6f1c2a9e")
    assert (opaque["verdict"], opaque["reason"]) == ("manual", "code_unverified")
    red = guard.post(f"/api/checks/{opaque['seq']}/confirm", json={"colour": "red"})
    assert (red.json()["verdict"], red.json()["reason"]) == ("deny", "code_red")
    row = table(gate, "checks")[-1]
    assert (row["urgent"], row["refers_to"], row["guard_id"]) == (1, opaque["seq"], GUARD_ID)
    assert "colour_confirmed" in row["flags"]
    green_again = guard.post(f"/api/checks/{row['seq']}/confirm", json={"colour": "green"})
    assert green_again.status_code == 409


def test_the_colour_the_camera_read_is_offered_and_recorded_with_the_guards_choice(
    guard: TestClient, kiosk: Gate
) -> None:
    """A yellow code the gate cannot verify: the page is told the camera read yellow (the
    dialog pre-selects it); the guard's confirmation records whether the colours agreed.
    The gate never decides on the camera's colour alone."""
    gate, feed = kiosk[0], kiosk[1]
    for n, (tapped, flag) in enumerate((("yellow", "colour_camera"), ("green", "colour_camera_differs"))):
        feed.show(recolour(render_frame(f"https://health.example.cn/qr/{n}a7e"), "yellow"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(table(gate, "checks")) < 2 * n + 1:
            time.sleep(0.01)
        opaque = table(gate, "checks")[-1]
        assert (opaque["verdict"], opaque["reason"]) == ("manual", "code_unverified")
        confirmed = guard.post(f"/api/checks/{opaque['seq']}/confirm", json={"colour": tapped}).json()
        assert confirmed["camera_colour"] == "yellow"
        assert flag in table(gate, "checks")[-1]["flags"].split(",")
    assert [r["verdict"] for r in table(gate, "checks")] == ["manual", "deny", "manual", "admit"]


def test_a_code_typed_from_paper_is_verified_like_a_scanned_one(
    guard: TestClient, kiosk: Gate, signed: Any
) -> None:
    good = guard.post("/api/manual", json={"kind": "code", "code": signed("p-paper"), "temp_c": 36.6})
    assert (good.json()["verdict"], good.json()["reason"]) == ("admit", "ok")
    forged = guard.post("/api/manual", json={"kind": "code", "code": signed("p-paper")[:-4] + "AAAA"})
    assert forged.json()["verdict"] == "deny"
    rows = table(kiosk[0], "checks")
    assert [r["engine"] for r in rows] == ["typed", "typed"] and rows[0]["guard_id"] == GUARD_ID


def test_status_says_when_the_hub_refuses_this_device(api: TestClient, kiosk: Gate) -> None:
    gate, _, _ = kiosk
    store = gate.station.store
    assert api.get("/api/state").json()["status"]["hub_refused"] is None
    store.set_state(SyncKey.UPLINK_OK_MS, 1_000)
    store.set_state(SyncKey.HUB_REFUSED_MS, 2_000)
    store.set_state(SyncKey.HUB_REFUSED_STATUS, 403)
    assert api.get("/api/state").json()["status"]["hub_refused"] == 403
    store.set_state(SyncKey.UPLINK_OK_MS, 3_000)  # a later upload went through: not refused any more
    assert api.get("/api/state").json()["status"]["hub_refused"] is None
    assert api.get("/api/health").json() == {"camera_alive": True, "page_alive": False}
    assert api.post("/api/heartbeat").status_code == 204
    assert api.get("/api/health").json()["page_alive"] is True


def test_a_full_card_is_shown_and_the_gate_records_again_once_space_is_freed(
    small_disk: Path, offline_bundle: DeviceBundle, signed: Any
) -> None:
    store = CheckStore(small_disk / "edge.db")
    gate, feed = Kiosk(GateStation(offline_bundle, store), SettableSensor()), FrameFeed()
    GuardBook(store).add(GUARD_ID, GUARD_NAME, GUARD_PIN)
    camera = gate.start_camera(feed)
    try:
        with TestClient(create_kiosk_app(gate)) as api:
            first = shown(gate, feed, signed("110105194912310031"))
            filler = fill_disk(small_disk)
            # Pages the log had already grown into may take a few more checks; then it is full.
            for n in range(2, 200):
                person = signed(f"1101051949123100{n:02d}"[-18:])
                feed.show(render_frame(person))
                wait_until(lambda: gate.storage.state != "ok" or len(table(gate, "checks")) == n)  # noqa: B023
                if gate.storage.state != "ok":
                    break
                first = table(gate, "checks")[-1]
            status = api.get("/api/state").json()["status"]
            assert status["storage"] in ("storage_full", "storage_fault")
            assert camera.is_alive()  # the loop goes on
            # A guard's action in the fault: a clear answer in both languages, not a bare 500.
            refused = api.post("/api/login", json=LOGIN)
            assert refused.status_code == 503 and "请联系管理员" in refused.json()["error"]
            # The watchdog stops being fed while frames are not being recorded.
            time.sleep(0.3)
            seen = gate.frame_seen
            feed.show(render_frame("no code here, only a face"))
            wait_until(lambda: gate.frame_seen != seen)
            assert not gate.camera_alive(silence_s=0.25)

            filler.unlink()  # the technician frees space; no restart
            again = shown(gate, feed, person, after=first["seq"])  # the refused person, at once
            assert again["seq"] == first["seq"] + 1 and gate.storage.state == "ok"
            assert gate.camera_alive(silence_s=0.25)
            assert api.get("/api/state").json()["status"]["storage"] == "ok"
    finally:
        feed.unplug()
        camera.join(timeout=10)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def test_a_guard_with_a_fever_cannot_start_a_shift(api: TestClient, kiosk: Gate) -> None:
    gate = kiosk[0]
    login = {"guard_id": GUARD_ID, "pin": GUARD_PIN}
    untaken = api.post("/api/login", json=login)
    assert untaken.status_code == 409 and "本人体温" in untaken.json()["error"]
    assert table(gate, "checks") == []  # nothing recorded, no shift
    feverish = api.post("/api/login", json=login | {"temp_c": 37.6}, headers=EN)
    assert feverish.status_code == 409 and "37.6 °C" in feverish.json()["error"]
    assert api.get("/api/shift").status_code == 401  # the shift did not start
    (fever,) = table(gate, "checks")
    assert (fever["verdict"], fever["reason"], fever["urgent"], fever["guard_id"]) == (
        "deny", "staff_fever", 1, GUARD_ID
    )  # fmt: skip
    assert fever["flags"] == "person_staff"
    fit = api.post("/api/login", json=login | {"temp_c": 36.4})
    assert fit.status_code == 200 and api.get("/api/shift").status_code == 200
    assert [r["reason"] for r in table(gate, "checks")] == ["staff_fever"]  # a normal one is no check
    assert table(gate, "shifts")[-1]["own_temp_c"] == 36.4  # kept with the shift


def test_the_guards_taps_go_with_the_next_check_only(guard: TestClient, kiosk: Gate, signed: Any) -> None:
    gate, feed, _ = kiosk
    assert guard.post("/api/looked", json={"itinerary": "star", "mask": "worn"}).status_code == 200
    assert guard.get("/api/state").json()["looked"] == NO_ONE | {"itinerary": "star", "mask": "worn"}
    starred = shown(gate, feed, signed("p-star"))
    assert (starred["reason"], starred["flags"]) == ("itinerary_star", "itinerary_star,mask_worn")
    assert guard.get("/api/state").json()["looked"] == NO_ONE
    plain = shown(gate, feed, signed("p-next"), after=starred["seq"])
    assert (plain["reason"], plain["flags"]) == ("ok", "")  # not looked at: nothing claimed
    bad = guard.post("/api/looked", json={"mask": "maybe"})
    assert bad.status_code == 422 and "口罩" in bad.json()["error"]
    guard.cookies.clear()
    assert guard.post("/api/looked", json={"mask": "worn"}).status_code == 401


@pytest.mark.site_policy(kiosk_mask_default="worn")
def test_the_taps_start_where_the_site_says(guard: TestClient, kiosk: Gate, signed: Any) -> None:
    gate, feed, _ = kiosk
    state = guard.get("/api/state").json()
    assert state["looked"] == state["looked_default"] == NO_ONE | {"mask": "worn"}
    first = shown(gate, feed, signed("p-default"))
    assert first["flags"] == "mask_worn"
    guard.post("/api/looked", json={})  # the guard takes the default back: not looked at
    second = shown(gate, feed, signed("p-untapped"), after=first["seq"])
    assert second["flags"] == ""
    assert guard.get("/api/state").json()["looked"]["mask"] == "worn"  # the next person: default again


def test_a_tap_records_the_next_person_leaving(guard: TestClient, kiosk: Gate, signed: Any) -> None:
    gate, feed, sensor = kiosk
    assert guard.post("/api/looked", json={"leaving": True}).status_code == 200
    sensor.celsius = 38.9  # nobody is measured on the way out
    left = shown(gate, feed, signed("p-leaving"))
    assert (left["verdict"], left["reason"], left["temp_c"], left["refers_to"]) == (
        "admit",
        "exit",
        None,
        None,
    )
    assert guard.get("/api/state").json()["looked"] == NO_ONE  # the tap was for that person
    by_hand = guard.post("/api/looked", json={"leaving": True})
    assert by_hand.status_code == 200
    paper = guard.post("/api/manual", json={"kind": "resident_id", "id_number": "11010519491231002X"})
    assert (paper.json()["reason"], paper.json()["temp_c"]) == ("exit", None)
    assert [r["reason"] for r in table(gate, "checks")] == ["exit", "exit"]
