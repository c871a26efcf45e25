"""Hub ingest: idempotent, authenticated, placing checks on the site's local day."""

from __future__ import annotations

import gzip
import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from core.bundle import DeviceBundle
from core.protocol import (
    FLAGS_TEXT_MAX,
    GATE_MAX,
    INGEST_PATH,
    MAX_BATCH_CHECKS,
    MAX_COUNT,
    MAX_MS,
    MAX_SEQ,
    CheckColumns,
    sign_request,
)
from hub.core.db import alerts, check_conflicts, checks, daily_counts, devices
from hub.registry import Site, create_site, enrol_device
from tests.hub_helpers import LOG_SPAN, make_batch, make_check, post

BOTH_DATABASES = True
"""Every test here runs on SQLite and on PostgreSQL."""


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
    assert first.json() == {"acked_seq": 2, "stored": 2, "duplicates": 0, "conflicts": 0}
    again = post(client, device, batch)
    assert again.json() == {"acked_seq": 2, "stored": 0, "duplicates": 2, "conflicts": 0}
    (day,) = daily(client, site.id)
    assert (day["date"], day["checks"], day["admitted"], day["denied"], day["fevers"]) == (
        "2026-11-20", 2, 1, 1, 1,
    )  # fmt: skip
    assert day["denied_by_reason"] == {"fever": 1}


def test_overlapping_batch_stores_only_the_new_checks(
    client: TestClient, device: DeviceBundle, site: Site
) -> None:
    one, two, three = make_check(1), make_check(2), make_check(3)
    post(client, device, make_batch(device, 0, [one, two]))
    # The device never got the ack for seq 2 and resends it with seq 3.
    response = post(client, device, make_batch(device, 1, [two, three]))
    assert response.json() == {"acked_seq": 3, "stored": 1, "duplicates": 1, "conflicts": 0}
    assert daily(client, site.id)[0]["checks"] == 3


def test_gap_is_not_acknowledged_until_filled(client: TestClient, device: DeviceBundle) -> None:
    # The device believes the hub holds up to 5 (say the hub was restored from a backup).
    log = [make_check(i) for i in range(1, 8)]
    response = post(client, device, make_batch(device, 5, log[5:]))
    assert response.json()["acked_seq"] == 0
    refill = post(client, device, make_batch(device, 0, log))
    assert refill.json() == {"acked_seq": 7, "stored": 5, "duplicates": 2, "conflicts": 0}


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


def test_revoked_device_is_refused_at_once(
    client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    """Even by a hub process that has served it (it remembers only that the id exists)."""
    assert post(client, device, make_batch(device, 0, [make_check(1)])).status_code == 200
    with hub_engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.id == device.device_id).values(status="revoked"))
    assert post(client, device, make_batch(device, 1, [make_check(2)])).status_code == 403
    assert stored_count(hub_engine) == 1


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
    west = next(row for row in rows if "West<br>" in row)
    assert "UTC-11:00" in west  # the zone as its offset, the same in both languages
    assert "Not begun" in west.split("</td>")[1]


def test_a_new_log_of_a_device_is_numbered_apart_and_alerted(
    client: TestClient, device: DeviceBundle, hub_engine: Engine, site: Site
) -> None:
    old = [make_check(i) for i in range(1, 6)]
    assert post(client, device, make_batch(device, 0, old)).json()["acked_seq"] == 5
    # The card was re-flashed: a new log numbers from 1 again; nothing is a duplicate.
    new_log = "f" * 32
    fever = make_check(2, verdict="deny", reason="fever", temp_c=38.6)
    first = make_batch(device, 0, [make_check(1), fever], log_id=new_log)
    answer = post(client, device, first).json()
    assert answer == {"acked_seq": 2, "stored": 2, "duplicates": 0, "conflicts": 0}
    again = post(client, device, first).json()
    assert again == {"acked_seq": 2, "stored": 0, "duplicates": 2, "conflicts": 0}  # held in log 1
    with hub_engine.connect() as conn:
        seqs = list(conn.scalars(select(checks.c.seq).order_by(checks.c.seq)))
        raised = {(a.reason, a.seq) for a in conn.execute(select(alerts))}
    assert seqs == [1, 2, 3, 4, 5, LOG_SPAN + 1, LOG_SPAN + 2]
    assert raised == {("log_replaced", LOG_SPAN), ("fever", LOG_SPAN + 2)}
    assert daily(client, site.id)[0]["checks"] == 7
    # The old log (say its card came back) still continues where it was.
    more = post(client, device, make_batch(device, 5, [make_check(6)])).json()
    assert more == {"acked_seq": 6, "stored": 1, "duplicates": 0, "conflicts": 0}


