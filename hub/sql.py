"""Statements both databases need in their own dialect: the upsert (INSERT … ON CONFLICT).

Every upload runs several of them: each is built once per dialect and shape and reused
(a statement is immutable; its values come as parameters at execution), since building
and coercing the construct was a large share of a small upload's CPU (docs/hub.md)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(conn: Connection) -> Any:
    """The INSERT construct of the connection's dialect (it has ``on_conflict_…``)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def upsert(
    conn: Connection, table: Table, keys: Sequence[str], add: Sequence[str] = (), replace: Sequence[str] = ()
) -> Any:
    """INSERT rows; where the key exists, add the new values of ``add`` to the stored ones
    and set those of ``replace``. Execute it with the rows as parameters."""
    return _upsert(conn.dialect.name, table, tuple(keys), tuple(add), tuple(replace))


@lru_cache(maxsize=128)
def _upsert(
    dialect: str, table: Table, keys: tuple[str, ...], add: tuple[str, ...], replace: tuple[str, ...]
) -> Any:
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    set_ = {name: table.c[name] + stmt.excluded[name] for name in add}
    set_ |= {name: stmt.excluded[name] for name in replace}
    return stmt.on_conflict_do_update(index_elements=[table.c[k] for k in keys], set_=set_)
