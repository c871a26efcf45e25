"""The dashboard against a hostile web: forged requests from other origins (in a real
browser where a browser is the attack), password guessing, stolen cookies, formula
injection, framing. Every state change needs the session's CSRF token and the hub's own
Origin; sessions end on the hub at logout and on a password change."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from hub import auth
from hub.auth import create_user
from hub.core.config import HubSettings
from hub.core.db import alerts, create_schema, devices, make_engine
from hub.main import create_app
from hub.registry import Site, create_site, enrol_device
from hub.server import BackgroundHub
from tests.browser import chromium
from tests.conftest import ADMIN_PASSWORD, log_in
from tests.hub_helpers import make_batch, make_check, post

BOTH_DATABASES = True


def raise_fever(client: TestClient | httpx.Client, engine: Engine, site: Site) -> tuple[int, str]:
    """A device at the site reports a fever: (alert id, device id)."""
    dev = enrol_device(engine, site.id, "North", "http://127.0.0.1:9")
    fever = make_check(1, verdict="deny", reason="fever", temp_c=38.8)
    assert post(client, dev, make_batch(dev, 0, [fever])).status_code == 200
    with engine.connect() as conn:
        return conn.execute(select(alerts.c.id)).scalar_one(), dev.device_id


def acked(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(alerts.c.acked_by)).scalar_one() is not None


def device_status(engine: Engine, device_id: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(devices.c.status).where(devices.c.id == device_id)).scalar_one())


def test_state_changes_need_the_csrf_token_and_the_hubs_origin(
    client: TestClient, hub_engine: Engine, site: Site
) -> None:
    alert_id, device_id = raise_fever(client, hub_engine, site)
    token = client.headers.pop("X-CSRF-Token")
    assert client.post(f"/sites/{site.id}/alerts/{alert_id}/ack", follow_redirects=False).status_code == 403
    revoke = f"/api/v1/admin/devices/{device_id}/revoke"
    assert client.post(revoke).status_code == 403
    foreign = {"X-CSRF-Token": token, "Origin": "http://testserver:8081"}  # another port: same site
    assert client.post(revoke, headers=foreign).status_code == 403
    assert not acked(hub_engine) and device_status(hub_engine, device_id) == "active"
    ack = f"/sites/{site.id}/alerts/{alert_id}/ack"
    form = client.post(ack, data={"csrf_token": token, "action": "false_alarm"}, follow_redirects=False)
    assert form.status_code == 303 and acked(hub_engine)
    assert client.post(revoke, headers={"X-CSRF-Token": token}).status_code == 200
    assert device_status(hub_engine, device_id) == "revoked"


def test_login_needs_the_login_pages_token(hub_app: FastAPI, hub_engine: Engine) -> None:
    create_user(hub_engine, "zhao", "zhao's password", "admin")
    browser = TestClient(hub_app)
    forged = browser.post("/login", data={"username": "zhao", "password": "zhao's password"})
    assert forged.status_code == 403 and "登录页面已过期" in forged.text
    assert browser.get("/api/v1/sites").status_code == 401


def test_wrong_passwords_lock_the_user_and_then_the_address(hub_app: FastAPI, hub_engine: Engine) -> None:
    create_user(hub_engine, "qian", "qian's password", "admin")
    create_user(hub_engine, "sun", "sun's password", "admin")
    browser = TestClient(hub_app)
    for _ in range(5):
        assert log_in(browser, "qian", "guess").status_code == 401
    locked = log_in(browser, "qian", "qian's password")  # the right one, too late
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 60
    assert "登录失败次数过多" in locked.text
    assert browser.get("/api/v1/sites").status_code == 401
    basic = browser.get("/api/v1/admin/devices", auth=httpx.BasicAuth("qian", "qian's password"))
    assert basic.status_code == 429  # scripts are throttled alike
    assert log_in(browser, "sun", "sun's password").status_code == 303  # another user is not locked
    for n in range(15):  # 5 + 15 = 20 failures from this address
        log_in(browser, f"nobody{n}", "guess")
    assert log_in(browser, "sun", "sun's password").status_code == 429


def test_logout_and_a_new_password_end_the_session_on_the_hub(hub_app: FastAPI, hub_engine: Engine) -> None:
    create_user(hub_engine, "li", "li's password", "admin")
    first, second = TestClient(hub_app), TestClient(hub_app)
    assert log_in(first, "li", "li's password").status_code == 303
    stolen = first.cookies["gatecheck_session"]
    assert first.post("/logout", follow_redirects=False).status_code == 303
    thief = TestClient(hub_app, cookies={"gatecheck_session": stolen})
    assert thief.get("/api/v1/sites").status_code == 401

    assert log_in(second, "li", "li's password").status_code == 303
    assert second.get("/api/v1/sites").status_code == 200
    create_user(hub_engine, "li", "li's new password", "admin")
    assert second.get("/api/v1/sites").status_code == 401


def test_http_basic_only_on_the_json_api_never_the_pages(
    client: TestClient, hub_app: FastAPI, hub_engine: Engine, site: Site
) -> None:
    alert_id, _ = raise_fever(client, hub_engine, site)
    script, basic = TestClient(hub_app), httpx.BasicAuth("admin", ADMIN_PASSWORD)
    assert script.get("/api/v1/admin/devices", auth=basic).status_code == 200
    assert script.get("/api/v1/sites", auth=basic).status_code == 200
    assert script.get("/", auth=basic, follow_redirects=False).status_code == 303
    refused = script.post(f"/sites/{site.id}/alerts/{alert_id}/ack", auth=basic, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == "/login"
    assert not acked(hub_engine)


def test_an_unknown_user_costs_one_password_check_like_a_known_one(
    hub_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_user(hub_engine, "zhou", "zhou's password", "admin")
    auth.authenticate(hub_engine, "warm-up", "x")  # the stand-in hash is made once
    work: list[str] = []
    monkeypatch.setattr(auth, "hash_password", lambda p: work.append("hash") or "")
    real_check = auth.check_password
    monkeypatch.setattr(auth, "check_password", lambda p, h: work.append("check") or real_check(p, h))
    assert auth.authenticate(hub_engine, "zhou", "wrong") is None
    known, work[:] = list(work), []
    assert auth.authenticate(hub_engine, "nobody", "wrong") is None
    assert work == known == ["check"]


def test_pages_carry_security_headers_and_https_cookies(hub_database_url: str, site: Site) -> None:
    app = create_app(HubSettings(database_url=hub_database_url, https=True))
    create_user(app.state.engine, "wu", "wu's password", "admin")
    with TestClient(app, base_url="https://testserver") as browser:
        page = browser.get("/login")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "same-origin"
        assert page.headers["strict-transport-security"].startswith("max-age=")
        assert log_in(browser, "wu", "wu's password").status_code == 303
        cookie = next(c for c in browser.cookies.jar if c.name == "gatecheck_session")
        assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly")
        docs = browser.get("/docs")
        assert docs.status_code == 200 and "http" not in docs.text  # no CDN: everything from here
        assert browser.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
        assert browser.get("/static/docs.js").status_code == 200


def test_csv_cells_cannot_run_as_formulas(client: TestClient, hub_engine: Engine) -> None:
    evil = create_site(hub_engine, "=cmd|' /C calc'!A0", "Asia/Shanghai")
    export = client.get(f"/sites/{evil.id}/report.csv")
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert rows[1][0] == "'=cmd|' /C calc'!A0"


class _Attacker(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def attacker() -> Iterator[tuple[int, type[_Attacker]]]:
    server = HTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], _Attacker
    server.shutdown()


def test_a_page_on_another_port_cannot_act_through_a_logged_in_browser(
    hub_app: FastAPI, hub_engine: Engine, site: Site, attacker: tuple[int, type[_Attacker]]
) -> None:
    create_user(hub_engine, "admin", ADMIN_PASSWORD, "admin")
    port, handler = attacker
    with BackgroundHub(hub_app) as hub, httpx.Client(base_url=hub.url) as device_side:
        alert_id, device_id = raise_fever(device_side, hub_engine, site)
        handler.page = f"""<!doctype html><body>
