"""The Alembic migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy import Engine, inspect

from hub.core.db import MIGRATIONS, create_schema, metadata

BOTH_DATABASES = True


def _head() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_head_matches_the_declared_tables(hub_app: FastAPI) -> None:
    engine: Engine = hub_app.state.engine
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
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
