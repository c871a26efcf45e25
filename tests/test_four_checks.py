"""The four checks (四件套): the gate records the itinerary card and the mask beside the
code and the temperature, the site's rules decide on them, and the hub counts every
admission that skipped or hand-made a part — on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from core.bundle import DeviceBundle
from core.four_checks import Looked
from edge.decode import Code
from edge.desk import ActionError, GuardDesk
from edge.station import GateStation
from edge.store import CheckStore
from edge.thermometer import Reading
from gatecheck.cli import main
from hub import queries
from sync.agent import SyncAgent
from tests.kiosk_helpers import SettableSensor

BOTH_DATABASES = True


def scan(tmp_path: Path, *args: str) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(
        main,
        ["edge", "scan", "--device", str(tmp_path / "device.json"), "--db", str(tmp_path / "edge.db"),
         "--temp", "36.5", "--json", *args],
    )  # fmt: skip
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def count(tmp_path: Path) -> int:
    store = CheckStore(tmp_path / "edge.db")
    try:
        return len(store.rows())
    finally:
        store.close()


def test_the_guard_records_the_card_and_the_mask_and_the_rules_decide(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    image = str(qr_png(signed("ID-1"), "green.png"))
    for options, verdict, reason, flags in (
        (["--itinerary", "green", "--mask", "worn"], "admit", "ok", ["itinerary_green", "mask_worn"]),
        (
            ["--itinerary", "star", "--mask", "worn"],
            "deny",
            "itinerary_star",
            ["itinerary_star", "mask_worn"],
        ),
        (["--mask", "none"], "admit", "ok", ["mask_given"]),  # the site hands one out
        (["--itinerary", "none"], "admit", "ok", ["itinerary_none"]),  # not required here
        ([], "admit", "ok", []),  # not looked at: nothing claimed
    ):
        code, lines, err = scan(tmp_path, *options, image)
        assert code == 0, err
        assert (lines[0]["verdict"], lines[0]["reason"]) == (verdict, reason), options
        assert lines[0]["flags"] == flags, options
    # A fever still comes first, whatever the mask.
    code, lines, _ = scan(tmp_path, "--mask", "none", "--temp", "38.6", image)
    assert lines[-1]["reason"] == "temp_high"
    # A misspelt outcome is refused before anything is recorded.
    before = count(tmp_path)
    code, lines, err = scan(tmp_path, "--mask", "maybe", image)
    assert code == 2 and "'worn', 'none', 'given'" in err and lines == []
    assert count(tmp_path) == before


@pytest.mark.site_policy(no_mask_action="deny", itinerary_required=True, itinerary_star_action="admit")
def test_a_strict_site_refuses_no_mask_and_no_card(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    image = str(qr_png(signed("ID-2"), "green.png"))
    for options, reason in (
        (["--itinerary", "green", "--mask", "none"], "no_mask"),
        (["--itinerary", "none", "--mask", "worn"], "itinerary_missing"),
        (["--itinerary", "star", "--mask", "worn"], "ok"),  # this site admits a star
    ):
        code, lines, err = scan(tmp_path, *options, image)
        assert code == 0, err
        assert lines[0]["reason"] == reason, options
        assert lines[0]["verdict"] == ("admit" if reason == "ok" else "deny")


def test_the_hub_counts_admissions_with_a_part_missing_or_hand_made(
    tmp_path: Path,
    bundle: DeviceBundle,
    hub_engine: Engine,
    client: TestClient,
    signed: Callable[..., str],
) -> None:
    store = CheckStore(tmp_path / "gate.db")
    station = GateStation(bundle, store)
    sensor, typed = Reading(36.5, "sensor"), Reading(36.5, "manual")

    def code(holder: str) -> Code:
        payload = signed(holder)
        return Code(payload.encode(), payload, "utf-8", ((0, 0),) * 4, "test")

    fed = [
        (code("A"), sensor, Looked("green", "worn")),  # complete
        (code("B"), sensor, Looked("green", "none")),  # mask handed out: complete
        (code("C"), sensor, Looked()),  # a gate that does not ask: card and mask not recorded
        (code("D"), typed, Looked("green", "worn")),  # temperature typed by hand
        (None, sensor, Looked("green", "worn")),  # no code: checked by hand, not admitted
        (code("F"), sensor, Looked("star", "worn")),  # refused: not an admission
        (code("G"), sensor, Looked("none", "worn")),  # card not shown, admitted
    ]
    outcomes = [station.record(c, reading, looked=looked) for c, reading, looked in fed]
    assert [o.decision.verdict for o in outcomes] == ["admit"] * 4 + ["manual", "deny", "admit"]
    assert SyncAgent(bundle, store).push().stored == len(fed)

    site = queries.get_site(hub_engine, bundle.site_id)
    assert site is not None
    today = queries.site_today(site)
    (day,) = queries.daily(hub_engine, [site.id], today, today)
    assert (day.admitted, day.complete) == (5, 2)
    assert day.incomplete_by_part == {"itinerary": 2, "mask": 1, "temperature": 1}
    assert day.complete_share == pytest.approx(0.4)

    # The site page and the CSV say the same, in Chinese.
    page = client.get(f"/sites/{bundle.site_id}")
    assert "四件套完整率" in page.text and ">40%" in page.text.replace("\n", "").replace(" ", "")
    exported = client.get(f"/sites/{bundle.site_id}/report.csv").text.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(exported)))
    header, row = rows[0], next(r for r in rows[1:] if r[1] == day.date)
    assert row[header.index("四件套完整率")] == "0.400"
    assert row[header.index("行程卡未查")] == "2" and row[header.index("口罩未查")] == "1"
    assert row[header.index("健康码未核验")] == "0"


@pytest.mark.site_policy(category_thresholds={"workman": 37.0}, retest_after_s=0)
def test_a_workman_at_37_1_is_refused_at_a_school(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    image = str(qr_png(signed("W-1"), "workman.png"))
    first = scan(tmp_path, "--category", "workman", "--temp", "37.1", image)[1][0]
    again = scan(tmp_path, "--category", "workman", "--temp", "37.1", image)[1][0]
    assert (first["reason"], again["verdict"], again["reason"]) == ("temp_high", "deny", "fever")
    assert again["flags"] == ["person_workman"]
    # Anyone else at the same school is held to the site's own 37.3.
    teacher = scan(tmp_path, "--category", "teacher", "--temp", "37.1", str(qr_png(signed("T-1"), "t.png")))
    assert teacher[1][0]["verdict"] == "admit"


def test_a_workman_at_37_1_enters_a_compound_and_a_courier_hands_over(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str],
    hub_engine: Engine,
) -> None:  # fmt: skip
    workman = scan(tmp_path, "--category", "workman", "--temp", "37.1", str(qr_png(signed("W-2"), "w.png")))
    assert (workman[1][0]["verdict"], workman[1][0]["reason"]) == ("admit", "ok")
    courier = scan(tmp_path, "--category", "courier", str(qr_png(signed("C-1"), "c.png")))[1][0]
    assert (courier["verdict"], courier["reason"], courier["flags"]) == (
        "deny", "courier_handover", ["person_courier"]
    )  # fmt: skip
    store = CheckStore(tmp_path / "edge.db")
    assert SyncAgent(bundle, store).push().stored == 2
    store.close()
    site = queries.get_site(hub_engine, bundle.site_id)
    assert site is not None
    (day,) = queries.daily(hub_engine, [site.id], queries.site_today(site), queries.site_today(site))
    assert day.handovers == 1 and day.by_category == {"workman": 1, "courier": 1}
    assert day.denied_by_reason == {"courier_handover": 1}


def test_a_yes_to_a_health_question_refuses_entry_and_is_urgent(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    image = str(qr_png(signed("V-1"), "visitor.png"))
    asked = scan(tmp_path, "--category", "visitor", "--symptoms", "none", image)[1][0]
    assert (asked["verdict"], asked["flags"]) == ("admit", ["person_visitor", "symptom_none"])
    coughing = scan(tmp_path, "--symptoms", "cough,contact", image)[1][0]
    assert (coughing["verdict"], coughing["reason"]) == ("deny", "symptoms")
    assert coughing["flags"] == ["symptom_cough", "symptom_contact"]
    store = CheckStore(tmp_path / "edge.db")
    assert [r["urgent"] for r in store.rows()] == [0, 1]  # sent ahead of the backlog
    store.close()
    before = count(tmp_path)
    code, lines, err = scan(tmp_path, "--symptoms", "sneeze", image)
    assert code == 2 and "sneeze" in err and "无，或以上各项" in err and lines == []
    assert count(tmp_path) == before


@pytest.mark.site_policy(symptom_questions=["contact"])
def test_a_site_asks_only_the_questions_it_chose(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    image = str(qr_png(signed("V-2"), "v.png"))
    cough = scan(tmp_path, "--symptoms", "cough", image)[1][0]
    assert (cough["verdict"], cough["flags"]) == ("admit", ["symptom_cough"])  # recorded, not refused
    assert scan(tmp_path, "--symptoms", "contact", image)[1][0]["reason"] == "symptoms"


def test_people_leaving_are_counted_as_exits_not_checks(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str],
    hub_engine: Engine,
) -> None:  # fmt: skip
    image = str(qr_png(signed("E-1"), "e.png"))
    entered = scan(tmp_path, image)[1][0]
    left = scan(tmp_path, "--exit", image)[1][0]
    assert (left["verdict"], left["reason"], left["temp_c"]) == ("admit", "exit", None)
    store = CheckStore(tmp_path / "edge.db")
    rows = store.rows()
    assert rows[0]["holder"] == rows[1]["holder"]  # the same person, in and out
    assert SyncAgent(bundle, store).push().stored == 2
    store.close()
    site = queries.get_site(hub_engine, bundle.site_id)
    assert site is not None and entered["reason"] == "ok"
    (day,) = queries.daily(hub_engine, [site.id], queries.site_today(site), queries.site_today(site))
    assert (day.checks, day.admitted, day.exits) == (1, 1, 1)


def test_a_guards_fever_at_the_start_of_a_shift_reaches_the_hub_as_a_fever(
    tmp_path: Path, bundle: DeviceBundle, hub_engine: Engine
) -> None:
    store = CheckStore(tmp_path / "gate.db")
    desk = GuardDesk(GateStation(bundle, store), SettableSensor())
    with pytest.raises(ActionError, match="不能上岗"):
        desk.shift_check("G01", 37.6)
    desk.shift_check("G02", 36.4)
    assert SyncAgent(bundle, store).push().stored == 1  # the normal one stays with the shift
    store.close()
    site = queries.get_site(hub_engine, bundle.site_id)
    assert site is not None
    (day,) = queries.daily(hub_engine, [site.id], queries.site_today(site), queries.site_today(site))
    assert (day.checks, day.denied, day.fevers) == (1, 1, 1)
    assert [a.reason for a in queries.open_alerts(hub_engine, [site.id])] == ["staff_fever"]


@pytest.mark.site_policy(retest_after_s=0)
def test_a_vehicle_with_three_occupants_one_feverish(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str],
    hub_engine: Engine,
) -> None:  # fmt: skip
    driver, passenger = qr_png(signed("V-D"), "car/1.png"), qr_png(signed("V-P"), "car/2.png")
    code, lines, err = scan(tmp_path, "--vehicle", "京A·12345", str(driver), str(passenger))
    assert code == 0, err
    hot = qr_png(signed("V-H"), "hot.png")
    again = scan(tmp_path, "--vehicle", "京A·12345", "--temp", "38.2", str(hot), str(hot))[1]
    assert [line["reason"] for line in [*lines, *again]] == ["ok", "ok", "temp_high", "fever"]
    groups = [next(f for f in line["flags"] if f.startswith("vehicle_") and f != "vehicle_entry")
              for line in [*lines, *again]]  # fmt: skip
    assert len(set(groups)) == 1  # one entry: the same plate within the minute
    assert ["vehicle_entry" in line["flags"] for line in [*lines, *again]] == [True, False, False, False]
    store = CheckStore(tmp_path / "edge.db")
    assert store.rows()[0]["note"] == "车牌 京A·12345"  # the plate stays on the gate
    assert "京A" not in json.dumps([line["flags"] for line in [*lines, *again]])
    assert SyncAgent(bundle, store).push().stored == 4
    store.close()
    site = queries.get_site(hub_engine, bundle.site_id)
    assert site is not None
    (day,) = queries.daily(hub_engine, [site.id], queries.site_today(site), queries.site_today(site))
    assert (day.vehicles, day.checks, day.fevers) == (1, 4, 1)


@pytest.mark.site_policy(category_thresholds={"workman": 37.0}, retest_after_s=0)
def test_who_comes_from_the_guard_else_the_code_else_the_gate(
    tmp_path: Path, bundle: DeviceBundle, signed: Callable[..., str]
) -> None:
    store = CheckStore(tmp_path / "gate.db")
    staff_gate = GateStation(bundle, store, category="staff")

    def typed(payload: str) -> Code:
        return Code(payload.encode(), payload, "utf-8", ((0, 0),) * 4, "typed")

    workman = typed(signed("W-9", category="workman"))  # the issuer says who the holder is
    warm = Reading(37.1, "sensor")
    assert staff_gate.record(workman, warm).decision.reason == "temp_high"  # the school's 37.0
    as_teacher = staff_gate.record(workman, warm, looked=Looked(category="teacher"))
    assert (as_teacher.decision.verdict, as_teacher.decision.flags) == ("admit", ("person_teacher",))
    plain = staff_gate.record(typed(signed("S-9")), Reading(36.5, "sensor"))
    assert plain.decision.flags == ("person_staff",)  # the gate's own default
    unknown = typed(signed("X-9", category="astronaut"))  # a kind this gate does not know: ignored
    assert staff_gate.record(unknown, Reading(36.5, "sensor")).decision.flags == ("person_staff",)
    store.close()


def test_a_visitor_not_asked_the_questions_is_checked_by_hand(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    image = str(qr_png(signed("V-3"), "v.png"))
    for category in ("visitor", "returnee"):
        unasked = scan(tmp_path, "--category", category, image)[1][0]
        assert (unasked["verdict"], unasked["reason"]) == ("manual", "symptoms_unasked")
    assert (
        scan(tmp_path, "--category", "resident", image)[1][0]["verdict"] == "admit"
    )  # not asked of residents


def test_an_exit_gate_records_everyone_leaving(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    folder = tmp_path / "images" / "leaving"
    qr_png(signed("L-1"), "leaving/1.png")
    qr_png(signed("L-2"), "leaving/2.png")
    result = CliRunner().invoke(
        main,
        ["edge", "run", "--device", str(tmp_path / "device.json"), "--db", str(tmp_path / "edge.db"),
         "--source", str(folder), "--json"],
        env={"GATECHECK_GATE__DIRECTION": "out"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["reason"], line["temp_c"]) for line in lines] == [("exit", None), ("exit", None)]
    bad = CliRunner().invoke(
        main, ["edge", "run", "--device", str(tmp_path / "device.json"), "--source", str(folder)],
        env={"GATECHECK_GATE__DIRECTION": "sideways"},
    )  # fmt: skip
    assert bad.exit_code != 0 and "GATE__DIRECTION" in bad.output.upper().replace(".", "__")
