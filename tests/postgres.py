"""A real PostgreSQL server for the hub's tests: initdb + pg_ctl in a temporary folder,
listening on 127.0.0.1 at a free port, owned by the ``postgres`` user when run as root
(initdb refuses root). One server per test session; one fresh database per test."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg


class PostgresUnavailable(Exception):
    """PostgreSQL's server binaries are not installed (Debian package: postgresql)."""


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise PostgresUnavailable(f"{name} not found: apt-get install postgresql (make test does)")
    return found[-1]


def _as_owner(args: list[str], owner: str | None) -> None:
    command = ["runuser", "-u", owner, "--", *args] if owner else args
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@contextmanager
def postgres_server(port: int) -> Iterator[str]:
    """Start a throwaway cluster; yields the admin URL of its ``postgres`` database."""
    owner = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="gatecheck-pg-", dir="/tmp"))
    root.chmod(0o755)
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data = root / "data"
    try:
        _as_owner(
            [_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
            owner,
        )
        options = (
            f"-p {port} -h 127.0.0.1 -k {root} -c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        _as_owner(
            [_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"], owner
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            _as_owner([_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], owner)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new empty database on the server for one test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
