"""Hub ingest: idempotent, authenticated, placing checks on the site's local day."""

from __future__ import annotations

import gzip
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from hub.core.db import checks, devices
from provisioning.bundle import DeviceBundle
from provisioning.registry import Site, create_site, enrol_device
from sync.protocol import INGEST_PATH, BatchIn, CheckColumns, CheckIn, sign_request

BOTH_DATABASES = True
"""Every test here runs on SQLite and on PostgreSQL."""

NOON_SHANGHAI = int(datetime(2026, 11, 20, 4, 0, tzinfo=UTC).timestamp() * 1000)
SENT_MONO = 10**12
"""The device's monotonic clock when it sends; checks' readings are derived from it so the
device's wall clock and monotonic clock agree (a device whose clock is right)."""


def now_ms() -> int:
    return int(time.time() * 1000)


def make_check(seq: int, wall_ms: int = NOON_SHANGHAI, clock_error_ms: int = 0, **overrides: Any) -> CheckIn:
    """A check made at ``wall_ms`` (true time) by a device whose clock was off by
    ``clock_error_ms``; its monotonic reading follows the true time."""
    fields: dict[str, Any] = dict(
        seq=seq, gate="North", wall_ms=wall_ms + seq + clock_error_ms,
        mono_ms=SENT_MONO - (now_ms() - wall_ms - seq), boot_id="b1",
        verdict="admit", reason="ok", temp_c=36.5, temp_source="sensor", scheme="opaque",
        holder=f"{seq:032x}",
    )  # fmt: skip
    fields.update(overrides)
    return CheckIn(**fields)


def make_batch(
    device: DeviceBundle,
    after: int | None,
    items: list[CheckIn],
    clock_error_ms: int = 0,
    boot_id: str = "b1",
) -> BatchIn:
    return BatchIn(
        device_id=device.device_id, after_seq=after, boot_id=boot_id,
        sent_wall_ms=now_ms() + clock_error_ms, sent_mono_ms=SENT_MONO, checks=CheckColumns.pack(items),
    )  # fmt: skip


def post(client: TestClient, device: DeviceBundle, batch: BatchIn, key: bytes | None = None) -> Any:
    body = gzip.compress(batch.model_dump_json().encode())
    headers = sign_request(key or device.signing_key_bytes, device.device_id, "POST", INGEST_PATH, body)
    headers["Content-Encoding"] = "gzip"
    return client.post(INGEST_PATH, content=body, headers=headers)


def stored_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(checks)) or 0)


def daily(client: TestClient, site_id: str) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/sites/{site_id}/daily", params={"start": "2026-11-01", "end": "2026-11-30"}
    )
    assert response.status_code == 200
    return list(response.json())


def test_batch_sent_twice_counts_once(client: TestClient, device: DeviceBundle, site: Site) -> None:
    batch = make_batch(device, 0, [make_check(1), make_check(2, verdict="deny", reason="fever", temp_c=38.4)])
    first = post(client, device, batch)
    assert first.status_code == 200
    assert first.json() == {"acked_seq": 2, "stored": 2, "duplicates": 0}
    again = post(client, device, batch)
    assert again.json() == {"acked_seq": 2, "stored": 0, "duplicates": 2}
    (day,) = daily(client, site.id)
    assert (day["date"], day["checks"], day["admitted"], day["denied"], day["fevers"]) == (
        "2026-11-20", 2, 1, 1, 1,
    )  # fmt: skip
    assert day["denied_by_reason"] == {"fever": 1}


def test_overlapping_batch_stores_only_the_new_checks(
    client: TestClient, device: DeviceBundle, site: Site
) -> None:
    post(client, device, make_batch(device, 0, [make_check(1), make_check(2)]))
    # The device never got the ack for seq 2 and resends it with seq 3.
    response = post(client, device, make_batch(device, 1, [make_check(2), make_check(3)]))
    assert response.json() == {"acked_seq": 3, "stored": 1, "duplicates": 1}
    assert daily(client, site.id)[0]["checks"] == 3


def test_gap_is_not_acknowledged_until_filled(client: TestClient, device: DeviceBundle) -> None:
    # The device believes the hub holds up to 5 (say the hub was restored from a backup).
    response = post(client, device, make_batch(device, 5, [make_check(6), make_check(7)]))
    assert response.json()["acked_seq"] == 0
    refill = post(client, device, make_batch(device, 0, [make_check(i) for i in range(1, 8)]))
    assert refill.json() == {"acked_seq": 7, "stored": 5, "duplicates": 2}


