"""The view from above: a region tree, sites placed in regions and categories, officers
who see only their region, rollups that equal a recount, and the late list — on SQLite
and PostgreSQL."""

from __future__ import annotations

import io
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from core.bundle import DeviceBundle
from hub import region_overview, rollups
from hub.auth import create_user
from hub.core.db import daily_counts, region_daily, region_paths, region_sites, sites
from hub.counting import ROLLUP_METRICS
from hub.device_keys import device_key
from hub.ingest import ingest_batch
from hub.recompute import recompute
from hub.regions import create_region, place_site
from hub.registry import create_site, enrol_device
from tests.conftest import ADMIN_PASSWORD, log_in
from tests.hub_helpers import NOON_SHANGHAI, make_batch, make_check, now_ms, post

BOTH_DATABASES = True
DAY = datetime.fromtimestamp(NOON_SHANGHAI / 1000, ZoneInfo("Asia/Shanghai")).date().isoformat()


class City:
    """市 → 甲区 (→ 一街道), 乙区; a school and a market in 一街道, a bank in 乙区, a hotel
    placed nowhere yet."""

    def __init__(self, engine: Engine) -> None:
        self.city = create_region(engine, "某市").id
        self.a = create_region(engine, "甲区", self.city).id
        self.street = create_region(engine, "一街道", self.a).id
        self.b = create_region(engine, "乙区", self.city).id
        self.school = create_site(
            engine, "第一中学", "Asia/Shanghai", region_id=self.street, category_id="school"
        )
        self.market = create_site(
            engine, "农贸市场", "Asia/Shanghai", region_id=self.street, category_id="market"
        )
        self.bank = create_site(engine, "工行网点", "Asia/Shanghai", region_id=self.b, category_id="bank")
        self.hotel = create_site(engine, "宾馆", "Asia/Shanghai")
        self.gates = {
            s.id: enrol_device(engine, s.id, "North", "http://127.0.0.1:9")
            for s in (self.school, self.market, self.bank, self.hotel)
        }


@pytest.fixture
def city(hub_engine: Engine) -> City:
    return City(hub_engine)


def feed(client: TestClient, gate: DeviceBundle, after: int | None, n: int, wall_ms: int = NOON_SHANGHAI,
         **fields: Any) -> int:  # fmt: skip
    """``n`` checks from a gate after seq ``after``; returns the last seq."""
    first = (after or 0) + 1
    items = [make_check(seq, wall_ms=wall_ms, **fields) for seq in range(first, first + n)]
    assert post(client, gate, make_batch(gate, after, items)).status_code == 200
    return first + n - 1


def recount(engine: Engine) -> dict[tuple[str, str, str], Counter[str]]:
    """The rollups as they must be: every placed site's daily counts added to its region
    and every region above, per category and day — straight from ``daily_counts``."""
    with engine.connect() as conn:
        above: dict[str, list[tuple[str, str]]] = {}
        for r in conn.execute(
            select(sites.c.id, sites.c.category_id, region_paths.c.ancestor_id).join(
                region_paths, region_paths.c.region_id == sites.c.region_id
            )
        ):
            above.setdefault(r.id, []).append((r.category_id or rollups.NO_CATEGORY, r.ancestor_id))
        expected: dict[tuple[str, str, str], Counter[str]] = {}
        for site_id, day, metric, n in conn.execute(select(daily_counts)):
            if metric in ROLLUP_METRICS and site_id in above:
                for category, region in above[site_id]:
                    expected.setdefault((region, category, day), Counter())[metric] += n
    return {k: v for k, v in expected.items() if +v}


def site_counts(engine: Engine) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """The kept site counts per (region, category), and a recount from the sites."""
    with engine.connect() as conn:
        kept = Counter({(r.region_id, r.category_id): r.sites for r in conn.execute(select(region_sites))})
        counted = Counter(
            (r.ancestor_id, r.category_id or rollups.NO_CATEGORY)
            for r in conn.execute(
                select(region_paths.c.ancestor_id, sites.c.category_id).join(
                    sites, sites.c.region_id == region_paths.c.region_id
                )
            )
        )
    return +kept, counted


