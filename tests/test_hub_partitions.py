"""PostgreSQL keeps raw checks in one partition per month of receipt: made ahead by
``hub migrate`` and ``hub purge``, strays in the default partition moved into their month,
and retention drops whole months — with the day counts exact and a re-sent purged check
still a duplicate."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text, update

from core.bundle import DeviceBundle
from hub.core.db import checks, daily_counts, device_logs
from hub.core.partitions import Month
from tests.conftest import cli
from tests.hub_helpers import make_batch, make_check, post

pytestmark = pytest.mark.parametrize("hub_database_url", ["postgresql"], indirect=True)
DAY_MS = 86_400_000


def where_rows_live(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, tableoid::regclass::text FROM checks ORDER BY seq"))
        return {int(seq): str(table) for seq, table in rows}


def total_checks(engine: Engine) -> int:
    with engine.connect() as conn:
        found = conn.scalar(select(func.sum(daily_counts.c.n)).where(daily_counts.c.metric == "checks"))
        return int(found or 0)


def test_months_are_made_ahead_and_checks_land_in_their_month(
    client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    with hub_engine.connect() as conn:
        kind = conn.scalar(text("SELECT relkind FROM pg_class WHERE relname = 'checks'"))
    assert kind == "p"
    now = Month.of(int(time.time() * 1000))
    post(client, device, make_batch(device, 0, [make_check(1), make_check(2)]))
    assert set(where_rows_live(hub_engine).values()) == {now.name}


def test_purge_drops_old_months_whole_and_counts_stay_exact(
    client: TestClient, device: DeviceBundle, hub_engine: Engine, hub_database_url: str
) -> None:
    log = [make_check(i) for i in range(1, 9)]
    assert post(client, device, make_batch(device, 0, log[:6])).json()["acked_seq"] == 6
    now_ms = int(time.time() * 1000)
    long_ago, months_ago = now_ms - 200 * DAY_MS, now_ms - 100 * DAY_MS
    with hub_engine.begin() as conn:  # as if received then: no partition yet, so the default holds them
        conn.execute(update(checks).where(checks.c.seq <= 3).values(received_ms=long_ago))
        conn.execute(update(checks).where(checks.c.seq.between(4, 5)).values(received_ms=months_ago))
    assert set(where_rows_live(hub_engine)[s] for s in range(1, 6)) == {"checks_default"}

    code, out = cli("hub", "migrate", "--database-url", hub_database_url)
    assert code == 0 and Month.of(long_ago).name in out, out
    live = where_rows_live(hub_engine)
    assert [live[s] for s in (1, 4, 6)] == [
        Month.of(long_ago).name,
        Month.of(months_ago).name,
        Month.of(now_ms).name,
    ]
    assert "checks_default" not in live.values()
    counted = total_checks(hub_engine)

    code, out = cli("hub", "purge", "--database-url", hub_database_url, "--keep-days", "60")
    assert code == 0 and "purged 5 raw checks" in out and "2 month partitions dropped" in out, out
    assert list(where_rows_live(hub_engine)) == [6]
    with hub_engine.connect() as conn:
        assert conn.scalar(select(device_logs.c.purged_seq)) == 5
        assert Month.of(long_ago).name not in set(conn.scalars(text("SELECT tablename FROM pg_tables")))
    assert total_checks(hub_engine) == counted

    # The device sends everything again: the purged five are duplicates, #7 and #8 new.
    again = post(client, device, make_batch(device, 0, log)).json()
    assert again == {"acked_seq": 8, "stored": 2, "duplicates": 6, "conflicts": 0}
    assert total_checks(hub_engine) == counted + 2


def test_a_month_with_a_check_its_log_has_not_completed_stays(
    client: TestClient, device: DeviceBundle, hub_engine: Engine, hub_database_url: str
) -> None:
    # #9 (a fever) arrived ahead of #1–#8, which the device never sent: its month waits.
    post(client, device, make_batch(device, None, [make_check(9, verdict="deny", reason="fever")]))
    with hub_engine.begin() as conn:
        conn.execute(update(checks).values(received_ms=int(time.time() * 1000) - 100 * DAY_MS))
    code, out = cli("hub", "purge", "--database-url", hub_database_url, "--keep-days", "30")
    assert code == 0 and "purged 0 raw checks" in out, out
    assert list(where_rows_live(hub_engine)) == [9]
