"""The Alembic migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy import Engine, inspect, select

from hub.batch_counts import count_new_checks
from hub.core.db import MIGRATIONS, create_schema, daily_counts, include_in_schema, make_engine, metadata
from hub.registry import create_site

BOTH_DATABASES = True


def _head() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_head_matches_the_declared_tables(hub_app: FastAPI) -> None:
    engine: Engine = hub_app.state.engine
    with engine.connect() as conn:
        options = {"compare_type": True, "include_object": include_in_schema}
        diff = compare_metadata(MigrationContext.configure(conn, opts=options), metadata)
    assert diff == []
    assert {"checks", "daily_counts", "alerts", "users", "alembic_version"} <= set(
        inspect(engine).get_table_names()
    )


def test_upgrading_again_changes_nothing(hub_app: FastAPI) -> None:
    engine: Engine = hub_app.state.engine
    create_schema(engine)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == _head()


def test_every_field_of_a_check_has_its_column_at_both_ends(tmp_path: Path) -> None:
    """The check's shape is defined once (core.protocol.CheckRecord); the hub's table and
    the gate's log hold every field of it."""
    from core.protocol import CheckIn
    from edge.store import CheckStore
    from hub.core.db import checks

    fields = set(CheckIn.model_fields)
    assert fields <= set(checks.c.keys())
    store = CheckStore(tmp_path / "edge.db")
    assert fields <= {column.name for column in store.db["checks"].columns}


def test_counts_stored_under_the_old_metric_names_are_renamed(tmp_path: Path) -> None:
    """Revision 0006: a metric is named as the day report's field (admit → admitted, …)."""
    from alembic import command
    from sqlalchemy import insert, select

    from hub.core.db import alembic_config, daily_counts, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0005")
        conn.execute(insert(daily_counts), [
            {"site_id": "s", "local_date": "2026-11-30", "metric": m, "n": n}
            for m, n in (("admit", 5), ("fever", 1), ("deny:fever", 1), ("override", 2))
        ])  # fmt: skip
    create_schema(engine)
    with engine.connect() as conn:
        names = dict(conn.execute(select(daily_counts.c.metric, daily_counts.c.n)).all())
    assert names == {"admitted": 5, "fevers": 1, "deny:fever": 1, "overrides": 2}


def test_shard_ready_keys_keep_every_row(hub_database_url: str) -> None:
    """Revision 0007: the check tables re-keyed by site (and checks partitioned on
    PostgreSQL), per-upload device state moved to device_status — nothing lost, and new
    alert ids continue after the old ones."""
    from alembic import command
    from sqlalchemy import select, text

    from hub.core.db import alembic_config, alerts, checks, device_logs, device_status, make_engine, new_ids

    engine = make_engine(hub_database_url)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0006")
        for sql in (
            "INSERT INTO organisations VALUES ('o', 'Org', 1)",
            "INSERT INTO sites (id, org_id, name, timezone, report_deadline, pseudonym_key, policy, "
            "created_at_ms) VALUES ('s', 'o', 'Site', 'Asia/Shanghai', '12:00', :key, '{}', 1)",
            "INSERT INTO devices (id, site_id, gate, public_key, status, last_seen_ms, last_boot_id, "
            "clock_skew_ms, backlog, synced_until_ms, software, created_at_ms) "
            "VALUES ('d', 's', 'North', :key, 'active', 500, 'b1', -20, 3, 400, 'v1', 1)",
            "INSERT INTO devices (id, site_id, gate, public_key, status, created_at_ms) "
            "VALUES ('quiet', 's', 'South', :key, 'active', 1)",
            "INSERT INTO device_logs (device_id, log_no, log_id, acked_seq, first_seen_ms, purged_seq) "
            "VALUES ('d', 0, 'L', 2, 1, 0)",
            "INSERT INTO checks (device_id, seq, site_id, gate, wall_ms, mono_ms, boot_id, received_ms, "
            "event_ms, time_source, local_date, local_hour, verdict, reason, temp_source, flags) VALUES "
            "('d', 1, 's', 'North', 1, 1, 'b1', 1764547200000, 1, 'device', '2025-12-01', 8, 'admit', 'ok', "
            "'sensor', ''), ('d', 2, 's', 'North', 2, 2, 'b1', 1764547200000, 2, 'device', '2025-12-01', 8, "
            "'deny', 'fever', 'sensor', '')",
            "INSERT INTO alerts (site_id, device_id, seq, gate, reason, event_ms, received_ms) "
            "VALUES ('s', 'd', 2, 'North', 'fever', 2, 3)",
            "INSERT INTO device_boots VALUES ('d', 'b1', -20, 7, 500)",
            "INSERT INTO nonces VALUES ('d', 'n1', 500)",
        ):
            conn.execute(text(sql), {"key": b"k" * 32})
        (old_alert,) = conn.execute(text("SELECT id FROM alerts")).one()
    create_schema(engine)
    with engine.begin() as conn:
        assert conn.execute(select(checks.c.site_id, checks.c.seq).order_by(checks.c.seq)).all() == [
            ("s", 1),
            ("s", 2),
        ]
        assert conn.execute(select(device_logs.c.site_id, device_logs.c.acked_seq)).all() == [("s", 2)]
        status = conn.execute(select(device_status)).one()
        assert (status.site_id, status.device_id, status.backlog, status.synced_until_ms) == (
            "s",
            "d",
            3,
            400,
        )
        assert conn.execute(select(alerts.c.site_id, alerts.c.id)).all() == [("s", old_alert)]
        assert new_ids(conn, alerts, "s", 1)[0] > old_alert
        for table in ("device_boots", "nonces"):
            assert conn.execute(text(f"SELECT site_id FROM {table}")).scalars().all() == ["s"]
        if conn.dialect.name == "postgresql":  # December 2025's partition, made by migrate
            assert conn.execute(
                text("SELECT DISTINCT tableoid::regclass::text FROM checks")
            ).scalars().all() == ["checks_p202512"]


