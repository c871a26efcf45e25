"""Shared request dependencies: the database engine and device authentication."""

from __future__ import annotations

import base64
import gzip
import re
import time
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Form, HTTPException, Request
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from core.protocol import (
    CLOCK_REFUSAL,
    CLOCK_TOLERANCE_S,
    HEADER_DEVICE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    REPLAY_DETAIL,
    verify_request,
)
from core.text import LINE_PATTERN
from hub import queries, sessions
from hub.auth import User, authenticate
from hub.core.config import HubSettings
from hub.device_keys import DeviceKey, Replayed, device_exists, key_for_request, record_nonce
from hub.schemas import SitePublic
from hub.sessions import CSRF_FIELD, CSRF_HEADER
from hub.throttle import LoginThrottle


async def get_engine(request: Request) -> Engine:
    """``async`` like every dependency here that only looks at the request or the app:
    FastAPI runs a plain ``def`` dependency in the thread pool — for the engine and the
    settings, two thread hand-offs per upload, ~5 % of the hub's CPU under bench/fleet.py."""
    engine: Engine = request.app.state.engine
    return engine


async def get_settings(request: Request) -> HubSettings:
    settings: HubSettings = request.app.state.settings
    return settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[HubSettings, Depends(get_settings)]


@dataclass(frozen=True)
class DeviceRequest:
    """A device request with all its signature headers and a body within the limit, from
    a device that exists as far as this process knows — not authenticated yet: that
    happens in the route's own transaction (``authenticate_device``), so the key read, the
    nonce and what the request does share one connection, one thread and one commit."""

    device_id: str
    timestamp: str
    nonce: str
    signature: str
    method: str
    path: str
    body: bytes
    """As sent (gzip or not)."""
    encoding: str
    limit: int
    """The largest body the hub accepts, decompressed."""


@dataclass(frozen=True)
class SignedUpload:
    """A request whose signature checked out against an active device's key, its nonce
    recorded in the caller's transaction (a replay fails together with what it tried)."""

    device: DeviceKey
    body: bytes
    """The decompressed request body."""
    received_ms: int


class KnownDevices:
    """Ids of devices this process has found enrolled: a request from any other id is
    refused before its body is read (one key read), so an unknown sender costs the hub
    nothing. Only existence is remembered — key, status and nonce are read in every
    request's transaction — so a revoked or re-keyed device is refused at once. Bounded:
    past ``most`` ids it starts over."""

    def __init__(self, most: int = 100_000) -> None:
        self._ids: set[str] = set()
        self._most = most

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._ids

    def add(self, device_id: str) -> None:
        if len(self._ids) >= self._most:
            self._ids.clear()
        self._ids.add(device_id)


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    if encoding in ("", "identity"):
        return body
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise HTTPException(400, "body is not valid gzip") from exc
    if len(data) > limit:
        raise HTTPException(413, f"decompressed body exceeds {limit} bytes; send smaller batches")
    return data


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is longer than ``limit`` — declared or
    actually sent — so no request makes the hub hold more than that."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body exceeds {limit} bytes; send smaller batches")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body exceeds {limit} bytes; send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


async def device_request(request: Request, engine: EngineDep, settings: SettingsDep) -> DeviceRequest:
    """A device request's headers and body. Who is asking and whether the body may be this
    large are settled before the body is read or inflated."""
    headers = request.headers
    device_id = headers.get(HEADER_DEVICE)
    timestamp = headers.get(HEADER_TIMESTAMP)
    nonce = headers.get(HEADER_NONCE)
    signature = headers.get(HEADER_SIGNATURE)
    if not (device_id and timestamp and nonce and signature):
        raise HTTPException(401, "missing device signature headers")
    known: KnownDevices = request.app.state.known_devices
    if device_id not in known:
        if not await run_in_threadpool(device_exists, engine, device_id):
            raise HTTPException(401, "unknown device")
        known.add(device_id)
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise HTTPException(415, f"unsupported Content-Encoding {encoding!r}; use gzip")
    body = await _read_capped(request, settings.max_body_bytes)
    return DeviceRequest(
        device_id, timestamp, nonce, signature, request.method, request.url.path, body, encoding,
        settings.max_body_bytes,
    )  # fmt: skip


DeviceRequestDep = Annotated[DeviceRequest, Depends(device_request)]


def authenticate_device(conn: Connection, sent: DeviceRequest) -> SignedUpload:
    """Authenticate a device request inside the caller's transaction; anything short of a
    valid signature from an active device, signed now, never seen before, is refused
    (and the transaction with it)."""
    now_ms = int(time.time() * 1000)
    found = key_for_request(conn, sent.device_id, sent.nonce, now_ms)
    if found is None:
        raise HTTPException(401, "unknown device")
    device = found.device
    if not verify_request(
        device.public_key, sent.method, sent.path, sent.timestamp, sent.nonce, sent.signature, sent.body
    ):
        raise HTTPException(401, "bad signature")
    if device.status != "active":
        raise HTTPException(403, f"device is {device.status}")
    try:
        drift_s = abs(int(sent.timestamp) - now_ms / 1000)
    except ValueError:
        raise HTTPException(401, "timestamp is not a number") from None
    if drift_s > CLOCK_TOLERANCE_S:
        # Every answer carries the hub's time (header), so a device without RTC can re-sign.
        raise HTTPException(401, f"{CLOCK_REFUSAL} request signed {drift_s:.0f} s away from hub time")
    if found.nonce_used:
        raise HTTPException(401, REPLAY_DETAIL)
    if not found.nonce_recorded:
        try:
            record_nonce(conn, device, sent.nonce, now_ms)
        except Replayed:  # the same nonce at another hub process a moment ago
            raise HTTPException(401, REPLAY_DETAIL) from None
    return SignedUpload(device, _decompress(sent.body, sent.encoding, sent.limit), now_ms)


