"""Network storms and power cuts. After each, the hub's counts equal the edge's exactly.

Real processes and sockets on 127.0.0.1: the hub and the sync agent run as `gatecheck`
subprocesses where the test kills them with SIGKILL, and a fault-injecting proxy sits
between them where the network misbehaves.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.bundle import DeviceBundle
from edge.store import CheckStore, SyncKey
from hub.core.db import create_schema, make_engine
from hub.server import BackgroundHub
from sync.agent import SyncAgent, SyncSettings
from tests.conftest import free_port
from tests.faultproxy import FaultProxy, Faults
from tests.hub_process import start_hub_process
from tests.sync_helpers import edge_totals, fill, hub_totals

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def gatecheck(*args: str, **kw: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gatecheck", *args],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        **kw,
    )  # type: ignore[call-overload]


def wait_for(condition: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def assert_hub_equals_edge(engine: Engine, store: CheckStore, device_id: str) -> None:
    totals, seqs = hub_totals(engine, device_id)
    assert totals == edge_totals(store)
    assert seqs == [row["seq"] for row in store.rows()]


def test_proxy_storm_loses_and_duplicates_nothing(
    live_hub: BackgroundHub, bundle: DeviceBundle, store: CheckStore, hub_engine: Engine
) -> None:
    fill(store, bundle.device_id, 2000, urgent_every=97)
    faults = Faults(drop=0.1, delay=0.1, delay_s=0.05, reset=0.1, truncate=0.1, duplicate=0.1, seed=3)
    with FaultProxy(live_hub.port, faults) as proxy:
        settings = SyncSettings(batch_size=100, timeout_s=2, backoff_base_s=0.01, backoff_cap_s=0.05)
        SyncAgent(bundle.model_copy(update={"hub_url": proxy.url}), store, settings).push()
    assert all(proxy.seen[f] > 0 for f in ("drop", "delay", "reset", "truncate", "duplicate"))
    assert store.backlog() == 0
    assert_hub_equals_edge(hub_engine, store, bundle.device_id)


def test_requests_the_network_duplicates_reach_the_hub_once_and_the_agent_carries_on(
    tmp_path: Path, hub_process: tuple[int, Path], bundle: DeviceBundle, store: CheckStore
) -> None:
    port, hub_db = hub_process
    hub = start_hub(port, hub_db)
    try:
        # Every fourth request arrives twice and the device hears the copy's answer.
        with FaultProxy(port, Faults(echo=0.25, seed=11)) as proxy:
            device = enrol_in(hub_db, bundle.model_copy(update={"hub_url": proxy.url}), proxy.port, tmp_path)
            fill(store, bundle.device_id, 1200, urgent_every=53)
            agent = gatecheck("sync", "run", "--device", str(device), "--db", str(store.path),
                              "--batch-size", "40", "--interval", "0.2", "--max-backoff", "0.2")  # fmt: skip
            try:
                wait_for(lambda: store.backlog() == 0)
                assert agent.poll() is None  # never exited
            finally:
                agent.send_signal(signal.SIGKILL)
                agent.wait()
        assert proxy.seen["echo"] > 5
    finally:
        hub.send_signal(signal.SIGKILL)
        hub.wait()
    assert store.state(SyncKey.HUB_REFUSED_MS) is None  # the gate screen never said "key not accepted"
    assert_hub_equals_edge(make_engine(f"sqlite:///{hub_db}"), store, bundle.device_id)


WRITER = """
import sys
from edge.store import CheckStore
from tests.sync_helpers import fill
store = CheckStore(sys.argv[1])
print("ready", flush=True)
while True:
    fill(store, sys.argv[2], 50, urgent_every=7)
"""


def test_power_cut_while_the_edge_writes(
    tmp_path: Path, live_hub: BackgroundHub, bundle: DeviceBundle, hub_engine: Engine
) -> None:
    db = tmp_path / "edge.db"
    for _ in range(3):  # three power cuts
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), bundle.device_id], env=ENV, stdout=subprocess.PIPE
        )
        assert writer.stdout is not None and writer.stdout.readline().strip() == b"ready"
        time.sleep(0.4)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = CheckStore(db)
    seqs = [row["seq"] for row in store.rows()]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > 50  # no gap, no reuse
    SyncAgent(bundle, store).push()
    assert_hub_equals_edge(hub_engine, store, bundle.device_id)


@pytest.fixture
def hub_process(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A hub run by `gatecheck hub serve` in its own process, restartable."""
    port, db = free_port(), tmp_path / "hub-proc.db"
    create_schema(make_engine(f"sqlite:///{db}"))
    yield port, db


def start_hub(port: int, db: Path) -> subprocess.Popen[bytes]:
    return start_hub_process(f"sqlite:///{db}", port)


def enrol_in(db: Path, bundle: DeviceBundle, port: int, tmp_path: Path) -> Path:
    from tests.conftest import copy_device

    copy_device(bundle, make_engine(f"sqlite:///{db}"))
    path = tmp_path / "device-proc.json"
    bundle.model_copy(update={"hub_url": f"http://127.0.0.1:{port}"}).save(path)
    return path


def test_sync_agent_killed_mid_batch(
    tmp_path: Path, hub_process: tuple[int, Path], bundle: DeviceBundle, store: CheckStore
) -> None:
    port, hub_db = hub_process
    hub = start_hub(port, hub_db)
    try:
        with FaultProxy(port, Faults(latency_s=0.05, seed=5)) as proxy:
            device = enrol_in(hub_db, bundle.model_copy(update={"hub_url": proxy.url}), proxy.port, tmp_path)
            fill(store, bundle.device_id, 3000, urgent_every=101)
            args = ["sync", "run", "--device", str(device), "--db", str(store.path), "--batch-size", "100",
                    "--interval", "0.2", "--max-backoff", "0.2"]  # fmt: skip
            for pause in (0.4, 0.7, 0.3):
                agent = gatecheck(*args)
                time.sleep(pause)
                agent.send_signal(signal.SIGKILL)
                agent.wait()
            assert store.backlog() > 0  # the kills really interrupted the drain
            agent = gatecheck(*args)
            wait_for(lambda: store.backlog() == 0)
            agent.send_signal(signal.SIGKILL)
            agent.wait()
    finally:
        hub.send_signal(signal.SIGKILL)
        hub.wait()
    assert_hub_equals_edge(make_engine(f"sqlite:///{hub_db}"), store, bundle.device_id)


def test_hub_killed_and_restarted_mid_stream(
    tmp_path: Path, hub_process: tuple[int, Path], bundle: DeviceBundle, store: CheckStore
) -> None:
    port, hub_db = hub_process
    device = enrol_in(hub_db, bundle, port, tmp_path)
    fill(store, bundle.device_id, 4000, urgent_every=89)
    hub = start_hub(port, hub_db)
    agent = gatecheck("sync", "run", "--device", str(device), "--db", str(store.path), "--batch-size", "50",
                      "--interval", "0.2", "--max-backoff", "0.3")  # fmt: skip
    try:
        wait_for(lambda: store.backlog() < 3500)
        hub.send_signal(signal.SIGKILL)  # the hub dies mid-stream
        hub.wait()
        time.sleep(0.5)  # an answer the hub sent just before dying may still be applied
        left = store.backlog()
        time.sleep(1.0)
        assert store.backlog() == left  # nothing moves while it is down
        hub = start_hub(port, hub_db)
        wait_for(lambda: store.backlog() == 0)
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        hub.send_signal(signal.SIGKILL)
        hub.wait()
    assert_hub_equals_edge(make_engine(f"sqlite:///{hub_db}"), store, bundle.device_id)
