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
