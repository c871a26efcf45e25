"""The hub's pool tests a PostgreSQL connection only after it sat idle (hub.core.idle_ping):
a busy connection is used untested, a connection the server dropped while it idled is
replaced before anyone uses it, and one dropped in the gap costs one failed statement."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, exc, text

from hub.core.db import make_engine
from tests.postgres import fresh_database

IDLE_S = 0.3


@pytest.fixture
def pg_url(postgres_admin_url: str) -> Iterator[str]:
    with fresh_database(postgres_admin_url) as url:
        yield url


def _pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill_backends(url: str) -> int:
    """What a restart of the server (or a firewall's idle timeout) does to pooled
    connections: their server side is gone, the client does not know yet."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            own = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            killed = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> :own) AS t"
                ),
                {"own": own},
            ).scalar_one()
    finally:
        admin.dispose()
    time.sleep(0.2)  # the backends take a moment to exit
    return int(killed)


def _pings(engine: Engine) -> list[str]:
    seen: list[str] = []
    original = engine.dialect.do_ping

    def counting(dbapi):  # type: ignore[no-untyped-def]
        seen.append("ping")
        return original(dbapi)

    engine.dialect.do_ping = counting  # type: ignore[method-assign]
    return seen


def test_busy_connection_is_not_pinged_idle_one_is(pg_url: str) -> None:
    engine = make_engine(pg_url, connections=1, idle_ping_s=IDLE_S)
    pings = _pings(engine)
    first = _pid(engine)
    for _ in range(5):
        assert _pid(engine) == first
    assert pings == [], "a connection reused at once is used untested"
    time.sleep(IDLE_S * 1.5)
    assert _pid(engine) == first
    assert pings == ["ping"], "a connection that idled past the threshold is tested first"
    engine.dispose()


def test_connection_dropped_while_idle_is_replaced_before_use(pg_url: str) -> None:
    engine = make_engine(pg_url, connections=2, idle_ping_s=IDLE_S)
    before = _pid(engine)
    assert _kill_backends(pg_url) >= 1
    time.sleep(IDLE_S * 1.5)
    after = _pid(engine)  # no error: the ping found it dead and the pool reconnected
    assert after != before
    engine.dispose()


def test_connection_dropped_in_the_gap_fails_once_then_the_pool_recovers(pg_url: str) -> None:
    engine = make_engine(pg_url, connections=2, idle_ping_s=60)
    before = _pid(engine)
    _kill_backends(pg_url)
    with pytest.raises(exc.OperationalError) as failed:
        _pid(engine)
    assert failed.value.connection_invalidated
    assert _pid(engine) != before
    engine.dispose()