def test_checks_land_on_the_sites_local_day(client: TestClient, hub_engine: Engine) -> None:
    # 2026-11-22 17:30 UTC is 01:30 on the 23rd in Shanghai and 12:30 on the 22nd in New York.
    instant = int(datetime(2026, 11, 22, 17, 30, tzinfo=UTC).timestamp() * 1000)
    for tz, expected in [("Asia/Shanghai", "2026-11-23"), ("America/New_York", "2026-11-22")]:
        site = create_site(hub_engine, f"Site in {tz}", tz)
        dev = enrol_device(hub_engine, site.id, "Gate", "http://127.0.0.1:9")
        post(client, dev, make_batch(dev, 0, [make_check(1, wall_ms=instant)]))
        assert [d["date"] for d in daily(client, site.id)] == [expected]


def test_forged_signature_is_refused_and_nothing_stored(
    client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    response = post(client, device, make_batch(device, 0, [make_check(1)]), key=secrets.token_bytes(32))
    assert response.status_code == 401
    assert stored_count(hub_engine) == 0


def test_tampered_body_is_refused(client: TestClient, device: DeviceBundle, hub_engine: Engine) -> None:
    body = gzip.compress(make_batch(device, 0, [make_check(1)]).model_dump_json().encode())
    headers = sign_request(device.signing_key_bytes, device.device_id, "POST", INGEST_PATH, body)
    other = gzip.compress(
        make_batch(device, 0, [make_check(1, verdict="deny", reason="fever")]).model_dump_json().encode()
    )
    response = client.post(INGEST_PATH, content=other, headers={**headers, "Content-Encoding": "gzip"})
    assert response.status_code == 401
    assert stored_count(hub_engine) == 0


def test_unknown_and_unsigned_devices_are_refused(
    client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    stranger = device.model_copy(update={"device_id": "dev-stranger"})
    assert post(client, stranger, make_batch(stranger, 0, [make_check(1)])).status_code == 401
    assert client.post(INGEST_PATH, content=b"{}").status_code == 401
    assert stored_count(hub_engine) == 0


def test_revoked_device_is_refused(client: TestClient, device: DeviceBundle, hub_engine: Engine) -> None:
    with hub_engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.id == device.device_id).values(status="revoked"))
    assert post(client, device, make_batch(device, 0, [make_check(1)])).status_code == 403
    assert stored_count(hub_engine) == 0


def test_device_cannot_upload_for_another_device(
    client: TestClient, device: DeviceBundle, hub_engine: Engine, site: Site
) -> None:
    other = enrol_device(hub_engine, site.id, "South", "http://127.0.0.1:9")
    batch = make_batch(other, 0, [make_check(1)])
    assert post(client, device, batch).status_code == 409
    assert stored_count(hub_engine) == 0


def test_malformed_batches_are_refused_with_reasons(
    client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    body = gzip.compress(b'{"device_id": "x", "checks": "nope"}')
    headers = sign_request(device.signing_key_bytes, device.device_id, "POST", INGEST_PATH, body)
    response = client.post(INGEST_PATH, content=body, headers={**headers, "Content-Encoding": "gzip"})
    assert response.status_code == 422
    not_gzip = b"plain text pretending"
    headers = sign_request(device.signing_key_bytes, device.device_id, "POST", INGEST_PATH, not_gzip)
    response = client.post(INGEST_PATH, content=not_gzip, headers={**headers, "Content-Encoding": "gzip"})
    assert response.status_code == 400
    unordered = make_batch(device, 0, [make_check(2), make_check(1)])
    assert post(client, device, unordered).status_code == 409
    assert stored_count(hub_engine) == 0


def test_dashboard_lists_sites_and_marks_missing_days(
    client: TestClient, device: DeviceBundle, site: Site
) -> None:
    today = datetime.now(UTC)
    post(client, device, make_batch(device, 0, [make_check(1, wall_ms=int(today.timestamp() * 1000))]))
    page = client.get("/")
    assert page.status_code == 200
    assert site.name in page.text
    assert 'data-checks="1"' in page.text
    assert "missing" in page.text


def test_unknown_site_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/sites/nope/daily").status_code == 404


def test_dashboard_columns_line_up_across_timezones(client: TestClient, hub_engine: Engine) -> None:
    """Kiritimati (UTC+14) and Pago Pago (UTC-11) are always on different dates."""
    for name, tz in [("East", "Pacific/Kiritimati"), ("West", "Pacific/Pago_Pago")]:
        create_site(hub_engine, name, tz)
    page = client.get("/?lang=en").text.split('id="overview"')[1]
    header = re.findall(r"<th>(\d{4}-\d\d-\d\d)</th>", page)
    assert len(header) == 7
    rows = page.split("<tr data-site=")[1:]
    assert len(rows) == 2
    for row in rows:
        assert re.findall(r'data-date="([^"]+)"', row) == header
    west = next(row for row in rows if "Pago_Pago" in row)
    assert "Not begun" in west.split("</td>")[1]
