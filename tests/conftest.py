"""Shared fixtures: real SQLite files, a real hub on 127.0.0.1, enrolled devices."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from core.bundle import DeviceBundle
from core.policy import Policy
from edge.kiosk.runtime import Kiosk
from edge.store import CheckStore
from gatecheck.samples import render_frame, write_png
from hub.core.config import HubSettings
from hub.core.db import create_schema, make_engine
from hub.main import create_app
from hub.registry import Site, create_site, enrol_device
from hub.server import BackgroundHub
from provisioning.issuers import IssuerSecret, create_issuer, issue_code
from tests.hub_process import free_port
from tests.kiosk_helpers import GUARD_ID, GUARD_NAME, GUARD_PIN, FrameFeed, SettableSensor
from tests.postgres import PostgresUnavailable, fresh_database, postgres_server

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
VENDORED = Path(__file__).resolve().parent / "data"


def data_set(full: str, subset: str) -> Path:
    """``../shared/testdata/<full>`` when the full sets are beside the checkout, else the
    subset that travels with the project (``tests/data/<subset>``, see its README)."""
    whole = SHARED / "testdata" / full
    return whole if whole.exists() else VENDORED / subset


@pytest.fixture(autouse=True, scope="session")
def _no_real_device_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Never pick up a real device's settings (/var/lib/gatecheck/gatecheck.env) in tests:
    an empty device home for the session, the environment restored afterwards."""
    saved = os.environ.get("GATECHECK_HOME")
    os.environ["GATECHECK_HOME"] = str(tmp_path_factory.mktemp("device-home"))
    yield
    if saved is None:
        os.environ.pop("GATECHECK_HOME", None)
    else:
        os.environ["GATECHECK_HOME"] = saved


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Hub test modules that set ``BOTH_DATABASES = True`` run on SQLite and PostgreSQL."""
    if "hub_database_url" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_DATABASES", False):
        metafunc.parametrize("hub_database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    try:
        with postgres_server(free_port()) as url:
            yield url
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            raise  # CI must test PostgreSQL: make test installs it
        pytest.skip(str(exc))


@pytest.fixture
def hub_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    with fresh_database(request.getfixturevalue("postgres_admin_url")) as url:
        yield url


@pytest.fixture
def hub_app(hub_database_url: str) -> Iterator[FastAPI]:
    create_schema(make_engine(hub_database_url))  # as `gatecheck hub migrate` does, once
    app = create_app(HubSettings(database_url=hub_database_url))
    yield app
    app.state.engine.dispose()


@pytest.fixture
def hub_engine(hub_app: FastAPI) -> Engine:
    engine: Engine = hub_app.state.engine
    return engine


@pytest.fixture
def live_hub(hub_app: FastAPI) -> Iterator[BackgroundHub]:
    with BackgroundHub(hub_app) as server:
        yield server


@pytest.fixture
def site(hub_engine: Engine, request: pytest.FixtureRequest) -> Site:
    """The test site; ``@pytest.mark.site_policy(...)`` changes its rules."""
    marker = request.node.get_closest_marker("site_policy")
    policy = Policy(**marker.kwargs) if marker else None
    return create_site(hub_engine, "Test Compound", "Asia/Shanghai", policy=policy)


@pytest.fixture
def issuer(hub_engine: Engine) -> IssuerSecret:
    """A registered gc1 issuer; devices enrolled after it trust its codes."""
    return create_issuer(hub_engine, "Test Issuer")


@pytest.fixture
def signed(issuer: IssuerSecret):  # type: ignore[no-untyped-def]
    """Make a gc1 payload: signed(holder, colour='green', valid=timedelta(days=1), **kw)."""

    def make(holder: str, colour: str = "green", valid: timedelta = timedelta(days=1), **kw: Any) -> str:
        return issue_code(issuer, holder, "张*", colour, valid, **kw)  # type: ignore[arg-type]

    return make


@pytest.fixture
def bundle(
    hub_engine: Engine, site: Site, live_hub: BackgroundHub, tmp_path: Path, issuer: IssuerSecret
) -> DeviceBundle:
    device = enrol_device(hub_engine, site.id, "North gate", live_hub.url)
    device.save(tmp_path / "device.json")
    return device


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CheckStore]:
    check_store = CheckStore(tmp_path / "edge.db")
    yield check_store
    check_store.close()


@pytest.fixture
def qr_png(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a camera-like frame holding a code; returns its path."""

    def make(payload: str, name: str | None = None, **kwargs: object) -> Path:
        path = tmp_path / "images" / (name or f"{zlib.crc32(payload.encode())}.png")
        return write_png(path, render_frame(payload, **kwargs))  # type: ignore[arg-type]

    return make


