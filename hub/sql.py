"""Statements both databases need in their own dialect: the upsert (INSERT … ON CONFLICT)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(conn: Connection) -> Any:
    """The INSERT construct of the connection's dialect (it has ``on_conflict_…``)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def upsert(conn: Connection, table: Table, keys: Sequence[str], add: Sequence[str]) -> Any:
    """INSERT rows; where the key exists, add the new values of ``add`` to the stored ones."""
    stmt = insert_for(conn)(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={name: table.c[name] + stmt.excluded[name] for name in add},
    )
