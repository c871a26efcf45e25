"""`gatecheck hub backup` / `restore`: a consistent copy taken while devices upload, and a
restored hub whose checks and counts equal the original's — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from core.bundle import DeviceBundle
from hub.core.db import checks, current_schema, daily_counts, make_engine
from tests.conftest import cli
from tests.hub_helpers import make_batch, make_check, post

BOTH_DATABASES = True


def snapshot(engine: Engine) -> tuple[list[tuple[str, int]], list[tuple[str, str, str, int]]]:
    with engine.connect() as conn:
        held = [
            tuple(r) for r in conn.execute(select(checks.c.device_id, checks.c.seq).order_by(checks.c.seq))
        ]
        counts = [tuple(r) for r in conn.execute(select(daily_counts).order_by(*daily_counts.c))]
    return held, counts  # type: ignore[return-value]


def consistent(engine: Engine) -> int:
    """The copy is of one moment: its day counts add up to exactly its raw checks."""
    with engine.connect() as conn:
        held = conn.scalar(select(func.count()).select_from(checks)) or 0
        counted = (
            conn.scalar(select(func.sum(daily_counts.c.n)).where(daily_counts.c.metric == "checks")) or 0
        )
    assert held == counted
    return int(held)


@pytest.fixture
def restored_url(hub_database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a backup is brought back: a new database (PostgreSQL) or the file itself."""
    if hub_database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'backup.db'}"
        return
    from tests.postgres import fresh_database

    with fresh_database(request.getfixturevalue("postgres_admin_url")) as url:
        yield url


def test_a_backup_taken_while_devices_upload_restores_the_same_hub(
    client: TestClient, device: DeviceBundle, hub_database_url: str, hub_engine: Engine,
    restored_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    log = [make_check(i) for i in range(1, 2001)]
    assert post(client, device, make_batch(device, 0, log[:500])).status_code == 200
    uploading = threading.Event()

    def upload_the_rest() -> None:  # devices keep uploading during the backup
        uploading.set()
        for start in range(500, 2000, 100):
            post(client, device, make_batch(device, start, log[start : start + 100]))

    uploader = threading.Thread(target=upload_the_rest)
    uploader.start()
    uploading.wait()
    target = tmp_path / ("backup.db" if hub_database_url.startswith("sqlite") else "backup.dump")
    code, out = cli("hub", "backup", "--database-url", hub_database_url, str(target))
    uploader.join(60)
    assert code == 0, out
    assert target.stat().st_mode & 0o777 == 0o600  # it holds keys and password hashes
    if not hub_database_url.startswith("sqlite"):
        code, out = cli("hub", "restore", "--database-url", restored_url, str(target))
        assert code == 0, out
    copy = make_engine(restored_url)
    assert 500 <= consistent(copy) <= 2000

    # At rest, a backup restores the hub exactly, and it serves.
    again = tmp_path / ("again.db" if hub_database_url.startswith("sqlite") else "again.dump")
    assert cli("hub", "backup", "--database-url", hub_database_url, str(again))[0] == 0
    if hub_database_url.startswith("sqlite"):
        restored = make_engine(f"sqlite:///{again}")
    else:
        from tests.postgres import fresh_database

        with fresh_database(hub_database_url.rsplit("/", 1)[0] + "/postgres") as url:
            assert cli("hub", "restore", "--database-url", url, str(again))[0] == 0
            restored = make_engine(url)
            assert snapshot(restored) == snapshot(hub_engine)
            restored.dispose()
        return
    assert snapshot(restored) == snapshot(hub_engine) and consistent(restored) == 2000
    code, out = cli("hub", "migrate", "--database-url", f"sqlite:///{again}")
    assert code == 0 and f"at schema {current_schema(hub_engine)}" in out  # this software's schema


def test_a_backup_never_overwrites(hub_database_url: str, hub_app: object, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("an earlier backup")
    code, out = cli("hub", "backup", "--database-url", hub_database_url, str(target))
    assert code == 1 and "never overwrites" in out and target.read_text() == "an earlier backup"