def test_region_rollups_gain_the_four_checks_with_their_history(hub_database_url: str) -> None:
    """Revision 0015: complete, exits, hand-overs and vehicles summed per region — from the
    days already counted, including a day with exits only (no rollup row before)."""
    from alembic import command
    from sqlalchemy import insert, select, text

    from hub.core.db import alembic_config, daily_counts, make_engine, organisations, region_daily, sites

    engine = make_engine(hub_database_url)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0014")
        conn.execute(
            text("INSERT INTO regions (id, parent_id, name, created_ms) VALUES ('city', NULL, 'C', 0)")
        )
        conn.execute(
            text("INSERT INTO regions (id, parent_id, name, created_ms) VALUES ('dist', 'city', 'D', 0)")
        )
        conn.execute(text(
            "INSERT INTO region_paths (ancestor_id, region_id, depth) "
            "VALUES ('city', 'city', 0), ('dist', 'dist', 0), ('city', 'dist', 1)"
        ))  # fmt: skip
        conn.execute(insert(organisations).values(id="o1", name="O", created_at_ms=0))
        conn.execute(insert(sites).values(
            id="s1", org_id="o1", name="S", timezone="Asia/Shanghai", report_deadline="12:00",
            pseudonym_key=bytes(32), created_at_ms=0, region_id="dist", category_id="school",
        ))  # fmt: skip
        conn.execute(insert(daily_counts), [
            {"site_id": "s1", "local_date": day, "metric": m, "n": n}
            for day, m, n in (("2026-11-30", "checks", 5), ("2026-11-30", "admitted", 4),
                              ("2026-11-30", "complete", 3), ("2026-11-30", "vehicles", 1),
                              ("2026-12-01", "exits", 2))
        ])  # fmt: skip
    create_schema(engine)
    with engine.connect() as conn:
        rows = {
            (r.region_id, r.local_date): (
                r.checks,
                r.admitted,
                r.complete,
                r.vehicles,
                r.exits,
                r.category_id,
            )
            for r in conn.execute(select(region_daily))
        }
    assert rows == {
        ("city", "2026-11-30"): (5, 4, 3, 1, 0, "school"),
        ("dist", "2026-11-30"): (5, 4, 3, 1, 0, "school"),
        ("city", "2026-12-01"): (0, 0, 0, 0, 2, "school"),
        ("dist", "2026-12-01"): (0, 0, 0, 0, 2, "school"),
    }


def test_adding_to_a_days_count_writes_no_index_entry(hub_database_url: str) -> None:
    """Revision 0016: every upload adds to its site's counts for today; on PostgreSQL that is
    a HOT update (the row changed in place, no index written), on SQLite no index holds ``n``."""
    engine = make_engine(hub_database_url)
    create_schema(engine)
    site = create_site(engine, "Counted", "Asia/Shanghai")
    rows = [{"local_date": "2026-12-02", "local_hour": 8, "holder": None, "verdict": "admit", "reason": "ok",
             "gate": "North gate", "scheme": "gc1", "flags": "", "temp_source": "ir"}]  # fmt: skip
    indexed = {c for i in inspect(engine).get_indexes("daily_counts") for c in i["column_names"]}
    assert "n" not in indexed
    with engine.begin() as conn:
        for _ in range(5):
            count_new_checks(conn, site.id, "d1", [dict(r) for r in rows])
        assert (
            conn.scalar(
                select(daily_counts.c.n).where(
                    daily_counts.c.site_id == site.id, daily_counts.c.metric == "checks"
                )
            )
            == 5
        )
        if conn.dialect.name == "postgresql":
            updated, in_place = conn.exec_driver_sql(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'daily_counts'"
            ).one()
            assert updated > 0 and in_place == updated
            options = conn.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE relname = 'daily_counts'"
            ).scalar()
            assert "fillfactor=70" in options
    engine.dispose()
