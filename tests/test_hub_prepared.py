"""PostgreSQL connections keep their prepared statements (hub.core.prepared): a rollback
still rolls back, but PostgreSQL does not have to plan the hub's statements again, and an
int's size does not make a statement new — nor a list's length (hub.sql.one_of)."""

from __future__ import annotations

import contextlib
import pathlib
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, select, text

from hub.core.db import create_schema, make_engine
from hub.ingest import _LOG_ADVANCE_AND_BOOT, _LOG_READ_AND_BOOT
from hub.sql import one_of
from tests.postgres import fresh_database

table_t = Table("t", MetaData(), Column("name", String(20)))
STATEMENT = "SELECT count(*) FROM t WHERE n = ANY(%(ns)s::bigint[])"


@pytest.fixture
def engine(postgres_admin_url: str) -> Iterator[Engine]:
    with fresh_database(postgres_admin_url) as url:
        engine = make_engine(url, connections=1)  # one connection: every use is the same session
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (n bigint)")
        yield engine
        engine.dispose()


def _prepared(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(text("SELECT statement FROM pg_prepared_statements")))


def test_a_rollback_keeps_the_sessions_prepared_statements(engine: Engine) -> None:
    for _ in range(6):  # psycopg prepares a statement on its fifth use
        with engine.connect() as conn:  # each read ends in a rollback
            conn.exec_driver_sql(STATEMENT, {"ns": [1, 2]})
    prepared = [s for s in _prepared(engine) if "ANY" in s]
    assert len(prepared) == 1
    for _ in range(3):
        with engine.connect() as conn:
            conn.exec_driver_sql(STATEMENT, {"ns": [3]})
    assert [s for s in _prepared(engine) if "ANY" in s] == prepared


def test_small_and_large_ints_are_one_statement(engine: Engine) -> None:
    for ns in ([1], [40_000], [2**40], [1, 2**40], [7], [2**33]):
        with engine.connect() as conn:
            conn.exec_driver_sql(STATEMENT, {"ns": ns})
    assert len([s for s in _prepared(engine) if "ANY" in s]) == 1


def test_a_rollback_still_undoes_the_transaction(engine: Engine) -> None:
    for _ in range(6):
        with engine.connect() as conn:
            conn.exec_driver_sql("INSERT INTO t (n) VALUES (%(n)s)", {"n": 5})
            conn.rollback()
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t (n) VALUES (%(n)s)", {"n": 6})
        raise RuntimeError("the request was refused")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t (n) VALUES (%(n)s)", {"n": 7})
    with engine.connect() as conn:
        assert list(conn.scalars(text("SELECT n FROM t"))) == [7]


def test_a_failed_transaction_rolls_back_and_the_connection_works_on(engine: Engine) -> None:
    with pytest.raises(Exception, match="division by zero"), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t (n) VALUES (1)")
        conn.exec_driver_sql("SELECT 1 / 0")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM t")) == 0


def test_the_log_statements_kept_plan_finds_held_checks_by_their_key(postgres_admin_url: str) -> None:
    """The plan a connection keeps for the upload's log statement is made early — often
    while the month's partitions are still empty. Even then it must find a batch's held
    checks through the checks' key, not by filtering a site's checks (hub.ingest)."""
    with fresh_database(postgres_admin_url) as url:
        engine = make_engine(url, connections=1)
        create_schema(engine)
        for stmt in (_LOG_READ_AND_BOOT, _LOG_ADVANCE_AND_BOOT):
            compiled = str(stmt.compile(dialect=engine.dialect))
            names: list[str] = []

            def numbered(found: re.Match[str], names: list[str] = names) -> str:
                if found.group(1) not in names:
                    names.append(found.group(1))
                return f"${names.index(found.group(1)) + 1}"

            sql = re.sub(r"%\((\w+)\)s", numbered, compiled)
            with engine.begin() as conn:
                conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
                conn.exec_driver_sql(f"PREPARE log_statement AS {sql}")
                args = ", ".join("NULL" for _ in names)
                plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN EXECUTE log_statement({args})").scalars())
                conn.exec_driver_sql("DEALLOCATE log_statement")
            scans = [line for line in plan.splitlines() if "on checks_" in line]
            assert scans, plan
            assert all("_pkey on checks_" in line for line in scans), plan
        engine.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_one_of_matches_a_list_of_any_length(
    dialect: str, postgres_admin_url: str, tmp_path: pathlib.Path
) -> None:
    """``one_of`` finds exactly the listed values (none for an empty list) on both
    databases; on PostgreSQL a query is one statement whatever the list's length, so it
    is prepared and planned once."""
    with contextlib.ExitStack() as stack:
        if dialect == "postgresql":
            url = stack.enter_context(fresh_database(postgres_admin_url))
        else:
            url = f"sqlite:///{tmp_path / 'hub.db'}"
        engine = make_engine(url, connections=1)
        stack.callback(engine.dispose)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (name varchar(20))")
            conn.execute(table_t.insert(), [{"name": f"site-{i}"} for i in range(60)])
        wanted_lists = [[], ["site-3"], [f"site-{i}" for i in range(0, 60, 2)], ["site-5", "nowhere"]] * 2
        for wanted in wanted_lists:
            with engine.connect() as conn:
                found = conn.scalars(select(table_t.c.name).where(one_of(conn, table_t.c.name, wanted)))
                assert sorted(found) == sorted(w for w in wanted if w != "nowhere")
        if dialect == "postgresql":
            assert len([s for s in _prepared(engine) if "FROM t" in s]) == 1