def folded(engine: Engine) -> dict[tuple[str, str, str], Counter[str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(region_daily)).all()
    found = {
        (r.region_id, r.category_id, r.local_date): Counter({m: getattr(r, m) for m in ROLLUP_METRICS})
        for r in rows
    }
    return {k: +v for k, v in found.items() if +v}


def test_rollups_equal_a_recount_after_late_data_a_recompute_and_a_move(
    hub_app: FastAPI, hub_engine: Engine, city: City
) -> None:
    client = TestClient(hub_app)
    school, market, bank, hotel = (
        city.gates[s.id] for s in (city.school, city.market, city.bank, city.hotel)
    )
    complete = {"scheme": "gc1", "flags": ["itinerary_green", "mask_worn"]}  # all four checks done
    last = {
        "school": feed(client, school, None, 5, **complete),
        "market": feed(client, market, None, 3, verdict="deny", reason="fever", temp_c=38.2),
        "bank": feed(client, bank, None, 2),
    }
    feed(client, hotel, None, 4)  # placed nowhere: in no region's sums
    assert rollups.fold(hub_engine) > 0
    assert folded(hub_engine) == recount(hub_engine) != {}
    got = folded(hub_engine)
    assert got[(city.city, "school", DAY)]["checks"] == got[(city.city, "school", DAY)]["complete"] == 5
    assert got[(city.city, "market", DAY)]["fevers"] == 3
    assert got[(city.a, "school", DAY)]["checks"] == 5 and (city.a, "bank", DAY) not in got
    assert sum(c["checks"] for (r, _, d), c in got.items() if r == city.city and d == DAY) == 10

    # Late data: checks from two days before arrive now; then a recompute of the school.
    earlier = NOON_SHANGHAI - 2 * 86_400_000
    last["school"] = feed(client, school, last["school"], 4, wall_ms=earlier)
    recompute(hub_engine, city.school.id, date(2026, 11, 1), date(2026, 11, 30))
    rollups.fold(hub_engine)
    assert folded(hub_engine) == recount(hub_engine)
    assert folded(hub_engine)[(city.city, "school", "2026-11-18")]["checks"] == 4

    # The bank moves into 甲区's street and becomes a "market": its history moves with it —
    # also what is still pending when it moves.
    feed(client, bank, last["bank"], 3)
    place_site(hub_engine, city.bank.id, city.street, "market")
    rollups.fold(hub_engine)
    now = folded(hub_engine)
    assert now == recount(hub_engine)
    assert now[(city.a, "market", DAY)]["checks"] == 3 + 5
    assert (city.b, "bank", DAY) not in now
    # The hotel placed later brings its counts; a rebuild from scratch gives the same.
    place_site(hub_engine, city.hotel.id, city.b, "hotel")
    rollups.fold(hub_engine)
    assert folded(hub_engine)[(city.b, "hotel", DAY)]["checks"] == 4
    kept, counted = site_counts(hub_engine)
    assert kept == counted and kept[(city.city, "market")] == 2 and kept[(city.b, "hotel")] == 1
    before = folded(hub_engine)
    assert rollups.rebuild(hub_engine) > 0
    assert folded(hub_engine) == before == recount(hub_engine)


def test_the_region_page_lists_late_sites_and_sites_without_a_gate(
    hub_app: FastAPI, hub_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_days_ago = int((datetime.now(UTC) - timedelta(days=3)).timestamp() * 1000)
    monkeypatch.setattr("hub.registry._now_ms", lambda: three_days_ago)  # set up three days ago
    city = create_region(hub_engine, "某市")
    district = create_region(hub_engine, "甲区", city.id)
    synced, behind = (
        create_site(hub_engine, name, "Asia/Shanghai", region_id=district.id, category_id="residential")
        for name in ("按时小区", "逾期小区")
    )
    idle = create_site(hub_engine, "无设备学校", "Asia/Shanghai", region_id=city.id, category_id="school")
    on_time = enrol_device(hub_engine, synced.id, "North", "http://127.0.0.1:9")
    enrol_device(hub_engine, behind.id, "North", "http://127.0.0.1:9")
    monkeypatch.undo()
    client = TestClient(hub_app)
    # The synced site's gate sends everything it has (backlog 0): complete until now.
    assert post(client, on_time, make_batch(on_time, 0, [make_check(1)])).status_code == 200
    assert post(client, on_time, make_batch(on_time, 1, [])).status_code == 200
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    view = region_overview.overview(hub_engine, city.id, date.fromisoformat(DAY), now_ms, 30 * 60_000)
    assert view is not None
    assert [(s.name, s.due_ms is None) for s in view.late] == [("逾期小区", False), ("无设备学校", True)]
    assert (view.total.late, view.total.no_gates, view.total.sites) == (1, 1, 3)
    (child,) = view.children
    assert (child.name, child.sites, child.late, child.no_gates) == ("甲区", 2, 1, 0)
    # Enrolling a gate at the idle school: it owes from now on, so it is neither.
    enrol_device(hub_engine, idle.id, "Gate", "http://127.0.0.1:9")
    view = region_overview.overview(hub_engine, city.id, date.fromisoformat(DAY), now_ms, 30 * 60_000)
    assert view is not None and [s.name for s in view.late] == ["逾期小区"]
    # Two days on, nothing sent since: every site is late.
    view = region_overview.overview(
        hub_engine, city.id, date.fromisoformat(DAY), now_ms + 2 * 86_400_000, 30 * 60_000
    )
    assert view is not None and view.total.late == 3


def test_a_district_officer_sees_only_their_district(
    hub_app: FastAPI, hub_engine: Engine, city: City
) -> None:
    feeder = TestClient(hub_app)
    feed(feeder, city.gates[city.school.id], None, 2)
    feed(feeder, city.gates[city.bank.id], None, 7, verdict="deny", reason="fever", temp_c=38.5)
    rollups.fold(hub_engine)
    create_user(hub_engine, "district_a", ADMIN_PASSWORD, "officer", region_ids=[city.a])
    officer = TestClient(hub_app)
    assert log_in(officer, "district_a", ADMIN_PASSWORD).status_code == 303
    mine = {city.school.id, city.market.id}

    # Pages: home is the district's page; other regions and sites are not found.
    home = officer.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == f"/regions/{city.a}"
    page = officer.get(f"/regions/{city.a}?date={DAY}")
    assert page.status_code == 200 and "第一中学" not in page.text  # numbers, not names, until drilled
    assert "一街道" in page.text and "工行网点" not in page.text
    for hidden in (f"/regions/{city.city}", f"/regions/{city.b}", f"/sites/{city.bank.id}"):
        assert officer.get(hidden).status_code == 404, hidden
    assert officer.get(f"/regions/{city.street}").status_code == 200  # below theirs
    assert officer.get(f"/sites/{city.school.id}").status_code == 200

    # API: sites, regions and the region's numbers.
    assert {s["id"] for s in officer.get("/api/v1/sites").json()} == mine
    assert {r["id"] for r in officer.get("/api/v1/regions").json()} == {city.a, city.street}
    numbers = officer.get(f"/api/v1/regions/{city.a}/overview", params={"date": DAY}).json()
    assert numbers["total"]["counts"]["checks"] == 2 and numbers["total"]["sites"] == 2
    assert officer.get(f"/api/v1/regions/{city.b}/overview").status_code == 404
    assert officer.get(f"/api/v1/sites/{city.bank.id}/daily").status_code == 404

    # Export: the all-my-sites report holds their sites only.
    book = load_workbook(io.BytesIO(officer.get(f"/reports/{DAY}.xlsx").content))
    cells = " ".join(
        str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value
    )
    assert "第一中学" in cells and "农贸市场" in cells and "工行网点" not in cells

    # The city's officer sees the bank's fevers in the city's numbers, by category and below.
    create_user(hub_engine, "city", ADMIN_PASSWORD, "officer", region_ids=[city.city])
    chief = TestClient(hub_app)
    assert log_in(chief, "city", ADMIN_PASSWORD).status_code == 303
    numbers = chief.get(f"/api/v1/regions/{city.city}/overview", params={"date": DAY}).json()
    assert numbers["total"]["counts"]["fevers"] == 7 and numbers["total"]["open_alerts"] == 7
    by_child = {c["name"]: c for c in numbers["children"]}
    assert by_child["乙区"]["counts"]["fevers"] == 7 and by_child["甲区"]["counts"]["checks"] == 2
    assert {c["id"]: c["sites"] for c in numbers["by_category"]} == {"school": 1, "market": 1, "bank": 1}
    # A manager has no region pages at all.
    create_user(hub_engine, "manager", ADMIN_PASSWORD, "manager", [city.school.id])
    manager = TestClient(hub_app)
    assert log_in(manager, "manager", ADMIN_PASSWORD).status_code == 303
    assert manager.get(f"/regions/{city.a}").status_code == 404
    assert manager.get("/api/v1/regions").json() == []


def test_regions_and_categories_from_the_command_line(hub_database_url: str, hub_engine: Engine) -> None:
    from tests.conftest import cli

    code, city_id = cli("provision", "region", "create", "--name", "某市", "--database-url", hub_database_url)
    assert code == 0, city_id
    code, out = cli("provision", "region", "create", "--name", "甲区", "--parent", city_id.strip(),
                    "--database-url", hub_database_url)  # fmt: skip
    assert code == 0, out
    district = out.strip()
    code, out = cli("provision", "region", "create", "--name", "乙区", "--parent", "reg-none",
                    "--database-url", hub_database_url)  # fmt: skip
    assert code == 1 and "no region reg-none" in out
    code, out = cli("provision", "category", "set", "kindergarten", "--zh", "幼儿园", "--en", "Kindergartens",
                    "--database-url", hub_database_url)  # fmt: skip
    assert code == 0, out
    code, out = cli("provision", "category", "list", "--database-url", hub_database_url)
    assert code == 0 and "school\t学校\tSchools" in out and "kindergarten\t幼儿园" in out
    assert len(out.strip().splitlines()) == 9  # the eight of the plans, and the new one
    code, out = cli("provision", "site", "create", "--name", "阳光幼儿园", "--timezone", "Asia/Shanghai",
                    "--region", district, "--category", "kindergarten",
                    "--database-url", hub_database_url)  # fmt: skip
    assert code == 0, out
    site_id = out.strip()
    code, out = cli("provision", "site", "place", site_id, "--region", district, "--category", "nosuch",
                    "--database-url", hub_database_url)  # fmt: skip
    assert code == 1 and "no category nosuch" in out
    code, out = cli("provision", "region", "list", "--database-url", hub_database_url)
    assert code == 0 and f"{district}\t1\t  甲区" in out and "\t1\t某市" in out
    code, out = cli("provision", "site", "list", "--database-url", hub_database_url)
    assert f"{site_id}\tAsia/Shanghai\t阳光幼儿园\t{district}\tkindergarten" in out
    code, out = cli("hub", "user", "--username", "o", "--role", "officer", "--region", district,
                    "--password", ADMIN_PASSWORD, "--database-url", hub_database_url)  # fmt: skip
    assert code == 0 and f"officer of regions {district}" in out
    code, out = cli("hub", "user", "--username", "o2", "--role", "officer", "--password", ADMIN_PASSWORD,
                    "--database-url", hub_database_url)  # fmt: skip
    assert code == 1 and "needs at least one region" in out


def test_folding_while_a_sites_gates_upload_never_deadlocks(
    hub_app: FastAPI, hub_engine: Engine, city: City
) -> None:
    """An upload locks its site's pending rows in key order; the fold must never wait on
    them (on PostgreSQL a plain DELETE, locking in scan order, deadlocked with uploads and
    failed one of them). Twelve gates of one site upload while the fold runs without pause."""
    gates = [enrol_device(hub_engine, city.school.id, f"门{i}", "http://127.0.0.1") for i in range(12)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def folding() -> None:
        while not stop.is_set():
            try:
                rollups.fold(hub_engine)
            except Exception as exc:
                errors.append(exc)

    def uploading(gate: DeviceBundle) -> None:
        with hub_engine.connect() as conn:
            found = device_key(conn, gate.device_id, "-")
        assert found is not None
        after = None
        for n in range(30):
            first = (after or 0) + 1
            items = [
                make_check(seq, wall_ms=NOON_SHANGHAI - (seq % 5) * 3_600_000, gate=gate.gate,
                           **({"verdict": "deny", "reason": "code_red"} if seq % 7 == 0 else {}))
                for seq in range(first, first + 1 + n % 4)
            ]  # fmt: skip
            try:
                with hub_engine.begin() as conn:
                    ingest_batch(conn, found[0], make_batch(gate, after, items), now_ms())
            except Exception as exc:
                errors.append(exc)
                return
            after = items[-1].seq

    folder = threading.Thread(target=folding)
    folder.start()
    uploads = [threading.Thread(target=uploading, args=(gate,)) for gate in gates]
    for thread in uploads:
        thread.start()
    for thread in uploads:
        thread.join()
    stop.set()
    folder.join()
    rollups.fold(hub_engine)
    assert errors == []
    assert folded(hub_engine) == recount(hub_engine) != {}