def copy_device(bundle: DeviceBundle, engine: Engine) -> None:
    """Register an already enrolled device (same id and key) in another hub database."""
    from sqlalchemy import insert

    from core.protocol import public_key_for
    from hub.core.db import create_schema, devices, policy_versions, sites
    from hub.policies import first_version
    from hub.registry import ensure_organisation

    create_schema(engine)
    org_id = ensure_organisation(engine, "Copied")
    with engine.begin() as conn:
        site = {"id": bundle.site_id, "name": bundle.site_name, "timezone": bundle.timezone, "org_id": org_id}
        conn.execute(insert(sites).values(**site, pseudonym_key=bundle.pseudonym_key_bytes, created_at_ms=0))
        conn.execute(insert(policy_versions), [first_version(bundle.site_id, bundle.policy, 0)])
        public_key = public_key_for(bundle.signing_key_bytes)
        conn.execute(
            insert(devices).values(
                id=bundle.device_id, site_id=bundle.site_id, gate=bundle.gate, public_key=public_key,
                status="active", created_at_ms=0,
            )
        )  # fmt: skip


def cli(*args: str) -> tuple[int, str]:
    """Run a ``gatecheck`` command in this process: (exit code, output). An unexpected
    exception fails the test with its traceback rather than becoming exit code 1."""
    from click.testing import CliRunner

    from gatecheck.cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


ADMIN_PASSWORD = "correct horse battery"


def form_token(html: str) -> str:
    """The CSRF token a hub page put in its forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in(client: httpx.Client | TestClient, username: str, password: str) -> httpx.Response:
    """Log in as a browser does (the login page's token, then the form). When it works,
    the session's CSRF token goes into the client's headers, as the pages' forms send it."""
    token = form_token(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    if answer.status_code == 303:
        client.headers["X-CSRF-Token"] = form_token(client.get("/").text)
    return answer


def admin_session(base_url: str, engine: Engine, username: str = "admin") -> httpx.Client:
    """An HTTP client logged in to the hub as an admin (created if needed)."""
    from hub.auth import create_user

    create_user(engine, username, ADMIN_PASSWORD, "admin")
    client = httpx.Client(base_url=base_url, timeout=10)
    response = log_in(client, username, ADMIN_PASSWORD)
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def client(hub_app: FastAPI) -> TestClient:
    """A browser-like client, logged in as an admin (devices sign their own requests)."""
    from hub.auth import create_user

    create_user(hub_app.state.engine, "admin", ADMIN_PASSWORD, "admin")
    client = TestClient(hub_app)
    assert log_in(client, "admin", ADMIN_PASSWORD).status_code == 303
    return client


@pytest.fixture
def device(hub_engine: Engine, site: Site) -> DeviceBundle:
    """A device enrolled at the site, for tests that post to the hub directly."""
    return enrol_device(hub_engine, site.id, "North", "http://127.0.0.1:9")


@pytest.fixture
def offline_bundle(hub_engine: Engine, site: Site, issuer: IssuerSecret) -> DeviceBundle:
    """A device whose hub cannot be reached (nothing listens on its port)."""
    return enrol_device(hub_engine, site.id, "North gate", f"http://127.0.0.1:{free_port()}")


@contextmanager
def running_kiosk(
    bundle: DeviceBundle, store: CheckStore
) -> Iterator[tuple[Kiosk, FrameFeed, SettableSensor]]:
    """The gate screen's runtime over a fed camera, with guard G01 on file."""
    from edge.guards import GuardBook
    from edge.station import GateStation

    sensor, feed = SettableSensor(), FrameFeed()
    gate = Kiosk(GateStation(bundle, store), sensor)
    GuardBook(store).add(GUARD_ID, GUARD_NAME, GUARD_PIN)
    camera = gate.start_camera(feed)
    yield gate, feed, sensor
    feed.unplug()
    camera.join(timeout=10)


@pytest.fixture
def kiosk(
    offline_bundle: DeviceBundle, store: CheckStore
) -> Iterator[tuple[Kiosk, FrameFeed, SettableSensor]]:
    """A gate screen whose hub cannot be reached."""
    with running_kiosk(offline_bundle, store) as gate:
        yield gate


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs to fill up (skipped where mounting is not allowed)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill_disk(folder: Path) -> Path:
    """Fill the file system under ``folder``; remove the returned file to free it."""
    filler = folder / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Move the device's clocks (wall and monotonic) forward by so many seconds."""
    from edge import clock

    offset = {"ms": 0}
    real = clock.now

    def shifted() -> Any:
        now = real()
        return dataclasses.replace(
            now, wall_ms=now.wall_ms + offset["ms"], mono_ms=now.mono_ms + offset["ms"]
        )

    monkeypatch.setattr(clock, "now", shifted)

    def advance(seconds: float) -> None:
        offset["ms"] += int(seconds * 1000)

    return advance
