"""`gatecheck hub purge`: old raw checks go in small transactions, the day counts stay
exact — also when a device sends a purged check again — and nothing a device has not
completed (an urgent check ahead of its backlog) is purged."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from core.bundle import DeviceBundle
from hub.core.db import checks, daily_counts
from hub.retention import purge
from tests.conftest import cli
from tests.hub_helpers import make_batch, make_check, post

BOTH_DATABASES = True
DAY_MS = 86_400_000


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(daily_counts.c.metric, func.sum(daily_counts.c.n)).group_by(daily_counts.c.metric)
        )
        return {metric: int(n) for metric, n in rows}


def held(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(select(checks.c.seq).order_by(checks.c.seq)))


def test_purge_keeps_counts_exact_and_never_takes_what_a_device_has_not_completed(
    client: TestClient, device: DeviceBundle, hub_engine: Engine, hub_database_url: str
) -> None:
    log = [make_check(i) for i in range(1, 13)] + [make_check(13, verdict="deny", reason="fever")]
    assert post(client, device, make_batch(device, 0, log[:10])).json()["acked_seq"] == 10
    # The fever (#13) arrives first, ahead of #11 and #12, which the device has not sent.
    assert post(client, device, make_batch(device, None, log[12:])).json()["stored"] == 1
    with hub_engine.begin() as conn:  # all of it received 100 days ago
        conn.execute(update(checks).values(received_ms=int(time.time() * 1000) - 100 * DAY_MS))
    before = counts(hub_engine)

    code, out = cli("hub", "purge", "--database-url", hub_database_url, "--keep-days", "30")
    assert code == 0 and "purged 10 raw checks" in out, out
    assert held(hub_engine) == [13]  # #13 waits: #11 and #12 are not in yet
    assert counts(hub_engine) == before

    # The device never heard the answer and sends #1–#13 again: nothing counts twice, and
    # the log completes.
    again = post(client, device, make_batch(device, 0, log)).json()
    assert again == {"acked_seq": 13, "stored": 2, "duplicates": 11, "conflicts": 0}
    after = counts(hub_engine)
    assert after["checks"] == before["checks"] + 2 and after["fevers"] == before["fevers"] == 1

    assert purge(hub_engine, keep_days=30).checks == 1  # now #13 may go; #11, #12 are new
    assert held(hub_engine) == [11, 12] and counts(hub_engine) == after
