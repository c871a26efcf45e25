"""Users, roles and passwords for the dashboard and the JSON API.

Three roles: ``admin`` sees every site; ``manager`` sees only the sites granted to them;
``officer`` sees every site in the regions granted to them and below (a city's or a
district's prevention office), and the pages of those regions.
Passwords are stored as scrypt hashes (stdlib, memory-hard); sessions are kept by the
hub (hub/sessions.py) and end when the password changes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from sqlalchemy import Connection, Engine, delete, insert, select

from core.passwords import check_password, hash_password, stand_in_hash
from hub.core.db import regions, sessions, sites, user_regions, user_sites, users
from hub.regions import sites_below, within

Role = Literal["admin", "manager", "officer"]
ROLES: tuple[Role, ...] = ("admin", "manager", "officer")


class AuthError(Exception):
    """A user that cannot be created as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    granted_sites: frozenset[str] = frozenset()
    """A manager's sites."""
    regions: frozenset[str] = frozenset()
    """An officer's regions (they see everything below each)."""
    engine: Engine | None = field(default=None, compare=False, repr=False)

    @cached_property
    def sites(self) -> frozenset[str] | None:
        """Sites this user may see; None for an admin (all). An officer's are looked up
        once per request, and only by the pages that list sites — a region page needs
        only the regions."""
        if self.role == "admin":
            return None
        if self.role == "manager" or self.engine is None:
            return self.granted_sites
        with self.engine.connect() as conn:
            return sites_below(conn, self.regions)

    def can_see(self, site_id: str) -> bool:
        return self.sites is None or site_id in self.sites

    def can_see_region(self, region_id: str) -> bool:
        """Whether the region's page is theirs: an admin's, or at or below an officer's."""
        if self.role == "admin":
            return True
        if self.role != "officer" or self.engine is None:
            return False
        with self.engine.connect() as conn:
            return within(conn, region_id, self.regions)


def create_user(
    engine: Engine,
    username: str,
    password: str,
    role: str,
    site_ids: Iterable[str] = (),
    region_ids: Iterable[str] = (),
) -> User:
    """Add a user (or replace their password, role, sites and regions)."""
    username = username.strip()
    granted = sorted(set(site_ids))
    areas = sorted(set(region_ids))
    if not username or len(username) > 64:
        raise AuthError("username must be 1 to 64 characters")
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise AuthError("password must be at least 8 characters")
    if role == "manager" and not granted:
        raise AuthError("a manager needs at least one site (--site)")
    if role == "officer" and not areas:
        raise AuthError("an officer needs at least one region (--region)")
    with engine.begin() as conn:
        known = set(conn.scalars(select(sites.c.id).where(sites.c.id.in_(granted))))
        if unknown := set(granted) - known:
            raise AuthError(f"no such site: {', '.join(sorted(unknown))}")
        known = set(conn.scalars(select(regions.c.id).where(regions.c.id.in_(areas))))
        if unknown := set(areas) - known:
            raise AuthError(f"no such region: {', '.join(sorted(unknown))}")
        conn.execute(delete(sessions).where(sessions.c.username == username))  # logged out everywhere
        conn.execute(delete(user_sites).where(user_sites.c.username == username))
        conn.execute(delete(user_regions).where(user_regions.c.username == username))
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
        if areas and role == "officer":
            conn.execute(insert(user_regions), [{"username": username, "region_id": r} for r in areas])
    found = load_user(engine, username)
    assert found is not None
    return found


def load_user(engine: Engine, username: str) -> User | None:
    with engine.connect() as conn:
        role = conn.scalar(select(users.c.role).where(users.c.username == username))
        return None if role is None else user_with_role(conn, engine, username, role)


def user_with_role(conn: Connection, engine: Engine, username: str, role: str) -> User:
    """The user, given their stored role: an officer's regions or a manager's sites are
    read on ``conn``; an admin's nothing more (they see every site)."""
    if role == "admin":
        return User(username, "admin")
    if role == "officer":
        areas = frozenset(
            conn.scalars(select(user_regions.c.region_id).where(user_regions.c.username == username))
        )
        return User(username, "officer", regions=areas, engine=engine)
    granted = frozenset(conn.scalars(select(user_sites.c.site_id).where(user_sites.c.username == username)))
    return User(username, "manager", granted_sites=granted)


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    """The user, if the password is theirs. An unknown name costs the same one password
    check as a known one, so the time taken does not tell which names exist."""
    with engine.connect() as conn:
        stored = conn.scalar(select(users.c.password_hash).where(users.c.username == username))
    if stored is None:
        check_password(password, stand_in_hash())
        return None
    return load_user(engine, username) if check_password(password, stored) else None
