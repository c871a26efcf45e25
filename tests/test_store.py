"""The device's check log: durable, never reusing a sequence number."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.store import MIGRATIONS, CheckStore, NewCheck, StoreError


def new_check(**overrides: object) -> NewCheck:
    fields: dict[str, object] = dict(
        device_id="dev-1", gate="North", wall_ms=1_700_000_000_000, mono_ms=5_000,
        boot_id="boot-a", verdict="admit", reason="ok", temp_c=36.5,
        temp_source="sensor", scheme="opaque", holder="ab" * 16, engine="pyzbar",
    )  # fmt: skip
    fields.update(overrides)
    return NewCheck.model_validate(fields)


def test_seq_is_monotonic_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    first = CheckStore(path)
    assert [first.append(new_check()) for _ in range(3)] == [1, 2, 3]
    first.close()
    second = CheckStore(path)
    assert second.append(new_check()) == 4


def test_seq_is_never_reused_after_rows_are_purged(tmp_path: Path) -> None:
    store = CheckStore(tmp_path / "edge.db")
    for _ in range(5):
        store.append(new_check())
    with store.db.conn:
        store.db.execute("DELETE FROM checks")
    assert store.append(new_check()) == 6


def test_wal_and_full_sync_are_on(store: CheckStore) -> None:
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # 2 = FULL
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_acked_seq_persists_and_backlog_follows(tmp_path: Path) -> None:
    store = CheckStore(tmp_path / "edge.db")
    for _ in range(4):
        store.append(new_check())
    assert store.backlog() == 4
    store.set_acked_seq(3)
    store.close()
    reopened = CheckStore(tmp_path / "edge.db")
    assert reopened.acked_seq() == 3
    assert reopened.backlog() == 1
    assert [check.seq for check in reopened.after(2, 10)] == [3, 4]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    CheckStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="upgrade gatecheck"):
        CheckStore(path)


def test_garbage_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    path.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open check database"):
        CheckStore(path)


def test_a_version_1_file_is_migrated_without_losing_checks(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
        conn.execute(
            "INSERT INTO checks (device_id, gate, wall_ms, mono_ms, boot_id, verdict, reason, temp_source) "
            "VALUES ('d', 'g', 1, 1, 'b', 'admit', 'ok', 'sensor')"
        )
    store = CheckStore(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert [check.flags for check in store.after(0, 10)] == [[]]
    assert store.append(new_check(flags=["clock_unset", "trust_stale"])) == 2
    assert store.after(1, 10)[0].flags == ["clock_unset", "trust_stale"]  # a list on both sides


def test_pending_high_reading_follows_the_person_and_the_window(store: CheckStore) -> None:
    store.append(new_check(reason="temp_high", verdict="remeasure", holder="p1", mono_ms=10_000))
    store.append(new_check(holder="p2", mono_ms=11_000))
    assert store.pending_high_reading("p1", "boot-a", since_mono_ms=5_000) == 10_000
    assert store.pending_high_reading("p1", "boot-a", since_mono_ms=10_001) is None  # window passed
    assert store.pending_high_reading("p1", "boot-b", since_mono_ms=0) is None  # rebooted since
    assert store.pending_high_reading("p2", "boot-a", since_mono_ms=0) is None
    # Told to wait for the re-test: still the same open first reading.
    store.append(new_check(reason="retest_wait", verdict="remeasure", holder="p1", mono_ms=11_500))
    assert store.pending_high_reading("p1", "boot-a", since_mono_ms=0) == 10_000
    # Without a code, the person is whoever stood at the gate just before.
    store.append(new_check(reason="temp_high", verdict="remeasure", holder=None, mono_ms=12_000))
    assert store.pending_high_reading(None, "boot-a", since_mono_ms=0) == 12_000
    store.append(new_check(holder="p3", mono_ms=13_000))
    assert store.pending_high_reading(None, "boot-a", since_mono_ms=0) is None


def test_purge_removes_only_old_synced_records_and_1970_rows_before_them(store: CheckStore) -> None:
    day = 86_400_000
    now = 1_800_000_000_000
    for wall in (0, 5_000, 9_000):  # recorded before the board had the time
        store.append(new_check(wall_ms=wall))
    for _ in range(3):
        store.append(new_check(wall_ms=now - 30 * day))  # 4, 5, 6
    store.append(new_check(wall_ms=now - 10 * day))  # 7
    with store.db.conn:
        store.db.execute(
            "INSERT INTO visitors (check_seq, name, phone, host, purpose, guard_id, entered_ms) "
            "VALUES (5, 'A', '13800000000', 'B', 'visit', 'G1', 0), "
            "(7, 'C', '13900000000', 'D', 'visit', 'G1', 0)"
        )
        store.db.execute("INSERT INTO fever_acks VALUES (4, 'G1', 'observation_point', NULL, 0, '[]')")
        store.db.execute("INSERT INTO guards (id, name, pin_hash) VALUES ('G1', 'Li', 'x')")
        store.db.execute(
            "INSERT INTO shifts (guard_id, token, first_seq, started_ms, ended_ms, last_seq) "
            "VALUES ('G1', 't1', 1, 0, 1, 6), ('G1', 't2', 7, 0, NULL, NULL)"
        )
    store.set_acked_seq(5)

    purged = store.purge(now - 21 * day)
    assert (purged.up_to_seq, purged.checks, purged.visitors) == (5, 5, 1)
    assert [r["seq"] for r in store.rows()] == [6, 7]  # 6 is old but not at the hub yet
    assert store.db.execute("SELECT check_seq FROM visitors").fetchall() == [(7,)]
    assert store.db.execute("SELECT count(*) FROM fever_acks").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM shifts").fetchone()[0] == 2

    store.set_acked_seq(7)
    assert store.purge(now - 21 * day).checks == 1
    assert [r["seq"] for r in store.rows()] == [7]  # too young
    assert store.db.execute("SELECT token FROM shifts").fetchall() == [("t2",)]  # open shift stays
    assert store.purge(now - 21 * day).checks == 0
    assert store.append(new_check(wall_ms=now)) == 8


def test_purge_with_every_check_from_1970_removes_nothing(store: CheckStore) -> None:
    for wall in (0, 1_000):
        store.append(new_check(wall_ms=wall))
    store.set_acked_seq(2)
    assert store.purge(1_800_000_000_000).checks == 0
    assert len(store.rows()) == 2
