"""PostgreSQL connections whose prepared statements last: every upload runs the same six
statements, and PostgreSQL should plan each once per connection, not once per upload.

psycopg prepares a statement on its fifth use on a connection and keys it by its text
*and its parameters' types*. Two things undid that under bench/fleet.py (2 workers,
1,000 devices; ``pg_stat_statements`` counts plans): 46–73 % of the upload statements'
executions were planned afresh, ~11 of ~50 CPU-seconds PostgreSQL spent in a run.

* **A rollback forgot them all.** psycopg's ``rollback()`` clears the connection's cache
  and sends ``DEALLOCATE ALL`` (it is conservative about DDL undone). Every read in the
  hub ends its transaction with a rollback — a page, a session lookup, the first sight of
  a device in a process (3,529 rollbacks in a run to 13,057 commits) — and each one sent
  that connection's statements back to five unprepared, planned executions. Here a
  rollback is sent as ``ROLLBACK`` and nothing else. Prepared statements are not
  transactional in PostgreSQL (they outlive a rollback); the hub changes its schema only
  in ``gatecheck hub migrate`` and when it adds a month's partition, and PostgreSQL
  re-plans a prepared statement whose tables changed by itself.
* **Integers changed type with their size.** psycopg sends an int as int2, int4 or int8
  by its value, and a list by its largest element: an upload whose counts were all
  small and the next with one above 32,767 were two different statements. Every int is
  sent as a bigint here; the SQL casts each parameter to its column's type.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import pq
from psycopg.types.numeric import Int8BinaryDumper, Int8Dumper
from sqlalchemy import Engine, event


class KeepsPrepared(psycopg.Connection[Any]):
    """A psycopg connection whose rollback leaves its prepared statements in place."""

    def rollback(self) -> None:
        """ROLLBACK on the wire, the statement cache kept. Anything unusual — a broken
        connection, a failed ROLLBACK — goes to psycopg's own rollback, which reports it
        the way SQLAlchemy's disconnect handling expects."""
        pgconn = self.pgconn
        in_transaction = pgconn.transaction_status in (
            pq.TransactionStatus.INTRANS,
            pq.TransactionStatus.INERROR,
        )
        if in_transaction and pgconn.status == pq.ConnStatus.OK:
            with self.lock:
                result = pgconn.exec_(b"ROLLBACK")
            if result.status == pq.ExecStatus.COMMAND_OK:
                return
        super().rollback()


def keep_statements_prepared(engine: Engine) -> None:
    """Make the engine's PostgreSQL connections ``KeepsPrepared`` with every int a bigint."""

    @event.listens_for(engine, "do_connect")
    def connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> KeepsPrepared:
        return KeepsPrepared.connect(*cargs, **cparams)

    @event.listens_for(engine, "connect")
    def ints_as_bigint(dbapi_connection: Any, record: Any) -> None:
        for dumper in (Int8Dumper, Int8BinaryDumper):
            dbapi_connection.adapters.register_dumper(int, dumper)