<form id="ack" method="post" action="{hub.url}/sites/{site.id}/alerts/{alert_id}/ack" target="sink"></form>
<iframe name="sink"></iframe>
<script>
fetch("{hub.url}/api/v1/admin/devices/{device_id}/revoke",
      {{method: "POST", mode: "no-cors", credentials: "include"}})
  .finally(() => {{ document.getElementById("ack").submit(); document.title = "sent"; }});
</script></body>""".encode()
        with chromium() as browser:
            page = browser.new_page()
            page.goto(f"{hub.url}/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("#alerts")
            # Same host, another port: the browser sends the hub's cookie along.
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("document.title === 'sent'")
            page.wait_for_timeout(500)
        assert not acked(hub_engine)
        assert device_status(hub_engine, device_id) == "active"


def test_a_page_on_another_site_cannot_log_the_browser_in(
    hub_app: FastAPI, hub_engine: Engine, attacker: tuple[int, type[_Attacker]]
) -> None:
    create_user(hub_engine, "mallory", "mallory's password", "admin")
    port, handler = attacker
    with BackgroundHub(hub_app) as hub:
        handler.page = f"""<!doctype html><body onload="document.forms[0].submit()">
<form method="post" action="{hub.url}/login">
<input name="username" value="mallory"><input name="password" value="mallory's password">
<input name="csrf_token" value="guessed"></form></body>""".encode()
        with chromium() as browser:
            page = browser.new_page()
            page.goto(f"{hub.url}/login")  # the victim has the login page open: a token cookie
            page.goto(f"http://localhost:{port}/")  # another site
            page.wait_for_load_state("networkidle")
            page.goto(f"{hub.url}/")
            assert page.url.endswith("/login")  # not logged in as mallory


def test_the_hubs_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    create_schema(make_engine(url))
    app = create_app(HubSettings(database_url=url))
    create_user(app.state.engine, "admin", ADMIN_PASSWORD, "admin")  # keys and hashes inside
    for name in ("hub.db", "hub.db-wal"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    app.state.engine.dispose()


def test_a_basic_login_with_a_name_no_user_can_have_is_refused_not_a_500(hub_app: FastAPI) -> None:
    script = TestClient(hub_app)
    for name in ("ad\x00min", "x" * 65, "line\nbreak"):
        answer = script.get("/api/v1/sites", auth=httpx.BasicAuth(name, "whatever password"))
        assert answer.status_code == 401, name
