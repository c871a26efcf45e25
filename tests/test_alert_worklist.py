"""Alerts as a worklist: acknowledged with the action taken and a note (in Chromium, on a
phone), the history readable afterwards; an alert past its reporting deadline escalates
once (edges tested with a controlled clock) and the webhook hears of it again; an
override is shown as one; which denials alert is the site's policy. Both databases."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, insert, select

from core.policy import Policy
from hub import queries
from hub.alerts import escalate_overdue
from hub.auth import create_user
from hub.core.config import HubSettings
from hub.core.db import alerts, create_schema, make_engine
from hub.main import create_app
from hub.registry import Site, create_site, enrol_device
from hub.server import BackgroundHub
from tests.browser import chromium, keep_screenshot, log_in_page
from tests.conftest import ADMIN_PASSWORD
from tests.hub_helpers import make_batch, make_check, now_ms, post

BOTH_DATABASES = True


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def raise_alerts(client: TestClient, engine: Engine, site: Site, at: int) -> None:
    """A fever the gate sent to the fever clinic, a red code a guard then overrode to
    admit, a yellow code and a refusal."""
    device = enrol_device(engine, site.id, "北门", "http://127.0.0.1:9")
    batch = [
        make_check(1, at, verdict="deny", reason="fever", temp_c=38.5),
        make_check(2, at, verdict="deny", reason="code_red"),
        make_check(3, at, verdict="admit", reason="override", refers_to=2, flags=["override"]),
        make_check(4, at, verdict="deny", reason="code_yellow"),
        make_check(5, at, verdict="deny", reason="refused"),
        make_check(6, at, verdict="deny", reason="fever_handled", temp_c=None, refers_to=1,
                   flags=["disposition_fever_clinic"]),
    ]  # fmt: skip
    assert post(client, device, make_batch(device, 0, batch)).status_code == 200


def test_escalation_edges_and_the_webhook_hearing_again(client: TestClient, hub_engine: Engine) -> None:
    site = create_site(hub_engine, "阳光花园", "Asia/Shanghai")
    at = now_ms() - 60_000
    raise_alerts(client, hub_engine, site, at)
    settings = HubSettings(fever_report_min=30, alert_report_min=60)
    assert escalate_overdue(hub_engine, settings, at + 30 * 60_000 - 1) == []  # not yet
    fever = escalate_overdue(hub_engine, settings, at + 30 * 60_000 + 1_000)
    assert [(a["reason"], a["escalated"]) for a in fever] == [("fever", True)]
    assert escalate_overdue(hub_engine, settings, at + 59 * 60_000) == []  # once each
    red = escalate_overdue(hub_engine, settings, at + 61 * 60_000)
    assert [a["reason"] for a in red] == ["code_red"]  # yellow and refusals: not alerted here
    with hub_engine.connect() as conn:
        reasons = sorted(conn.scalars(select(alerts.c.reason)))
    assert reasons == ["code_red", "fever"]


def test_a_site_may_alert_yellow_codes_and_refusals(client: TestClient, hub_engine: Engine) -> None:
    strict = create_site(
        hub_engine, "静安小学", "Asia/Shanghai",
        policy=Policy(alert_reasons=frozenset({"fever", "code_red", "code_yellow", "refused"})),
    )  # fmt: skip
    raise_alerts(client, hub_engine, strict, now_ms())
    with hub_engine.connect() as conn:
        reasons = sorted(conn.scalars(select(alerts.c.reason)))
    assert reasons == ["code_red", "code_yellow", "fever", "refused"]


def test_the_hub_escalates_by_itself_and_posts_again(hub_database_url: str, webhook: str) -> None:
    create_schema(make_engine(hub_database_url))
    settings = HubSettings(database_url=hub_database_url, alert_webhook_url=webhook, escalate_every_s=1)
    app = create_app(settings)
    engine = app.state.engine
    site = create_site(engine, "东门菜市场", "Asia/Shanghai")
    with BackgroundHub(app) as hub, TestClient(app) as client:
        raise_alerts(client, engine, site, now_ms() - 2 * 3_600_000)  # two hours ago, nobody acted
        deadline = time.monotonic() + 20
        while not any(a.get("escalated") for body in Hook.received for a in body["alerts"]):
            assert time.monotonic() < deadline, f"no escalation reached the webhook ({hub.url})"
            time.sleep(0.2)
    escalated = [a for body in Hook.received for a in body["alerts"] if a.get("escalated")]
    assert sorted(a["reason"] for a in escalated) == ["code_red", "fever"]
    app.state.engine.dispose()


def test_a_manager_acknowledges_with_action_and_note_and_the_history_stays(
    client: TestClient, hub_engine: Engine, hub_app: Any, tmp_path: Path
) -> None:
    site = create_site(hub_engine, "阳光花园", "Asia/Shanghai")
    raise_alerts(client, hub_engine, site, now_ms() - 5 * 60_000)
    create_user(hub_engine, "王经理", ADMIN_PASSWORD, "manager", [site.id])
    with BackgroundHub(hub_app) as hub, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        log_in_page(page, hub.url, "王经理", ADMIN_PASSWORD)
        page.wait_for_selector("#alerts")
        assert page.locator("#alerts [data-k=overridden]").count() == 1  # the red code let in by a guard
        fever = page.locator("#alerts tr.alert").filter(has_text="体温异常")
        assert "现场处置：已送发热门诊" in fever.inner_text()  # what the gate recorded
        assert fever.locator("select[name=action]").input_value() == ""  # no default
        fever.locator("select[name=action]").select_option("observation_point")
        fever.locator("input[name=note]").fill("已通知社区卫生服务中心")
        fever.locator("button").click()
        page.wait_for_selector("#alerts tr.alert >> nth=0")
        assert page.locator("#alerts tr.alert").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.goto(f"{hub.url}/sites/{site.id}")
        history = page.locator("#history")
        assert "已送临时观察点 — 已通知社区卫生服务中心" in history.inner_text()
        assert "王经理" in history.inner_text() and "未处理" in history.inner_text()
        history.screenshot(path=str(tmp_path / "dashboard-alert-history.png"))
    keep_screenshot(tmp_path / "dashboard-alert-history.png")
    with hub_engine.connect() as conn:
        row = conn.execute(select(alerts).where(alerts.c.reason == "fever")).one()
    assert (row.acked_by, row.action, row.note) == ("王经理", "observation_point", "已通知社区卫生服务中心")


def test_the_overview_lists_the_newest_alerts_and_alerts_lists_them_all(
    client: TestClient, hub_engine: Engine, hub_app: Any
) -> None:
    """Sixty open fevers: the overview shows the newest twenty and says how many are open;
    /alerts shows every one, a page at a time; handling one there returns there, and a
    form cannot send the manager to another site afterwards."""
    site = create_site(hub_engine, "阳光花园", "Asia/Shanghai")
    device = enrol_device(hub_engine, site.id, "北门", "http://127.0.0.1:9")
    at = now_ms() - 3_600_000
    fevers = [make_check(i, at + i * 1000, verdict="deny", reason="fever", temp_c=38.1) for i in range(1, 61)]
    assert post(client, device, make_batch(device, 0, fevers)).status_code == 200

    def listed(html: str) -> list[int]:
        return [int(i) for i in re.findall(r'<tr class="alert[^"]*" data-alert="(\d+)"', html)]

    overview = client.get("/").text
    newest = listed(overview)
    assert len(newest) == HubSettings().overview_alerts == 20
    assert "告警 (60)" in overview and 'href="/alerts"' in overview
    pages = [listed(client.get(f"/alerts?page={n}").text) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [50, 10, 0]
    assert pages[0][:20] == newest  # the same order, newest first
    with hub_engine.connect() as conn:
        ids_by_seq = dict(conn.execute(select(alerts.c.seq, alerts.c.id)).all())
    assert pages[0] + pages[1] == [ids_by_seq[seq] for seq in range(60, 0, -1)]
    oldest = pages[1][-1]
    ack = f"/sites/{site.id}/alerts/{oldest}/ack"
    away = {"action": "false_alarm", "back": "//evil.example/"}
    assert client.post(ack, data=away, follow_redirects=False).status_code == 422
    handled = client.post(ack, data=away | {"back": "/alerts?page=2"}, follow_redirects=False)
    assert (handled.status_code, handled.headers["location"]) == (303, "/alerts?page=2")
    assert oldest not in listed(client.get("/alerts?page=2").text)
    assert "告警 (59)" in client.get("/").text

    create_user(hub_engine, "王经理", ADMIN_PASSWORD, "manager", [site.id])
    with BackgroundHub(hub_app) as hub, chromium() as browser:  # on a phone, from the overview
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        log_in_page(page, hub.url, "王经理", ADMIN_PASSWORD)
        page.click("#more-alerts a")
        page.click("#pager a >> text=2")
        rows = page.locator("#alerts tr.alert")
        assert rows.count() == 9
        rows.first.locator("select[name=action]").select_option("observation_point")
        rows.first.locator("button").click()
        page.wait_for_url("**/alerts?page=2")
        assert page.locator("#alerts tr.alert").count() == 8
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


def _plan(engine: Engine, read: Any) -> str:
    """The database's plan for the statements ``read`` runs (after fresh statistics)."""
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    event.listen(engine, "before_cursor_execute", keep)
    try:
        read()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        return "\n".join(
            str(row[-1]) for statement, parameters in seen
            for row in conn.exec_driver_sql(explain + statement, parameters)
        )  # fmt: skip


