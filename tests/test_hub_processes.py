"""The hub beyond one process: migrations run once by `gatecheck hub migrate`, serving
processes refuse a schema they do not match, readiness for a load balancer, graceful
stop, and exactly-once when one device's batches reach two hub processes at once."""

from __future__ import annotations

import gc
import gzip
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from core.bundle import DeviceBundle
from core.protocol import INGEST_PATH, sign_request
from hub.core.db import alerts, checks, create_schema, daily_counts, make_engine
from hub.registry import Site, enrol_device
from tests.conftest import cli
from tests.hub_helpers import make_batch, make_check
from tests.hub_process import connections_by_process, free_port, listening_sockets, start_hub_process


def test_serve_refuses_a_database_it_does_not_match_and_migrate_fixes_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    code, out = cli("hub", "serve", "--database-url", url, "--port", str(free_port()))
    assert code == 1 and "gatecheck hub migrate" in out and "none (empty)" in out
    code, out = cli("hub", "migrate", "--database-url", url)
    assert code == 0 and "hub database at schema" in out
    assert cli("hub", "migrate", "--database-url", url)[0] == 0  # again: nothing to do
    # The operator's other commands check the schema too instead of changing it.
    behind = f"sqlite:///{tmp_path / 'other.db'}"
    code, out = cli("provision", "site", "list", "--database-url", behind)
    assert code == 1 and "gatecheck hub migrate" in out


def test_readiness_says_when_the_database_is_not_at_this_schema(hub_app: FastAPI, hub_engine: Engine) -> None:
    probe = TestClient(hub_app)
    assert probe.get("/readyz").json() == {"status": "ready"}
    with hub_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    answer = probe.get("/readyz")
    assert answer.status_code == 503 and "gatecheck hub migrate" in answer.json()["detail"]
    assert probe.get("/healthz").status_code == 200  # alive, just not ready


def test_a_serving_hub_freezes_what_it_built_at_start_out_of_the_collector(hub_app: FastAPI) -> None:
    """Full garbage collections scan only what requests made (hub.main, the lifespan)."""
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        with TestClient(hub_app) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


def test_the_pool_keeps_as_many_connections_as_asked_and_bursts_as_many_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}", 3)
    held = [engine.connect() for _ in range(6)]
    assert engine.pool.size() == 3 and engine.pool.overflow() == 3  # type: ignore[attr-defined]
    for conn in held:
        conn.close()
    assert engine.pool.checkedin() == 3  # type: ignore[attr-defined]
    engine.dispose()


def _post_signed(port: int, device: DeviceBundle, body: bytes) -> int:
    """POST a gzipped batch to the hub on ``port`` as the device signs it; the status."""
    headers = sign_request(device.signing_key_bytes, device.device_id, "POST", INGEST_PATH, body)
    answer = httpx.post(
        f"http://127.0.0.1:{port}{INGEST_PATH}",
        content=body,
        headers={**headers, "Content-Encoding": "gzip"},
        timeout=60,
    )
    return answer.status_code


@pytest.fixture
def postgres_hub(postgres_admin_url: str) -> Iterator[tuple[str, Engine]]:
    from tests.postgres import fresh_database

    with fresh_database(postgres_admin_url) as url:
        engine = make_engine(url)
        create_schema(engine)
        yield url, engine
        engine.dispose()


