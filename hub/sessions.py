"""Dashboard sessions kept by the hub, so logging out or changing a password ends them.

The browser holds only a random token (HttpOnly cookie); the hub stores its SHA-256 with
the user, an expiry and the session's CSRF token. A stolen cookie is worthless after
logout, after the user's password changes (``hub.auth.create_user``) and after 12 hours.
Every state-changing request made with a session must carry the CSRF token (a hidden form
field or the ``X-CSRF-Token`` header) and, when the browser says where it comes from, an
``Origin`` of the hub itself (see docs/hub.md, "Web security").
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, insert, select

from hub.auth import User, user_with_role
from hub.core.db import reading, sessions, users

COOKIE = "gatecheck_session"
LOGIN_COOKIE = "gatecheck_login"
"""Holds the login form's CSRF token before there is a session (double submit)."""
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LIFETIME_S = 12 * 3600


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    username: str
    csrf: str


def start(engine: Engine, username: str) -> str:
    """A new session for ``username``; returns the cookie's token."""
    token, now = secrets.token_urlsafe(32), int(time.time() * 1000)
    with engine.begin() as conn:
        conn.execute(delete(sessions).where(sessions.c.expires_ms < now))
        conn.execute(
            insert(sessions).values(
                token_hash=_digest(token),
                username=username,
                csrf=secrets.token_urlsafe(32),
                created_ms=now,
                expires_ms=now + LIFETIME_S * 1000,
            )
        )
    return token


def find(engine: Engine, token: str) -> tuple[Session, User] | None:
    """The live session of a cookie's token and its user — one connection and, for an
    admin, one statement: every page a browser asks for starts here, and under load each
    extra checkout, statement and trip to a worker thread waits its turn again."""
    with reading(engine) as conn:
        row = conn.execute(
            select(sessions.c.username, sessions.c.csrf, users.c.role)
            .join_from(sessions, users, users.c.username == sessions.c.username)
            .where(
                and_(sessions.c.token_hash == _digest(token), sessions.c.expires_ms > int(time.time() * 1000))
            )
        ).one_or_none()
        if row is None:
            return None
        return Session(row.username, row.csrf), user_with_role(conn, engine, row.username, row.role)


def end(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(sessions).where(sessions.c.token_hash == _digest(token)))


def end_all(engine: Engine, username: str) -> None:
    """Log the user out everywhere (their password changed, or they were removed)."""
    with engine.begin() as conn:
        conn.execute(delete(sessions).where(sessions.c.username == username))


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
