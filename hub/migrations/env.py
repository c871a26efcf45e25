"""Alembic environment: migrations run on the connection the hub hands over.

``gatecheck hub migrate`` runs ``alembic upgrade head`` (``hub.core.db.create_schema``),
once per upgrade — serving processes only check the revision — so operators never call
Alembic directly; ``alembic -c hub/migrations/alembic.ini`` works
for developers writing a new revision.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from hub.core.db import include_in_schema, metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///gatecheck-hub.db")
        with engine.begin() as conn:
            _migrate(conn)
    else:
        _migrate(connection)


def _migrate(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        include_object=include_in_schema,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
