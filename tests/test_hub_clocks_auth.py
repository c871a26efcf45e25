"""Hub: checks placed on the right day whatever the device clock said; replayed and stale
requests refused; the priority lane never moves the acknowledgement."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from core.bundle import DeviceBundle
from core.protocol import INGEST_PATH, sign_request
from hub.core.db import checks, device_boots, device_status
from hub.registry import enrol_device
from tests.hub_helpers import make_batch, make_check, now_ms, post

BOTH_DATABASES = True
"""Every test here runs on SQLite and on PostgreSQL."""

YEARS_56_MS = int(timedelta(days=365 * 56).total_seconds() * 1000)


def stored(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(checks).order_by(checks.c.seq)))


def today_in_shanghai() -> str:
    return (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()


def test_a_device_that_thinks_it_is_1970_is_placed_on_the_right_day(
    client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    """No RTC, no NTP yet: the wall clock started at 0 on boot. Monotonic time anchors it."""
    ten_minutes_ago = now_ms() - 600_000
    check = make_check(1, wall_ms=ten_minutes_ago, clock_error_ms=-YEARS_56_MS)
    assert (
        post(client, device, make_batch(device, 0, [check], clock_error_ms=-YEARS_56_MS)).status_code == 200
    )
    (row,) = stored(hub_engine)
    assert row.time_source == "anchored"
    assert abs(row.event_ms - ten_minutes_ago) < 5_000  # seq adds a millisecond
    assert (
        row.local_date
        == (datetime.fromtimestamp(ten_minutes_ago / 1000, UTC) + timedelta(hours=8)).date().isoformat()
    )
    with hub_engine.connect() as conn:
        skew = conn.scalar(
            select(device_status.c.clock_skew_ms).where(device_status.c.device_id == device.device_id)
        )
    assert skew is not None and abs(skew + YEARS_56_MS) < 5_000


def test_clock_fixed_by_ntp_mid_boot(client: TestClient, device: DeviceBundle, hub_engine: Engine) -> None:
    """Same boot: the first check was stamped before NTP, the second after. Each is placed
    by what it actually says about time."""
    before = make_check(1, wall_ms=now_ms() - 120_000)
    before = before.model_copy(update={"wall_ms": 5_000})  # 1970: clock not yet set
    after = make_check(2, wall_ms=now_ms() - 60_000)
    post(client, device, make_batch(device, 0, [before, after]))
    first, second = stored(hub_engine)
    assert first.time_source == "anchored" and abs(first.event_ms - (now_ms() - 120_000)) < 5_000
    assert second.time_source == "device" and second.event_ms == after.wall_ms


def test_checks_from_an_earlier_boot_use_that_boots_measured_clock(
    client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    """Boot A synced once with a wrong clock; the device rebooted (boot B) and now sends the
    rest of boot A's checks. Boot A's offset, measured earlier, still places them."""
    wrong = -YEARS_56_MS
    first = make_check(1, wall_ms=now_ms() - 1000, clock_error_ms=wrong, boot_id="boot-a")
    post(client, device, make_batch(device, 0, [first], clock_error_ms=wrong, boot_id="boot-a"))
    later = make_check(2, wall_ms=now_ms() - 500, clock_error_ms=wrong, boot_id="boot-a")
    post(client, device, make_batch(device, 1, [later], boot_id="boot-b"))
    rows = stored(hub_engine)
    assert [r.time_source for r in rows] == ["anchored", "anchored"]
    assert all(abs(r.event_ms - now_ms()) < 60_000 for r in rows)
    with hub_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(device_boots)) == 2


def test_unknown_boot_with_an_impossible_clock_lands_on_arrival(
    client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    lost = make_check(1).model_copy(update={"boot_id": "never-seen", "wall_ms": 12_345})
    post(client, device, make_batch(device, 0, [lost]))
    (row,) = stored(hub_engine)
    assert row.time_source == "received" and row.local_date == today_in_shanghai()


def test_urgent_batch_is_counted_but_does_not_move_the_ack(
    client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    log = [make_check(i) for i in range(1, 7)] + [make_check(7, verdict="deny", reason="fever")]
    answer = post(client, device, make_batch(device, None, log[6:])).json()
    assert answer == {"acked_seq": 0, "stored": 1, "duplicates": 0, "conflicts": 0}
    routine = post(client, device, make_batch(device, 0, log)).json()
    assert routine == {"acked_seq": 7, "stored": 6, "duplicates": 1, "conflicts": 0}


def test_stale_timestamp_is_refused_and_nothing_stored(
    client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    body = gzip.compress(make_batch(device, 0, [make_check(1)]).model_dump_json().encode())
    headers = sign_request(
        device.signing_key_bytes, device.device_id, "POST", INGEST_PATH, body, now=1_000_000
    )
    response = client.post(INGEST_PATH, content=body, headers={**headers, "Content-Encoding": "gzip"})
    assert response.status_code == 401 and "clock" in response.text
    assert int(response.headers["X-Gatecheck-Server-Time"]) > 1_700_000_000_000  # tells the device the time
    assert stored(hub_engine) == []


def test_replayed_request_is_refused_and_nothing_stored_twice(
    client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    body = gzip.compress(
        make_batch(device, None, [make_check(3, verdict="deny", reason="fever")]).model_dump_json().encode()
    )
    headers = {
        **sign_request(device.signing_key_bytes, device.device_id, "POST", INGEST_PATH, body),
        "Content-Encoding": "gzip",
    }
    assert client.post(INGEST_PATH, content=body, headers=headers).status_code == 200
    replay = client.post(INGEST_PATH, content=body, headers=headers)
    assert replay.status_code == 401 and "replayed" in replay.text
    assert len(stored(hub_engine)) == 1


def test_a_device_cannot_write_for_another_site(
    client: TestClient, hub_engine: Engine, device: DeviceBundle
) -> None:
    """Site comes from the hub's registry, never from the upload; a device naming another
    site's device in its batch is refused."""
    from hub.registry import create_site

    other_site = create_site(hub_engine, "Other", "Asia/Shanghai")
    stranger = enrol_device(hub_engine, other_site.id, "Gate", "http://127.0.0.1:9")
    batch = make_batch(stranger, 0, [make_check(1)])
    assert post(client, device, batch).status_code == 409
    assert stored(hub_engine) == []


