"""``gatecheck hub backup``: a consistent copy of the hub's database, taken while it serves.

SQLite: SQLite's online backup API copies the live file page by page into a new one,
consistent as of one moment, while ingest goes on (WAL readers are not blocked). The copy
is a ready hub database: restore by pointing ``--database-url`` at it (or copying it back
while the hub is stopped). PostgreSQL: ``pg_dump --format=custom`` (one consistent
snapshot, taken online), restored with ``pg_restore --dbname URL`` into an empty database
— for point-in-time recovery use the server's base backups and WAL archiving instead
(docs/hub.md, "Backups").
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine

from core.private import create_private_file


class BackupError(Exception):
    """The copy could not be made (the message says why)."""


def _libpq_url(engine: Engine) -> str:
    """The URL as PostgreSQL's own tools take it (no SQLAlchemy driver suffix)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_tool(name: str, *args: str) -> None:
    """Run one of PostgreSQL's client tools; its complaint becomes the error's message."""
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(f"{name} not found: install PostgreSQL's client tools (postgresql-client)")
    done = subprocess.run([tool, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{name} failed: {done.stderr.strip()}")


def backup(engine: Engine, target: Path) -> None:
    """Write a consistent copy of the hub's database to ``target`` (owner-only: it holds
    the sites' pseudonym keys and the password hashes)."""
    if target.exists():
        raise BackupError(f"{target} exists; choose a new file (a backup never overwrites)")
    create_private_file(target)
    try:
        if engine.dialect.name == "sqlite":
            source = sqlite3.connect(f"file:{engine.url.database}?mode=ro", uri=True)
            copy = sqlite3.connect(target)
            try:
                with copy:
                    source.backup(copy)
            finally:
                copy.close()
                source.close()
            return
        _pg_tool("pg_dump", "--format=custom", "--no-owner", f"--file={target}", _libpq_url(engine))
    except (sqlite3.Error, BackupError, OSError) as exc:
        target.unlink(missing_ok=True)
        raise BackupError(str(exc)) from exc


def restore(engine: Engine, source: Path) -> None:
    """Load a PostgreSQL backup into the (empty) database ``engine`` points at. SQLite
    backups need no restoring: they are hub databases."""
    if engine.dialect.name == "sqlite":
        raise BackupError(
            f"an SQLite backup is a hub database: serve it with --database-url sqlite:///{source}"
        )
    _pg_tool("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq_url(engine)}", str(source))
