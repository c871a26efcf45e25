"""Test a pooled PostgreSQL connection before use only when it has sat idle.

SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one extra round trip for each
request (an upload is ~9) and for each of a page's reads. A connection that was in use a
moment ago is no likelier to be dead than the request's next statement is to fail, so
the ping buys nothing there; what it guards against — a connection the server or a
firewall dropped while it sat in the pool — needs time idle. So: ping after
``idle_s`` in the pool. A connection lost in the gap fails its statement instead; SQLAlchemy
then sees a disconnect and replaces every pooled connection older than it (its
"optimistic" handling), so one request per dropped connection fails and is retried by
its agent, which is what happens anyway to a request in flight when the database goes.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event, exc

IDLE_KEY = "gatecheck_idle_since"
# Seconds a connection may sit in the pool and still be used untested: far below any
# idle timeout of a server, pooler or firewall, far above the gaps of a busy hub's reuse.
IDLE_PING_S = 5.0


def ping_after_idle(engine: Engine, idle_s: float) -> None:
    """Install the checkin/checkout listeners on ``engine``'s pool."""

    def checkin(_dbapi: Any, record: Any) -> None:
        if record is not None:
            record.info[IDLE_KEY] = time.monotonic()

    def checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(IDLE_KEY, None)
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            alive = engine.dialect.do_ping(dbapi)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError() from error
        if not alive:
            raise exc.DisconnectionError()

    event.listen(engine, "checkin", checkin)
    event.listen(engine, "checkout", checkout)
