"""Users, roles and passwords for the dashboard and the JSON API.

Two roles: ``admin`` sees every site; ``manager`` sees only the sites granted to them.
Passwords are stored as scrypt hashes (stdlib, memory-hard); sessions are kept by the
hub (hub/sessions.py) and end when the password changes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, delete, insert, select

from core.passwords import check_password, hash_password, stand_in_hash
from hub.core.db import sessions, sites, user_sites, users

Role = Literal["admin", "manager"]
ROLES: tuple[Role, ...] = ("admin", "manager")


class AuthError(Exception):
    """A user that cannot be created as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    sites: frozenset[str] | None
    """Sites this user may see; None for an admin (all)."""

    def can_see(self, site_id: str) -> bool:
        return self.sites is None or site_id in self.sites


def create_user(
    engine: Engine, username: str, password: str, role: str, site_ids: Iterable[str] = ()
) -> User:
    """Add a user (or replace their password, role and sites)."""
    username = username.strip()
    granted = sorted(set(site_ids))
    if not username or len(username) > 64:
        raise AuthError("username must be 1 to 64 characters")
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise AuthError("password must be at least 8 characters")
    if role == "manager" and not granted:
        raise AuthError("a manager needs at least one site (--site)")
    with engine.begin() as conn:
        known = set(conn.scalars(select(sites.c.id).where(sites.c.id.in_(granted))))
        if unknown := set(granted) - known:
            raise AuthError(f"no such site: {', '.join(sorted(unknown))}")
        conn.execute(delete(sessions).where(sessions.c.username == username))  # logged out everywhere
        conn.execute(delete(user_sites).where(user_sites.c.username == username))
        conn.execute(delete(users).where(users.c.username == username))
        conn.execute(
            insert(users).values(
                username=username,
                password_hash=hash_password(password),
                role=role,
                created_at_ms=int(time.time() * 1000),
            )
        )
        if granted and role == "manager":
            conn.execute(insert(user_sites), [{"username": username, "site_id": s} for s in granted])
    found = load_user(engine, username)
    assert found is not None
    return found


def load_user(engine: Engine, username: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users.c.role).where(users.c.username == username)).one_or_none()
        if row is None:
            return None
        granted = frozenset(
            conn.scalars(select(user_sites.c.site_id).where(user_sites.c.username == username))
        )
    role: Role = "admin" if row.role == "admin" else "manager"
    return User(username, role, None if role == "admin" else granted)


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    """The user, if the password is theirs. An unknown name costs the same one password
    check as a known one, so the time taken does not tell which names exist."""
    with engine.connect() as conn:
        stored = conn.scalar(select(users.c.password_hash).where(users.c.username == username))
    if stored is None:
        check_password(password, stand_in_hash())
        return None
    return load_user(engine, username) if check_password(password, stored) else None
