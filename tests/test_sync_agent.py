"""The sync agent against a real hub on 127.0.0.1: priority lane, batch caps, 413, retry
policy, permanent errors, devices without a clock, the downlink, HTTPS with a site CA."""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine, update

from core.bundle import DeviceBundle
from core.protocol import BatchIn
from edge import clock
from edge.station import GateStation
from edge.store import CheckStore, SyncKey
from edge.thermometer import Reading
from hub.core.config import HubSettings
from hub.core.db import create_schema, device_logs, devices, make_engine
from hub.main import create_app
from hub.policies import set_policy
from hub.records import PolicyChange
from hub.server import BackgroundHub
from hub.trust import revoke_code
from sync.agent import HubRejected, HubUnavailable, SyncAgent, SyncSettings
from tests.faultproxy import FaultProxy
from tests.sync_helpers import edge_totals, fill, hub_totals

LOOPBACK = ipaddress.ip_address("127.0.0.1")
FAST = SyncSettings(backoff_base_s=0.01, backoff_cap_s=0.05)


def batches(proxy: FaultProxy) -> list[BatchIn]:
    """The batches the hub received, decoded from the proxy's record."""
    found = []
    for raw in proxy.requests:
        head, _, body = raw.partition(b"\r\n\r\n")
        if head.startswith(b"POST"):
            found.append(BatchIn.model_validate_json(gzip.decompress(body)))
    return found


@pytest.fixture
def proxy(live_hub: BackgroundHub) -> Iterator[FaultProxy]:
    with FaultProxy(live_hub.port) as running:
        yield running


def agent_via(
    proxy: FaultProxy, bundle: DeviceBundle, store: CheckStore, settings: SyncSettings = FAST
) -> SyncAgent:
    return SyncAgent(bundle.model_copy(update={"hub_url": proxy.url}), store, settings)


def test_urgent_checks_go_first(
    proxy: FaultProxy, bundle: DeviceBundle, store: CheckStore, hub_engine: Engine
) -> None:
    fill(store, bundle.device_id, 120, urgent_every=50)  # fevers at seq 50 and 100
    report = agent_via(proxy, bundle, store, SyncSettings(batch_size=40)).push()
    sent = batches(proxy)
    assert sent[0].after_seq is None and [c.seq for c in sent[0].checks.unpack()] == [50, 100]
    assert all(b.after_seq is not None for b in sent[1:])
    assert report.urgent == 2 and report.stored == 120 and report.duplicates == 2
    assert hub_totals(hub_engine, bundle.device_id) == (edge_totals(store), list(range(1, 121)))


def test_byte_cap_splits_batches(
    proxy: FaultProxy, bundle: DeviceBundle, store: CheckStore, hub_engine: Engine
) -> None:
    fill(store, bundle.device_id, 300)
    agent_via(proxy, bundle, store, SyncSettings(max_batch_bytes=3000)).push()
    bodies = [raw.partition(b"\r\n\r\n")[2] for raw in proxy.requests if raw.startswith(b"POST")]
    assert len(bodies) > 2 and all(len(b) <= 3000 for b in bodies)
    assert hub_totals(hub_engine, bundle.device_id)[1] == list(range(1, 301))


def test_413_halves_the_batch(tmp_path: Path, bundle: DeviceBundle, store: CheckStore) -> None:
    url = f"sqlite:///{tmp_path / 'hub2.db'}"
    create_schema(make_engine(url))
    small = create_app(HubSettings(database_url=url, max_body_bytes=6000))
    # The same device, enrolled in this second hub's database.
    from tests.conftest import copy_device

    copy_device(bundle, small.state.engine)
    fill(store, bundle.device_id, 400)
    with BackgroundHub(small) as hub, FaultProxy(hub.port) as proxy:
        agent_via(proxy, bundle, store).push()
        sizes = [len(b.checks.seq) for b in batches(proxy)]
    assert sizes[0] == 400 and min(sizes) < 400
    assert store.backlog() == 0


def test_retry_after_is_honoured(
    tmp_path: Path, bundle: DeviceBundle, store: CheckStore, hub_app: FastAPI
) -> None:
    busy = {"left": 2}

    @hub_app.middleware("http")
    async def overloaded(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.method == "POST" and busy["left"] > 0:
            busy["left"] -= 1
            return Response("busy", status_code=503, headers={"Retry-After": "2"})
        return await call_next(request)

    waits: list[float] = []
    fill(store, bundle.device_id, 5)
    with BackgroundHub(hub_app) as hub:
        agent = SyncAgent(bundle.model_copy(update={"hub_url": hub.url}), store, FAST, sleep=waits.append)
        agent.push()
    assert waits == [0.05, 0.05]  # Retry-After: 2 s, capped by this agent's 0.05 s ceiling
    assert store.backlog() == 0


def test_permanent_errors_are_not_retried(
    proxy: FaultProxy, bundle: DeviceBundle, store: CheckStore, hub_engine: Engine
) -> None:
    with hub_engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.id == bundle.device_id).values(status="revoked"))
    fill(store, bundle.device_id, 3)
    with pytest.raises(HubRejected, match="403"):
        agent_via(proxy, bundle, store).push()
    assert len(proxy.requests) == 1
    assert store.backlog() == 3
    assert store.state(SyncKey.HUB_REFUSED_STATUS) == 403  # the gate screen shows "revoked"