class LoginRequired(Exception):
    """No valid session: pages redirect to the login form, the API answers 401."""


BACK_PATTERN = r"^/([A-Za-z0-9_\-?=&.][A-Za-z0-9/_\-?=&.]*)?$"
"""Where a form returns to: a path on this hub — never ``//host``, which a browser reads as
another site."""
BackPath = Annotated[str, Form(max_length=200, pattern=BACK_PATTERN)]

FORM_REFUSED = "表单已失效，请刷新页面 / Form expired or sent from another site: reload the page"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SCRIPT_API = "/api/v1/"
"""Scripts (``gatecheck provision --hub``, a manager's report tool) may call the JSON API
with HTTP Basic, throttled like the login form; the pages need a session. A browser never
sends Basic credentials on its own: the hub never asks for them (no WWW-Authenticate)."""


def same_origin(request: Request) -> bool:
    """Does the browser say this request comes from the hub's own pages? (Origin, else
    Referer; a client that sends neither is no browser, and the CSRF token decides.)"""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return True
    return urlsplit(source).netloc == request.headers.get("host", "")


async def _csrf_token(request: Request) -> str | None:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return given


def throttled(seconds: float) -> HTTPException:
    minutes = max(1, round(seconds / 60))
    return HTTPException(
        429,
        f"登录失败次数过多，请 {minutes} 分钟后再试 / Too many failed logins: try again in {minutes} min",
        headers={"Retry-After": str(int(seconds) + 1)},
    )


async def require_user(request: Request, engine: EngineDep) -> User:
    """The session's user (browsers) — a state-changing request must also carry the
    session's CSRF token and come from the hub's own origin — or, on the JSON API only,
    HTTP Basic credentials for scripts, throttled like the login form."""
    token = request.cookies.get(sessions.COOKIE)
    found = await run_in_threadpool(sessions.find, engine, token) if token else None
    user: User | None
    if found is not None:
        session, user = found
        if request.method not in SAFE_METHODS and not (
            same_origin(request) and sessions.same_token(await _csrf_token(request), session.csrf)
        ):
            raise HTTPException(403, FORM_REFUSED)
        request.state.session = session
    elif request.url.path.startswith(SCRIPT_API) and (
        credentials := _basic_credentials(request.headers.get("authorization", ""))
    ):
        throttle: LoginThrottle = request.app.state.throttle
        address = request.client.host if request.client else ""
        if wait := throttle.locked_for(credentials[0], address):
            raise throttled(wait)
        user = await run_in_threadpool(authenticate, engine, *credentials)
        if user is None:
            throttle.failed(credentials[0], address)
    else:
        user = None
    if user is None:
        raise LoginRequired
    return user


_ONE_LINE = re.compile(LINE_PATTERN)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        username, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    # A name no user can have is no login attempt (and never reaches the database).
    return (username, password) if sep and len(username) <= 64 and _ONE_LINE.match(username) else None


UserDep = Annotated[User, Depends(require_user)]


async def require_admin(user: UserDep) -> User:
    if user.role != "admin":
        raise HTTPException(403, "only an admin may do this")
    return user


AdminDep = Annotated[User, Depends(require_admin)]


def visible_site(site_id: str, user: UserDep, engine: EngineDep) -> SitePublic:
    """The site, if it exists and this user may see it (404 either way otherwise, so a
    manager learns nothing about other sites)."""
    site = queries.get_site(engine, site_id)
    if site is None or not user.can_see(site_id):
        raise HTTPException(404, "Site not found")
    return site


SiteDep = Annotated[SitePublic, Depends(visible_site)]


async def visible_region(region_id: str, user: UserDep) -> str:
    """The region's id, if this user may see its page: an admin, or an officer at or above
    it (404 otherwise, as for sites)."""
    if len(region_id) > 32 or not user.can_see_region(region_id):
        raise HTTPException(404, "Region not found")
    return region_id


RegionDep = Annotated[str, Depends(visible_region)]


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
"""Report dates outside these are refused (422), not computed (Python's dates end in 9999)."""


def report_day(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise HTTPException(422, f"dates must lie between {FIRST_DAY} and {LAST_DAY}")
    return day


def report_range(site: SitePublic, start: date | None, end: date | None) -> tuple[date, date]:
    """A report's first and last local day: by default the 30 days up to today at the site;
    at most two years at a time."""
    end = report_day(end) if end else queries.site_today(site)
    start = report_day(start) if start else end - timedelta(days=29)
    if start > end:
        raise HTTPException(422, "start is after end")
    if (end - start).days > 731:
        raise HTTPException(422, "at most two years at a time")
    return start, end


async def language(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.cookies.get("lang") or "zh-CN"
    return "en" if wanted.lower().startswith("en") else "zh-CN"


LangDep = Annotated[str, Depends(language)]
