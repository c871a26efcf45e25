"""Shared fixtures: real SQLite files, a real hub on 127.0.0.1, enrolled devices."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from edge.store import CheckStore
from gatecheck.samples import render_frame, write_png
from hub.core.config import HubSettings
from hub.main import create_app
from hub.server import BackgroundHub
from provisioning.bundle import DeviceBundle
from provisioning.registry import Site, create_site, enrol_device

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def hub_app(tmp_path: Path) -> FastAPI:
    return create_app(HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}"))


@pytest.fixture
def hub_engine(hub_app: FastAPI) -> Engine:
    engine: Engine = hub_app.state.engine
    return engine


@pytest.fixture
def live_hub(hub_app: FastAPI) -> Iterator[BackgroundHub]:
    with BackgroundHub(hub_app) as server:
        yield server


@pytest.fixture
def site(hub_engine: Engine) -> Site:
    return create_site(hub_engine, "Test Compound", "Asia/Shanghai")


@pytest.fixture
def bundle(hub_engine: Engine, site: Site, live_hub: BackgroundHub, tmp_path: Path) -> DeviceBundle:
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
        path = tmp_path / "images" / (name or f"{abs(hash(payload))}.png")
        return write_png(path, render_frame(payload, **kwargs))  # type: ignore[arg-type]

    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
