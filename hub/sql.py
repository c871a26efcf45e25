"""Statements both databases need in their own dialect: the upsert (INSERT … ON CONFLICT),
the insert of many rows, a column matching a list of values, a group's rows as one JSON
object; and how an upload's statements are executed.

Every upload runs several of them: each is built once per dialect and shape and reused
(a statement is immutable; its values come as parameters at execution), since building
and coercing the construct was a large share of a small upload's CPU (docs/hub.md)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    CursorResult,
    Dialect,
    Executable,
    String,
    Table,
    bindparam,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite


def run(conn: Connection, stmt: Executable, params: dict[str, Any]) -> CursorResult[Any]:
    """Execute a statement built once at import, all of whose values are bound
    parameters. On PostgreSQL its text is compiled once and goes to the driver as is
    (``exec_driver_sql``): SQLAlchemy's per-execution work — the compiled-cache lookup and
    processing every parameter — cost about as much CPU as the driver's own (~110 of
    ~210 µs a statement, measured) for parameters the driver takes unchanged. The rows
    are named as the statement names its columns, as from ``execute``."""
    if conn.dialect.name != "postgresql":
        return conn.execute(stmt, params)
    sql, defaults = _compiled(conn.dialect, stmt)
    return conn.exec_driver_sql(sql, defaults | params)


@lru_cache(maxsize=64)
def _compiled(dialect: Dialect, stmt: Executable) -> tuple[str, dict[str, Any]]:
    compiled = stmt.compile(dialect=dialect)  # type: ignore[attr-defined]
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("run() takes statements whose text is fixed (no expanding IN lists)")
    return str(compiled), dict(compiled.params)


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


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT rows that all have the same keys, without SQLAlchemy's per-row parameter
    handling (most of an ingest's time once): on PostgreSQL one statement whose columns
    come as arrays (``unnest``: the same text for any number of rows, prepared once —
    the driver's executemany sent one statement per row through a pipeline, at ~3× the
    CPU for a small batch); on SQLite the driver's executemany."""
    keys = tuple(rows[0])
    sql, order = _insert_sql(conn.dialect, table, keys)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(sql, tuple(map(list, zip(*map(itemgetter(*keys), rows), strict=True))))
        return
    conn.exec_driver_sql(sql, list(map(itemgetter(*order), rows)))


@lru_cache(maxsize=32)
def _insert_sql(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The INSERT's text (and, for SQLite, its parameters' order), built once per shape."""
    if dialect.name == "postgresql":
        arrays = ", ".join(f"%s::{table.c[k].type.compile(dialect=dialect)}[]" for k in keys)
        return f"INSERT INTO {table.name} ({', '.join(keys)}) SELECT * FROM unnest({arrays})", keys
    compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
    return str(compiled), tuple(compiled.positiontup or keys)


def one_of(conn: Connection, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values`` — on PostgreSQL as ``column IN (SELECT unnest(array))``: one
    parameter, so the statement's text is the same for any number of values. An IN list
    is a parameter per value (a page's 50 sites: 50), its text rebuilt by SQLAlchemy at
    every execution, too long for the driver's statement cache, so parsed and planned
    again each time (measured: ~1.5 ms of an overview's ~35 ms of CPU for its three lists).

    Not ``column = ANY(array)``: once the driver has prepared a statement, PostgreSQL's
    generic plan searches a parameter array element by element for every row (only a
    literal array is hashed), and a sized ``VARCHAR(32)[]`` is even re-checked per row;
    the set from ``unnest`` is hashed, or probes the column's index for a short list. The
    overview's pivot over 50 sites: 2.4 ms with a sized ANY, 1.4 unsized, 0.8 this way
    (prepared, measured)."""
    if conn.dialect.name == "postgresql":
        item = String() if isinstance(column.type, String) else column.type
        return column.in_(select(func.unnest(bindparam(None, list(values), type_=postgresql.ARRAY(item)))))
    return column.in_(list(values))


def object_of(conn: Connection, key: ColumnElement[Any], value: ColumnElement[Any]) -> Any:
    """An aggregate: a group's rows as one JSON object ``{key: value}``, read back as a dict
    (PostgreSQL ``json_object_agg``, SQLite ``json_group_object``) — a group's variable
    set of named values in the same row as its fixed columns, not a statement of its own."""
    name = "json_object_agg" if conn.dialect.name == "postgresql" else "json_group_object"
    return getattr(func, name)(key, value, type_=JSON)