def test_same_seq_with_other_content_is_kept_counted_and_alerted(
    client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    first = [make_check(1), make_check(2)]
    post(client, device, make_batch(device, 0, first))
    # A log restored from an old copy reuses #2 for someone else — a fever.
    other = make_check(2, verdict="deny", reason="fever", temp_c=38.9, holder="e" * 32)
    batch = make_batch(device, 1, [other, make_check(3)])
    answer = post(client, device, batch).json()
    assert answer == {"acked_seq": 3, "stored": 1, "duplicates": 0, "conflicts": 1}
    assert post(client, device, batch).json()["conflicts"] == 1  # sent again: kept once
    with hub_engine.connect() as conn:
        (kept,) = conn.execute(select(check_conflicts)).all()
        raised = [(a.reason, a.seq) for a in conn.execute(select(alerts))]
        held = conn.execute(select(checks.c.reason).where(checks.c.seq == 2)).scalar_one()
    assert kept.seq == 2 and json.loads(kept.content)["reason"] == "fever"
    assert json.loads(kept.content)["temp_c"] == 38.9
    assert raised == [("log_conflict", 2)] and held == "ok"  # the first version stays


def test_the_largest_values_the_protocol_allows_fit_every_column(
    client: TestClient, device: DeviceBundle, hub_engine: Engine, site: Site
) -> None:
    flags = ["f" * 40] * 4 + ["g" * 36]  # 4·40 + 36 + 4 commas = FLAGS_TEXT_MAX
    assert len(",".join(flags)) == FLAGS_TEXT_MAX
    gate = "东" * GATE_MAX
    widest = make_check(
        MAX_SEQ, gate=gate, wall_ms=MAX_MS - MAX_SEQ, mono_ms=MAX_MS, boot_id="b" * 64, verdict="remeasure",
        reason="r" * 40, temp_c=150.0, scheme="s" * 16, holder="h" * 64, flags=flags,
    )  # fmt: skip
    batch = make_batch(device, MAX_SEQ - 1, [widest]).model_copy(
        update={
            "backlog": MAX_COUNT,
            "trust_version": MAX_MS,
            "trust_fetched_ms": MAX_MS,
            "software": "v" * 32,
            "sent_mono_ms": MAX_MS,
        }
    )
    response = post(client, device, batch)
    assert response.status_code == 200, response.text
    with hub_engine.connect() as conn:
        row = conn.execute(select(checks).where(checks.c.device_id == device.device_id)).one()
        metrics = set(conn.scalars(select(daily_counts.c.metric)))
    assert (row.seq, row.gate, row.flags, row.reason) == (MAX_SEQ, gate, ",".join(flags), "r" * 40)
    assert f"gate:{gate}" in metrics


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"protocol": 99}, "protocol"),
        ({"after_seq": MAX_SEQ + 1}, "after_seq"),
        ({"backlog": 3 * 10**9}, "backlog"),
        ({"sent_wall_ms": 10**20}, "sent_wall_ms"),
        ({"trust_version": 2**63}, "trust_version"),
        ({"log_id": "not-a-log"}, "log_id"),
    ],
)
def test_values_that_would_not_fit_are_refused_with_422(
    client: TestClient, device: DeviceBundle, hub_engine: Engine, change: dict[str, Any], why: str
) -> None:
    raw = json.loads(make_batch(device, 0, [make_check(1)]).model_dump_json())
    response = post_raw(client, device, json.dumps(raw | change).encode())
    assert response.status_code == 422 and why in response.text
    assert stored_count(hub_engine) == 0


def _too_many(packed: dict[str, Any]) -> dict[str, Any]:
    return {k: v if k == "strings" else v * (MAX_BATCH_CHECKS + 1) for k, v in packed.items()}


@pytest.mark.parametrize(
    "spoil",
    [
        lambda p: p | {"seq": [2**63, 1]},
        lambda p: p | {"wall_ms": [10**20, 1]},
        lambda p: p | {"temp_c": [36.5, "NaN"]},  # NaN after the first value
        _too_many,
    ],
    ids=["seq-2^63", "wall-1e20", "nan-second", "5001-checks"],
)
def test_bad_check_columns_are_refused_not_a_500(
    client: TestClient, device: DeviceBundle, hub_engine: Engine, spoil: Any
) -> None:
    packed = json.loads(CheckColumns.pack([make_check(1), make_check(2)]).model_dump_json())
    raw = json.loads(make_batch(device, 0, []).model_dump_json()) | {"checks": spoil(packed)}
    body = json.dumps(raw).replace('"NaN"', "NaN").encode()
    response = post_raw(client, device, body)
    assert response.status_code in (409, 422), response.text
    assert stored_count(hub_engine) == 0


def post_raw(client: TestClient, device: DeviceBundle, body_json: bytes) -> Any:
    body = gzip.compress(body_json)
    headers = sign_request(device.signing_key_bytes, device.device_id, "POST", INGEST_PATH, body)
    return client.post(INGEST_PATH, content=body, headers={**headers, "Content-Encoding": "gzip"})