def test_unreachable_hub_gives_up_only_when_told(bundle: DeviceBundle, store: CheckStore) -> None:
    from tests.conftest import free_port

    fill(store, bundle.device_id, 2)
    dead = bundle.model_copy(update={"hub_url": f"http://127.0.0.1:{free_port()}"})
    waits: list[float] = []
    agent = SyncAgent(
        dead,
        store,
        SyncSettings(retry_for_s=0.3, backoff_base_s=0.05),
        sleep=lambda s: (waits.append(s), time.sleep(s)),
    )
    with pytest.raises(HubUnavailable):
        agent.push()
    assert len(waits) >= 2 and all(0 <= w <= 300 for w in waits)
    assert store.backlog() == 2


def test_device_without_a_clock_learns_the_hubs_time(
    proxy: FaultProxy, bundle: DeviceBundle, store: CheckStore, hub_engine: Engine
) -> None:
    fifty_years = 50 * 365 * 86400 * 1000

    def in_1970() -> clock.ClockReading:
        real = clock.now()
        return clock.ClockReading(real.wall_ms - fifty_years, real.mono_ms, real.boot_id)

    fill(store, bundle.device_id, 4)
    agent = SyncAgent(bundle.model_copy(update={"hub_url": proxy.url}), store, FAST, device_clock=in_1970)
    agent.push()
    statuses = [raw.split(b" ")[0] for raw in proxy.requests]
    assert len(statuses) == 2  # refused once for the clock, then accepted
    assert store.backlog() == 0


def test_downlink_applies_new_policy_and_trust_atomically(
    proxy: FaultProxy,
    bundle: DeviceBundle,
    store: CheckStore,
    hub_engine: Engine,
    signed,  # type: ignore[no-untyped-def]
) -> None:
    agent = agent_via(proxy, bundle, store)
    assert agent.pull_config() is True
    assert agent.pull_config() is False  # 304: nothing changed
    assert store.state(SyncKey.DOWNLINK_OK_MS) is not None

    stricter = PolicyChange(changes={"fever_threshold_c": 37.0}, reason="school rule")
    set_policy(hub_engine, bundle.site_id, stricter, "admin")
    payload = signed("REVOKE-ME")
    station = GateStation(bundle, store)
    from edge.decode import Code

    code = Code(payload.encode(), payload, "utf-8", ((0, 0),) * 4, "test")  # type: ignore[arg-type]
    cid = station.record(code, Reading(36.5, "sensor")).verification.claims["cid"]  # type: ignore[union-attr,index]
    revoke_code(hub_engine, "gc1", cid)

    assert agent.pull_config() is True
    assert station.record(None, Reading(37.1, "sensor")).decision.reason == "temp_high"
    assert station.record(code, Reading(36.5, "sensor")).decision.reason == "revoked"
    assert station.trust_list.fetched_at is not None


def _tls_files(tmp_path: Path) -> tuple[Path, Path, str]:
    """A site CA and a server certificate for 127.0.0.1 signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Site CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())

    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(LOOPBACK)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "hub.pem", tmp_path / "hub.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path, ca.public_bytes(serialization.Encoding.PEM).decode()


def test_https_with_a_site_ca(
    tmp_path: Path, hub_app: FastAPI, bundle: DeviceBundle, store: CheckStore
) -> None:
    cert, key, ca_pem = _tls_files(tmp_path)
    fill(store, bundle.device_id, 3)
    with BackgroundHub(hub_app, ssl_certfile=cert, ssl_keyfile=key) as hub:
        assert hub.url.startswith("https://")
        untrusting = bundle.model_copy(update={"hub_url": hub.url})
        with pytest.raises(HubUnavailable, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            SyncAgent(untrusting, store, SyncSettings(retry_for_s=0)).push()
        trusting = untrusting.model_copy(update={"ca_cert": ca_pem})
        assert SyncAgent(trusting, store).push().stored == 3
    assert json.loads(trusting.model_dump_json())["ca_cert"].startswith("-----BEGIN CERTIFICATE")


def test_an_acknowledgement_above_the_log_is_never_believed(
    proxy: FaultProxy, bundle: DeviceBundle, store: CheckStore, hub_engine: Engine
) -> None:
    fill(store, bundle.device_id, 4)
    agent_via(proxy, bundle, store).push()
    with hub_engine.begin() as conn:  # a hub that (wrongly) claims to hold up to #300
        conn.execute(update(device_logs).values(acked_seq=300))
    fill(store, bundle.device_id, 1, urgent_every=1)  # a fever recorded after that
    with pytest.raises(HubRejected, match=r"#300.*ends at #5"):
        agent_via(proxy, bundle, store).push()
    assert store.acked_seq() == 4 and store.backlog() == 1  # the fever stays queued
    _, seqs = hub_totals(hub_engine, bundle.device_id)
    assert seqs == [1, 2, 3, 4, 5]  # it still went first, by the urgent lane