def test_one_devices_batches_at_two_hub_processes_at_once_count_once(
    postgres_hub: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = postgres_hub
    from hub.registry import create_site

    site: Site = create_site(engine, "Two nodes", "Asia/Shanghai")
    device = enrol_device(engine, site.id, "North", "http://127.0.0.1:9")
    ports = [free_port(), free_port()]
    hubs = [start_hub_process(url, ports[0], workers=2), start_hub_process(url, ports[1])]
    try:
        fever = make_check(3, verdict="deny", reason="fever", temp_c=38.7)
        log = [make_check(1), make_check(2), fever, *(make_check(i) for i in range(4, 41))]
        body = gzip.compress(make_batch(device, 0, log).model_dump_json().encode())
        answers: list[int] = []

        def upload(port: int) -> None:  # an agent that timed out on one node retries on another
            answers.append(_post_signed(port, device, body))

        for _ in range(5):  # five rounds of eight simultaneous copies over the two nodes
            senders = [threading.Thread(target=upload, args=(ports[i % 2],)) for i in range(8)]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join(30)
        assert answers == [200] * 40
    finally:
        for hub in hubs:
            hub.send_signal(signal.SIGTERM)
        # Stopped by SIGTERM (uvicorn re-raises it after the graceful shutdown: -15 or 0).
        assert all(hub.wait(timeout=40) in (0, -signal.SIGTERM) for hub in hubs)
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(checks))
        counted = conn.scalar(select(func.sum(daily_counts.c.n)).where(daily_counts.c.metric == "checks"))
        fevers = conn.scalar(select(func.count()).select_from(alerts).where(alerts.c.reason == "fever"))
    assert (stored, counted, fevers) == (40, 40, 1)


def test_uploads_stuck_on_the_database_leave_the_pages_their_own_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uploads have a lane of worker threads of their own (hub.main): while every one of
    them waits on a lock, a person's request is still answered — and the uploads all
    complete once the lock goes."""
    import sqlite3

    from hub.registry import create_site

    path = tmp_path / "hub.db"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    device = enrol_device(engine, create_site(engine, "Busy", "Asia/Shanghai").id, "North", "http://x")
    engine.dispose()
    monkeypatch.setenv("GATECHECK_HUB_DB_CONNECTIONS", "2")  # one upload thread, one for the rest
    port = free_port()
    hub = start_hub_process(f"sqlite:///{path}", port)
    blocker = sqlite3.connect(path, isolation_level=None)
    answers: list[int] = []

    def upload(seq: int) -> None:
        body = gzip.compress(make_batch(device, None, [make_check(seq)]).model_dump_json().encode())
        answers.append(_post_signed(port, device, body))

    try:
        blocker.execute("BEGIN IMMEDIATE")  # the write lock every upload needs
        senders = [threading.Thread(target=upload, args=(seq,)) for seq in (1, 2, 3)]
        for sender in senders:
            sender.start()
        time.sleep(1)  # the first upload waits on the lock, the others for its thread
        assert answers == []
        started = time.monotonic()
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=20).status_code == 200
        assert time.monotonic() - started < 5
        blocker.execute("ROLLBACK")
        for sender in senders:
            sender.join(60)
        assert answers == [200, 200, 200]
    finally:
        blocker.close()
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=40)


def _burst(port: int, n: int = 32) -> dict[int, int]:
    """Open ``n`` connections at once, as a fleet reconnecting does, have each answered,
    and say how many each hub process holds."""
    opened = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    try:
        for conn in opened:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
        for conn in opened:
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        return {pid: k for pid, k in connections_by_process(port).items() if pid != os.getpid()}
    finally:
        for conn in opened:
            conn.close()


def test_a_burst_of_connections_is_spread_over_the_workers(postgres_hub: tuple[str, Engine]) -> None:
    """Each worker listens on a socket of its own (hub.listeners): 32 connections opened
    at once land on both workers, not all on whichever woke first."""
    url, _ = postgres_hub
    port = free_port()
    hub = start_hub_process(url, port, workers=2)  # returns once both workers listen
    try:
        assert len(listening_sockets(port)) == 2
        held = _burst(port)
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=40)
    assert len(held) == 2, held
    assert all(k >= 4 for k in held.values()), held


def test_a_worker_that_dies_is_replaced_with_a_socket_of_its_own(postgres_hub: tuple[str, Engine]) -> None:
    """uvicorn's supervisor starts a new worker for one killed; it listens beside the
    survivor and takes its share of new connections."""
    url, _ = postgres_hub
    port = free_port()
    hub = start_hub_process(url, port, workers=2)
    try:
        victim, survivor = sorted(_burst(port))
        before = listening_sockets(port)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = listening_sockets(port)
            if len(now) == 2 and now != before:  # the victim's socket gone, a new one in
                break
            time.sleep(0.2)
        held = _burst(port)
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=40)
    assert victim not in held and survivor in held, held
    assert len(held) == 2 and all(k >= 4 for k in held.values()), held
