"""Hub reports: local days across timezones and DST, late data, recompute, completeness
and zero reports, alerts and the webhook, roles and refusals, metrics."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select, update

from core.bundle import DeviceBundle
from gatecheck.cli import main
from hub import queries
from hub.auth import create_user
from hub.core.config import HubSettings
from hub.core.db import daily_counts, device_status, devices
from hub.main import create_app
from hub.recompute import recompute
from hub.registry import Site, create_site, enrol_device
from tests.conftest import log_in
from tests.hub_helpers import make_batch, make_check, post

BOTH_DATABASES = True


def at(local: str, tz: str) -> int:
    """Epoch ms of a site-local wall time."""
    return int(datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def counts_table(engine: Engine, site_id: str) -> set[tuple[str, str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(daily_counts.c.local_date, daily_counts.c.metric, daily_counts.c.n).where(
                daily_counts.c.site_id == site_id
            )
        )
        return {(r.local_date, r.metric, r.n) for r in rows}


def days(
    client: TestClient, site_id: str, start: str = "2026-01-01", end: str = "2026-12-31"
) -> dict[str, Any]:
    answer = client.get(f"/api/v1/sites/{site_id}/daily", params={"start": start, "end": end})
    assert answer.status_code == 200, answer.text
    return {d["date"]: d for d in answer.json()}


def test_dst_transitions_keep_local_days(client: TestClient, hub_engine: Engine) -> None:
    """Berlin leaves summer time on 2026-10-25: 02:30 happens twice, the day has 25 hours."""
    tz = "Europe/Berlin"
    site = create_site(hub_engine, "Berlin branch", tz)
    dev = enrol_device(hub_engine, site.id, "Main", "http://127.0.0.1:9")
    moments = ["2026-10-24T23:59:00", "2026-10-25T00:30:00", "2026-10-25T02:30:00", "2026-10-25T23:59:30"]
    instants = [at(m, tz) for m in moments] + [at("2026-10-25T02:30:00", tz) + 3_600_000]  # the second 02:30
    post(
        client,
        dev,
        make_batch(dev, 0, [make_check(i + 1, wall_ms=ms - i - 1) for i, ms in enumerate(instants)]),
    )
    found = days(client, site.id)
    assert (found["2026-10-24"]["checks"], found["2026-10-25"]["checks"]) == (1, 4)
    assert found["2026-10-25"]["by_hour"] == {"00": 1, "02": 2, "23": 1}


def test_late_data_lands_on_its_own_day(client: TestClient, device: DeviceBundle, site: Site) -> None:
    tz = site.timezone
    post(client, device, make_batch(device, 0, [make_check(1, wall_ms=at("2026-11-20T09:00:00", tz) - 1)]))
    # Three days later a gate that was offline delivers a check from the 18th.
    post(client, device, make_batch(device, 1, [make_check(2, wall_ms=at("2026-11-18T08:00:00", tz) - 2)]))
    found = days(client, site.id)
    assert found["2026-11-18"]["checks"] == 1 and found["2026-11-20"]["checks"] == 1


def test_recompute_equals_incremental(client: TestClient, hub_engine: Engine, site: Site) -> None:
    gates = [enrol_device(hub_engine, site.id, g, "http://127.0.0.1:9") for g in ("North", "South")]
    base = at("2026-11-19T07:00:00", site.timezone)
    for dev in gates:
        batch = [
            make_check(
                i,
                wall_ms=base + i * 2_700_000 - i,
                gate=dev.gate,
                holder=f"{i % 7:032x}",
                verdict="deny" if i % 5 == 0 else "admit",
                reason="fever" if i % 5 == 0 else "ok",
                temp_source="manual" if i % 4 == 0 else "sensor",
            )
            for i in range(1, 60)
        ]
        post(client, dev, make_batch(dev, 0, batch))
    incremental = counts_table(hub_engine, site.id)
    assert any(metric == "holders" for _, metric, _ in incremental)
    recompute(hub_engine, site.id, date(2026, 11, 1), date(2026, 11, 30))
    assert counts_table(hub_engine, site.id) == incremental
    result = CliRunner().invoke(
        main, ["hub", "recompute", "--database-url", hub_engine.url.render_as_string(hide_password=False),
               "--site", site.id, "--from", "2026-11-01", "--to", "2026-11-30"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert counts_table(hub_engine, site.id) == incremental


def test_unique_people_and_devices_reporting(client: TestClient, hub_engine: Engine, site: Site) -> None:
    noon = at("2026-11-19T12:00:00", site.timezone)
    for gate in ("North", "South"):
        dev = enrol_device(hub_engine, site.id, gate, "http://127.0.0.1:9")
        same_people = [
            make_check(i, wall_ms=noon + i * 1000 - i, holder=f"{i % 3:032x}") for i in range(1, 7)
        ]
        post(client, dev, make_batch(dev, 0, same_people))
    day = days(client, site.id)["2026-11-19"]
    assert (day["checks"], day["holders"], day["devices"]) == (12, 3, 2)


def _device_synced_until(engine: Engine, device_id: str, ms: int) -> None:
    with engine.begin() as conn:
        site_id = conn.scalar(select(devices.c.site_id).where(devices.c.id == device_id))
        done = conn.execute(
            update(device_status).where(device_status.c.device_id == device_id).values(synced_until_ms=ms)
        )
        if not done.rowcount:  # never uploaded: as if one upload had said so
            conn.execute(
                insert(device_status).values(
                    site_id=site_id, device_id=device_id, last_seen_ms=ms, last_boot_id="b",
                    clock_skew_ms=0, backlog=0, synced_until_ms=ms,
                )
            )  # fmt: skip


def _enrolled_at(engine: Engine, device_id: str, ms: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.id == device_id).values(created_at_ms=ms))


def test_zero_report_waiting_and_late(client: TestClient, hub_engine: Engine, site: Site) -> None:
    north = enrol_device(hub_engine, site.id, "North", "http://127.0.0.1:9")
    south = enrol_device(hub_engine, site.id, "South", "http://127.0.0.1:9")
    yesterday = (datetime.now(UTC).astimezone(ZoneInfo(site.timezone)) - timedelta(days=1)).date()
    end_of_day = at(f"{yesterday + timedelta(days=1)}T00:00:00", site.timezone)
    for dev in (north, south):
        _enrolled_at(hub_engine, dev.device_id, at("2026-01-01T00:00:00", site.timezone))

    def status() -> dict[str, Any]:
        answer = client.get(f"/api/v1/sites/{site.id}/status", params={"date": yesterday.isoformat()})
        assert answer.status_code == 200
        return dict(answer.json())

    _device_synced_until(hub_engine, north.device_id, end_of_day + 1000)
    first = status()
    assert first["state"] in ("waiting", "late") and first["waiting_for"] == ["South"]
    _device_synced_until(hub_engine, south.device_id, end_of_day + 5000)
    assert status()["state"] == "zero_report"  # both synced past midnight, nothing happened
    fever = make_check(1, wall_ms=end_of_day - 3_600_000 - 1, verdict="deny", reason="fever")
    post(client, north, make_batch(north, 0, [fever]))
    _device_synced_until(hub_engine, north.device_id, end_of_day + 9000)
    assert status()["state"] == "reported"
    long_ago = date(2026, 1, 5)
    old = client.get(f"/api/v1/sites/{site.id}/status", params={"date": long_ago.isoformat()}).json()
    assert old["state"] in ("zero_report", "reported")  # both devices synced past that day too


def test_a_day_some_device_never_finished_is_late_after_the_deadline(
    client: TestClient, hub_engine: Engine, site: Site
) -> None:
    east = enrol_device(hub_engine, site.id, "East", "http://127.0.0.1:9")
    before_east = client.get(f"/api/v1/sites/{site.id}/status", params={"date": "2026-01-05"}).json()
    assert before_east["state"] == "no_devices"  # never a zero report for a day nobody watched
    _enrolled_at(hub_engine, east.device_id, at("2026-01-01T00:00:00", site.timezone))
    answer = client.get(f"/api/v1/sites/{site.id}/status", params={"date": "2026-01-05"}).json()
    assert answer["state"] == "late" and answer["waiting_for"] == ["East"]
    assert answer["deadline"].startswith("2026-01-06T12:00")


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Receiver.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_fever_and_red_code_alerts_reach_the_list_and_the_webhook(
    hub_database_url: str, site: Site, hub_engine: Engine
) -> None:
    _Receiver.received = []
    receiver = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        app = create_app(HubSettings(database_url=hub_database_url, alert_webhook_url=url))
        create_user(app.state.engine, "boss", "correct horse battery", "admin")
        with TestClient(app) as http:
            assert log_in(http, "boss", "correct horse battery").status_code == 303
            dev = enrol_device(app.state.engine, site.id, "North", "http://127.0.0.1:9")
            fever = make_check(1, verdict="deny", reason="fever", temp_c=38.6)
            batch = [fever, make_check(2, verdict="deny", reason="code_red"), make_check(3)]
            assert post(http, dev, make_batch(dev, 0, batch)).status_code == 200
            listed = http.get("/api/v1/alerts").json()
            assert sorted(a["reason"] for a in listed) == ["code_red", "fever"]
            ack = f"/sites/{site.id}/alerts/{listed[0]['id']}/ack"
            assert http.post(ack, follow_redirects=False).status_code == 422  # what was done?
            handled = {"action": "reported_community", "note": "已报街道"}
            assert http.post(ack, data=handled, follow_redirects=False).status_code == 303
            assert len(http.get("/api/v1/alerts").json()) == 1
    finally:
        receiver.shutdown()
    assert [sorted(a["reason"] for a in body["alerts"]) for body in _Receiver.received] == [
        ["code_red", "fever"]
    ]


@pytest.fixture
def two_sites(hub_app: FastAPI, hub_engine: Engine) -> tuple[Site, Site, TestClient]:
    mine = create_site(hub_engine, "Mine", "Asia/Shanghai")
    theirs = create_site(hub_engine, "Theirs", "Asia/Shanghai")
    for site in (mine, theirs):
        dev = enrol_device(hub_engine, site.id, "Gate", "http://127.0.0.1:9")
        admin = TestClient(hub_app)
        post(admin, dev, make_batch(dev, 0, [make_check(1)]))
    create_user(hub_engine, "li", "manager password", "manager", [mine.id])
    manager = TestClient(hub_app)
    assert log_in(manager, "li", "manager password").status_code == 303
    return mine, theirs, manager


def test_a_manager_sees_and_exports_only_their_sites(two_sites: tuple[Site, Site, TestClient]) -> None:
    mine, theirs, manager = two_sites
    assert [s["id"] for s in manager.get("/api/v1/sites").json()] == [mine.id]
    page = manager.get("/").text
    assert "Mine" in page and "Theirs" not in page
    api = f"/api/v1/sites/{theirs.id}"
    for path in (
        f"{api}/daily",
        f"{api}/status",
        f"{api}/devices",
        f"/sites/{theirs.id}",
        f"/sites/{theirs.id}/report.csv",
    ):
        assert manager.get(path).status_code == 404, path
    days = {"start": "2026-11-18", "end": "2026-11-21"}
    export = manager.get(f"/sites/{mine.id}/report.csv", params=days | {"lang": "en"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [r["Date"] for r in rows] == ["2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21"]
    assert rows[2]["Checked"] == "1" and rows[0]["Checked"] == ""
    assert {r["Report"] for r in rows} == {"No gate enrolled that day"}  # enrolled after these days
    assert rows[2]["Gate:North"] == "1" and sum(int(rows[2][f"{h:02d}h"]) for h in range(24)) == 1
    chinese = manager.get(f"/sites/{mine.id}/report.csv", params=days | {"lang": "zh-CN"})
    header = next(csv.reader(io.StringIO(chinese.text.lstrip("\ufeff"))))
    assert header[:4] == ["场所", "日期", "上报状态", "核验人次"] and "出入口:North" in header


def test_unauthenticated_access_is_refused_everywhere_but_login_and_devices(
    hub_app: FastAPI, site: Site, hub_engine: Engine
) -> None:
    anonymous = TestClient(hub_app)
    for route in hub_app.routes:
        path = getattr(route, "path", "")
        methods = getattr(route, "methods", set())
        if path in ("/login", "/healthz", "/readyz") or path.startswith(
            ("/api/v1/ingest", "/api/v1/device/")
        ):
            continue
        concrete = path.replace("{site_id}", site.id).replace("{alert_id}", "1")
        for method in methods - {"HEAD"}:
            answer = anonymous.request(method, concrete, follow_redirects=False)
            assert answer.status_code in (303, 401), (method, path, answer.status_code)
            if answer.status_code == 303:
                assert answer.headers["location"] == "/login"
    assert anonymous.get("/login").status_code == 200
    # Device routes are not open either: they need a valid device signature.
    assert anonymous.post("/api/v1/ingest", content=b"{}").status_code == 401
    assert anonymous.get("/api/v1/device/config").status_code == 401


def test_bad_login_is_refused(hub_app: FastAPI, hub_engine: Engine) -> None:
    create_user(hub_engine, "zhang", "right password", "admin")
    browser = TestClient(hub_app)
    assert log_in(browser, "zhang", "wrong password").status_code == 401
    assert log_in(browser, "nobody", "wrong password").status_code == 401
    assert browser.get("/api/v1/sites").status_code == 401


def test_openapi_and_metrics(hub_database_url: str, client: TestClient, device: DeviceBundle) -> None:
    assert "/api/v1/sites/{site_id}/daily" in client.get("/api/v1/openapi.json").json()["paths"]
    assert "swagger" in client.get("/docs").text.lower()
    token = "scrape-token-0123456789"
    app = create_app(HubSettings(database_url=hub_database_url, metrics_token=token))
    with TestClient(app) as scraper:
        post(
            scraper,
            device,
            make_batch(device, 0, [make_check(1), make_check(2, verdict="deny", reason="fever")]),
        )
        assert scraper.get("/metrics").status_code == 401
        text = scraper.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert "gatecheck_checks_stored_total 2.0" in text and "gatecheck_alerts_total 1.0" in text


def test_placeholder_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        HubSettings(metrics_token="changethis")


def test_overview_pages_through_many_sites_with_totals(
    hub_app: FastAPI, hub_engine: Engine, client: TestClient
) -> None:
    hub_app.state.settings.overview_page_size = 10
    created = [create_site(hub_engine, f"Site {i:03d}", "Asia/Shanghai") for i in range(23)]
    for site in created[:3]:
        dev = enrol_device(hub_engine, site.id, "Gate", "http://127.0.0.1:9")
        post(
            client,
            dev,
            make_batch(dev, 0, [make_check(1, wall_ms=int(datetime.now(UTC).timestamp() * 1000) - 60_000)]),
        )
    first, last = client.get("/?lang=en").text, client.get("/?page=3&lang=en").text
    assert first.count("<tr data-site=") == 2 * 10 and last.count("<tr data-site=") == 2 * 3
    assert 'id="pager"' in first
    totals = first.split('id="totals"')[1].split("</table>")[0]
    assert 'data-k="checks">3<' in totals


def test_a_sites_gates_summed_up_give_its_report_state_and_name_the_quiet_and_the_behind(
    hub_engine: Engine, site: Site
) -> None:
    """A site's gates in one row (``gates_of``) decide the day's state as the gates one by
    one did: a gate enrolled after the day ended owes nothing of it, even with a sync mark
    before its enrolment; the names of the gates behind and of the quiet ones (silent
    past the limit, or never heard from) come sorted, the last contact is the latest."""
    now = int(datetime.now(UTC).timestamp() * 1000)
    yesterday = (datetime.now(UTC).astimezone(ZoneInfo(site.timezone)) - timedelta(days=1)).date()
    end = at(f"{yesterday + timedelta(days=1)}T00:00:00", site.timezone)
    long_ago = end - 30 * 86_400_000
    gates = {  # name: (enrolled, synced until, last heard)
        "西门": (long_ago, end + 1_000, now - 5_000),
        "东门": (long_ago, None, None),
        "北门": (long_ago + 1, end + 10, now - 100),
        "A 门": (end + 60_000, end - 5_000, now - 9_000),
    }
    ids = {}
    for name, (enrolled, synced, heard) in gates.items():
        dev = ids[name] = enrol_device(hub_engine, site.id, name, "http://127.0.0.1:9")
        _enrolled_at(hub_engine, dev.device_id, enrolled)
        if heard is not None:
            with hub_engine.begin() as conn:
                conn.execute(
                    insert(device_status).values(
                        site_id=site.id, device_id=dev.device_id, last_seen_ms=heard, last_boot_id="b",
                        clock_skew_ms=0, backlog=0, synced_until_ms=synced,
                    )
                )  # fmt: skip
    quiet_before = now - 1_000
    summed = queries.gates_of(hub_engine, [site.id], quiet_before)[site.id]
    assert summed == queries.Gates(long_ago, long_ago, now - 100, 3)
    public = queries.get_site(hub_engine, site.id)
    assert public is not None
    (status,) = queries.day_statuses(hub_engine, [(public, yesterday, None)])
    assert (status.state, status.waiting_for) in (("waiting", ["东门"]), ("late", ["东门"]))
    contact = queries.site_contact(hub_engine, site.id, quiet_before)
    assert contact == queries.Contact(now - 100, sorted(["西门", "东门", "A 门"]))
    _device_synced_until(hub_engine, ids["东门"].device_id, end + 1)
    (status,) = queries.day_statuses(hub_engine, [(public, yesterday, None)])
    assert (status.state, status.waiting_for) == ("zero_report", [])  # A 门 came after the day
    assert queries.gates_of(hub_engine, [site.id, "no-such-site"], quiet_before).keys() == {site.id}


def test_overview_counts_pivot_each_site_day_with_its_denial_reasons(hub_engine: Engine) -> None:
    """One row per site-day in range, the metrics in their columns and the denial reasons
    as a mapping (empty without denials); other sites, other days and other metrics left
    out — on both databases (PostgreSQL's JSON aggregate and SQLite's)."""
    a, b, c = (create_site(hub_engine, name, "Asia/Shanghai") for name in ("A", "B", "C"))
    rows = [
        (a.id, "2026-03-01", "checks", 9), (a.id, "2026-03-01", "denied", 3),
        (a.id, "2026-03-01", "fevers", 1),
        (a.id, "2026-03-01", "deny:fever", 1), (a.id, "2026-03-01", "deny:code_red", 2),
        (a.id, "2026-03-01", "gate:东门", 9), (a.id, "2026-03-01", "hour:08", 9),
        (a.id, "2026-03-02", "checks", 4), (a.id, "2026-03-02", "admitted", 4),
        (a.id, "2026-02-20", "checks", 7), (a.id, "2026-02-20", "deny:fever", 7),
        (b.id, "2026-03-02", "checks", 2), (b.id, "2026-03-02", "denied", 2),
        (b.id, "2026-03-02", "deny:mask", 2),
        (c.id, "2026-03-01", "checks", 5), (c.id, "2026-03-01", "deny:fever", 5),
    ]  # fmt: skip
    with hub_engine.begin() as conn:
        conn.execute(
            insert(daily_counts),
            [dict(zip(("site_id", "local_date", "metric", "n"), r, strict=True)) for r in rows],
        )
    for _ in range(7):  # past PostgreSQL's fifth execution: the prepared statement's plan too
        found = queries.overview_counts(hub_engine, [a.id, b.id], date(2026, 3, 1), date(2026, 3, 2))
    assert [
        (d.site_id, d.date, d.checks, d.admitted, d.denied, d.fevers, d.denied_by_reason) for d in found
    ] == sorted(
        [
            (a.id, "2026-03-01", 9, 0, 3, 1, {"fever": 1, "code_red": 2}),
            (a.id, "2026-03-02", 4, 4, 0, 0, {}),
            (b.id, "2026-03-02", 2, 0, 2, 0, {"mask": 2}),
        ],
        key=lambda r: (r[0], r[1]),
    )  # by site, then day
    every = queries.overview_counts(hub_engine, None, date(2026, 3, 1), date(2026, 3, 1))
    assert {(d.site_id, d.checks) for d in every} == {(a.id, 9), (c.id, 5)}


def test_the_worklist_reads_every_sites_gates_and_open_alerts_at_once(
    client: TestClient, hub_engine: Engine
) -> None:
    """``worklist_sites``: the sites a user may see by name, each with its active gates
    summed up (None without any) and its unacknowledged alerts, in one statement."""
    east, west, empty = (create_site(hub_engine, name, "Asia/Shanghai") for name in ("East", "West", "Empty"))
    now = int(datetime.now(UTC).timestamp() * 1000)
    gate = enrol_device(hub_engine, east.id, "East gate", "http://127.0.0.1:9")
    enrol_device(hub_engine, east.id, "North gate", "http://127.0.0.1:9")  # never heard from
    fever, red = (
        make_check(i, wall_ms=now - 60_000 + i, verdict="deny", reason=r)
        for i, r in ((1, "fever"), (2, "code_red"))
    )
    post(client, gate, make_batch(gate, 0, [fever, red]))
    other = enrol_device(hub_engine, west.id, "West gate", "http://127.0.0.1:9")
    post(
        client,
        other,
        make_batch(other, 0, [make_check(1, wall_ms=now - 60_000, verdict="deny", reason="fever")]),
    )
    (alert,) = queries.open_alerts(hub_engine, [west.id])
    assert queries.acknowledge_alert(hub_engine, west.id, alert.id, "admin", "false_alarm", None)
    every = queries.worklist_sites(hub_engine, None, quiet_before_ms=now - 60_000)
    assert [f.site.name for f in every] == ["East", "Empty", "West"]
    found = {f.site.name: f for f in every}
    assert found["East"].open_alerts == 2 and found["East"].gates is not None
    assert found["East"].gates.quiet == 1 and found["East"].gates.last_seen_ms is not None
    assert (
        found["West"].open_alerts == 0 and found["West"].gates is not None and found["West"].gates.quiet == 0
    )
    assert found["Empty"].gates is None and found["Empty"].open_alerts == 0
    mine = queries.worklist_sites(hub_engine, {west.id, empty.id}, quiet_before_ms=now - 60_000)
    assert [f.site.id for f in mine] == [empty.id, west.id]
