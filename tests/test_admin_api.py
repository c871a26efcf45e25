"""The hub's admin API behind ``gatecheck provision --hub``: admins only, clear refusals,
and the same effects as provisioning against the database."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from core.bundle import DeviceBundle
from core.protocol import public_key_for
from hub.auth import create_user
from hub.registry import Site
from hub.server import BackgroundHub
from tests.conftest import ADMIN_PASSWORD, cli

BOTH_DATABASES = True


def test_admin_api_refuses_anonymous_and_managers(hub_app: FastAPI, hub_engine: Engine, site: Site) -> None:
    anonymous = TestClient(hub_app)
    assert anonymous.get("/api/v1/admin/devices").status_code == 401
    assert anonymous.post("/api/v1/admin/sites", json={"name": "X", "timezone": "UTC"}).status_code == 401
    wrong = anonymous.get("/api/v1/admin/devices", auth=httpx.BasicAuth("nobody", "wrong password"))
    assert wrong.status_code == 401
    create_user(hub_engine, "wang", ADMIN_PASSWORD, "manager", [site.id])
    manager = anonymous.get("/api/v1/admin/devices", auth=httpx.BasicAuth("wang", ADMIN_PASSWORD))
    assert manager.status_code == 403


def test_admin_api_enrols_rotates_lists_and_revokes(hub_app: FastAPI, hub_engine: Engine) -> None:
    create_user(hub_engine, "root", ADMIN_PASSWORD, "admin")
    api = TestClient(hub_app, base_url="http://hub/api/v1/admin")
    api.auth = httpx.BasicAuth("root", ADMIN_PASSWORD)
    bad = api.post("/sites", json={"name": "Bad", "timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and "unknown timezone" in bad.json()["detail"]
    site = api.post("/sites", json={"name": "东区", "timezone": "Asia/Shanghai"}).json()
    assert (
        api.post("/devices", json={"site_id": "site-none", "gate": "N", "hub_url": "http://h"}).status_code
        == 404
    )
    enrolled = api.post(
        "/devices", json={"site_id": site["id"], "gate": "North", "hub_url": "http://h:8000/"}
    )
    assert enrolled.status_code == 201
    bundle = DeviceBundle.model_validate(enrolled.json())
    assert (bundle.site_name, bundle.hub_url) == ("东区", "http://h:8000")

    rotated = DeviceBundle.model_validate(api.post(f"/devices/{bundle.device_id}/rotate", json={}).json())
    assert rotated.device_id == bundle.device_id and rotated.signing_key != bundle.signing_key
    (listed,) = api.get("/devices", params={"site_id": site["id"]}).json()
    assert listed["status"] == "active" and listed["key_rotated_ms"] is not None

    revoked = api.post(f"/devices/{bundle.device_id}/revoke").json()
    assert revoked["status"] == "revoked" and revoked["revoked_ms"] is not None
    again = api.post(f"/devices/{bundle.device_id}/rotate", json={})
    assert again.status_code == 422 and "revoked" in again.json()["detail"]
    assert api.post("/devices/dev-none/revoke").status_code == 404
    assert public_key_for(rotated.signing_key_bytes) != public_key_for(bundle.signing_key_bytes)


def test_organisations_through_the_cli_on_the_database_and_the_api(
    hub_database_url: str, hub_engine: Engine, live_hub: BackgroundHub
) -> None:
    def run(*args: str) -> str:
        code, output = cli(*args)
        assert code == 0, output
        return output

    org_id = run(
        "provision", "org", "create", "--name", "阳光物业", "--database-url", hub_database_url
    ).strip()
    run("provision", "site", "create", "--name", "东区", "--timezone", "Asia/Shanghai", "--org", "阳光物业",
        "--database-url", hub_database_url)  # fmt: skip
    create_user(hub_engine, "root", ADMIN_PASSWORD, "admin")
    via_api = ["--hub", live_hub.url, "--admin-user", "root", "--admin-password", ADMIN_PASSWORD]
    assert (
        run("provision", "org", "create", "--name", "阳光物业", *via_api).strip() == org_id
    )  # found, not doubled
    assert f"{org_id}\t1\t阳光物业" in run("provision", "org", "list", *via_api).splitlines()
    code, output = cli("provision", "org", "create", "--name", "  ", *via_api)
    assert code != 0 and "must not be empty" in output