def test_a_replay_that_races_past_the_first_check_stores_nothing(
    hub_engine: Engine, device: DeviceBundle
) -> None:
    """Two copies of a request in flight at once both pass the read-only nonce check; the
    second one's ingest transaction must fail as a whole."""
    from hub.device_keys import Replayed, device_key, record_nonce
    from hub.ingest import ingest_batch

    with hub_engine.connect() as conn:
        first, second = device_key(conn, device.device_id, "n-1"), device_key(conn, device.device_id, "n-1")
    assert first is not None and first == second and first[1] is False
    key = first[0]
    batch = make_batch(device, None, [make_check(9, verdict="deny", reason="fever")])
    now = now_ms()
    with hub_engine.begin() as conn:  # as the route does: the nonce, then the checks
        record_nonce(conn, key, "n-1", now)
        ingest_batch(conn, key, batch, now)
    again = batch.model_copy(
        update={"checks": make_batch(device, None, [make_check(10, verdict="deny", reason="fever")]).checks}
    )
    with pytest.raises(Replayed), hub_engine.begin() as conn:
        record_nonce(conn, key, "n-1", now)
        ingest_batch(conn, key, again, now)
    assert [r.seq for r in stored(hub_engine)] == [9]


def test_nonces_are_kept_for_the_replay_window_then_swept(hub_engine: Engine, device: DeviceBundle) -> None:
    """A nonce is refused again for as long as a request signed with it could still be
    accepted; the sweep (once a minute per hub process) forgets only older ones."""
    from hub.device_keys import NONCE_KEPT_MS, device_key, expire_nonces, record_nonce

    with hub_engine.connect() as conn:
        key = device_key(conn, device.device_id, "-")
    assert key is not None
    now = now_ms()
    with hub_engine.begin() as conn:
        record_nonce(conn, key[0], "old", now - NONCE_KEPT_MS - 1)
        record_nonce(conn, key[0], "recent", now - NONCE_KEPT_MS + 60_000)
    assert expire_nonces(hub_engine, now) == 1
    with hub_engine.connect() as conn:
        assert device_key(conn, device.device_id, "recent") == (key[0], True)  # still a replay
        assert device_key(conn, device.device_id, "old") == (key[0], False)


def test_the_key_read_of_a_request_records_its_nonce_or_says_who_must(
    hub_engine: Engine, device: DeviceBundle
) -> None:
    """On PostgreSQL the read that authenticates a request records its nonce (one round
    trip an upload); on SQLite the caller does. Either way a nonce is used once, and a
    refused request — its transaction rolled back — leaves its nonce unused."""
    from hub.device_keys import key_for_request, record_nonce

    now = now_ms()
    with hub_engine.begin() as conn:
        read = key_for_request(conn, device.device_id, "n-7", now)
        assert read is not None and not read.nonce_used and read.device.device_id == device.device_id
        assert read.nonce_recorded == (hub_engine.dialect.name == "postgresql")
        if not read.nonce_recorded:
            record_nonce(conn, read.device, "n-7", now)
    with hub_engine.begin() as conn:
        again = key_for_request(conn, device.device_id, "n-7", now)
        assert again is not None and again.nonce_used
    with pytest.raises(RuntimeError), hub_engine.begin() as conn:
        refused = key_for_request(conn, device.device_id, "n-8", now)
        assert refused is not None and not refused.nonce_used
        raise RuntimeError("refused: rolled back")
    with hub_engine.begin() as conn:
        later = key_for_request(conn, device.device_id, "n-8", now)
        assert later is not None and not later.nonce_used
        assert key_for_request(conn, "no-such-device", "n-9", now) is None
