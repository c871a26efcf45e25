"""Schemathesis over the hub's OpenAPI document: every documented route, with generated
valid and invalid input, answers a 4xx or a success — never a 5xx. The reports API is
called as a manager (their own site in the path), the admin API as an admin, the device
endpoints signed by an enrolled device. A bounded number of examples per route keeps it
part of ``make test``; both databases (PostgreSQL refuses what SQLite lets pass)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from core.bundle import DeviceBundle
from core.protocol import CONFIG_PATH, INGEST_PATH, sign_request
from hub.auth import create_user
from hub.registry import Site, enrol_device
from hub.server import BackgroundHub
from tests.conftest import ADMIN_PASSWORD

BOTH_DATABASES = True
EXAMPLES = 25
ALL_CHECKS = list(HealthCheck)


@dataclass(frozen=True)
class Target:
    url: str
    site: Site
    device: DeviceBundle


@pytest.fixture
def target(hub_app: FastAPI, hub_engine: Engine, site: Site) -> Iterator[Target]:
    create_user(hub_engine, "admin", ADMIN_PASSWORD, "admin")
    create_user(hub_engine, "manager", ADMIN_PASSWORD, "manager", [site.id])
    with BackgroundHub(hub_app) as hub:
        yield Target(hub.url, site, enrol_device(hub_engine, site.id, "North", hub.url))


def test_no_route_answers_a_server_error(hub_app: FastAPI, target: Target) -> None:
    failures = []
    operations = [
        result.ok() for result in schemathesis.openapi.from_dict(hub_app.openapi()).get_all_operations()
    ]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        def examples(case: schemathesis.Case) -> None:
            call(case, target)

        try:
            examples()
        except Exception as exc:  # the hub's own traceback is in the log; name the route
            failures.append(f"{operation.label}: {type(exc).__name__} {str(exc)[:300]}")
    assert failures == []


def call(case: schemathesis.Case, target: Target) -> None:
    path = case.operation.path
    if "site_id" in (case.path_parameters or {}):
        case.path_parameters["site_id"] = target.site.id  # reach the queries, not just the 404
    request = case.as_transport_kwargs(base_url=target.url)
    body = b""
    if "json" in request:
        payload = request.pop("json")
        if path == INGEST_PATH and isinstance(payload, dict) and "device_id" in payload:
            payload["device_id"] = target.device.device_id
        body = json.dumps(payload).encode()
    headers = {k: str(v) for k, v in (request.pop("headers", None) or {}).items()}
    if path in (INGEST_PATH, CONFIG_PATH):
        headers.update(
            sign_request(target.device.signing_key_bytes, target.device.device_id, case.method, path, body)
        )
        auth = None
    else:
        auth = httpx.BasicAuth("admin" if path.startswith("/api/v1/admin/") else "manager", ADMIN_PASSWORD)
    response = httpx.request(
        case.method,
        request["url"],
        params=request.get("params"),
        content=body or None,
        headers={**headers, "Content-Type": "application/json"} if body else headers,
        cookies=request.get("cookies"),
        auth=auth,
        timeout=30,
    )
    assert response.status_code < 500, (case.method, path, response.status_code, response.text[:300])