def test_open_alerts_and_what_came_after_them_are_read_through_their_indexes(
    client: TestClient, hub_engine: Engine
) -> None:
    """A guard's override recorded 1,500 checks after the red code it let in is still
    shown as one, and the open alerts among thousands acknowledged are read through the
    ``alerts_open`` index, what came after each through ``checks_referring`` — not by
    scanning every alert, or each alert's device's next checks."""
    site = create_site(hub_engine, "阳光花园", "Asia/Shanghai")
    device = enrol_device(hub_engine, site.id, "北门", "http://127.0.0.1:9")
    at = now_ms() - 3_600_000
    log = [make_check(1, at, verdict="deny", reason="code_red")]
    log += [make_check(seq, at + seq) for seq in range(2, 1502)]
    log.append(make_check(1502, at, verdict="admit", reason="override", refers_to=1, flags=["override"]))
    for start in range(0, len(log), 500):
        batch = make_batch(device, start or None, log[start : start + 500])
        assert post(client, device, batch).status_code == 200
    handled = [
        {"site_id": site.id, "id": 10_000 + i, "device_id": device.device_id, "seq": 10_000 + i,
         "gate": "北门", "reason": "fever", "temp_c": 38.2, "event_ms": at - i, "received_ms": at - i,
         "acked_by": "王经理", "acked_at_ms": at, "action": "false_alarm"}
        for i in range(3000)
    ]  # fmt: skip
    with hub_engine.begin() as conn:
        conn.execute(insert(alerts), handled)

    (red,) = queries.open_alerts(hub_engine, None)
    assert (red.reason, red.overridden) == ("code_red", True)
    plan = _plan(hub_engine, lambda: queries.open_alerts(hub_engine, [site.id]))
    # PostgreSQL names each month partition's copy of checks_referring after its columns.
    referring = "checks_referring" if hub_engine.dialect.name == "sqlite" else "_refers_to_idx"
    assert "alerts_open" in plan and referring in plan, plan
