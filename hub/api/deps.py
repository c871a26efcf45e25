"""Shared request dependencies: the database engine and device authentication."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool

from hub.core.config import HubSettings
from hub.core.db import devices
from sync.protocol import (
    HEADER_DEVICE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    verify_request,
)


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> HubSettings:
    settings: HubSettings = request.app.state.settings
    return settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[HubSettings, Depends(get_settings)]


@dataclass(frozen=True)
class SignedUpload:
    """An upload whose signature checked out against an active device's key."""

    device_id: str
    body: bytes
    """The decompressed request body."""


def _device_key(engine: Engine, device_id: str) -> tuple[bytes, str] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(devices.c.public_key, devices.c.status).where(devices.c.id == device_id)
        ).one_or_none()
    return (bytes(row.public_key), row.status) if row else None


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise HTTPException(415, f"unsupported Content-Encoding {encoding!r}; use gzip")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise HTTPException(400, "body is not valid gzip") from exc
    if len(data) > limit:
        raise HTTPException(413, f"decompressed body exceeds {limit} bytes; send smaller batches")
    return data


async def signed_upload(request: Request, engine: EngineDep, settings: SettingsDep) -> SignedUpload:
    """Authenticate a device request; anything short of a valid signature is refused."""
    headers = request.headers
    device_id = headers.get(HEADER_DEVICE)
    timestamp = headers.get(HEADER_TIMESTAMP)
    nonce = headers.get(HEADER_NONCE)
    signature = headers.get(HEADER_SIGNATURE)
    if not (device_id and timestamp and nonce and signature):
        raise HTTPException(401, "missing device signature headers")
    body = await request.body()
    found = await run_in_threadpool(_device_key, engine, device_id)
    if found is None:
        raise HTTPException(401, "unknown device")
    public_key, status = found
    if not verify_request(public_key, request.method, request.url.path, timestamp, nonce, signature, body):
        raise HTTPException(401, "bad signature")
    if status != "active":
        raise HTTPException(403, f"device is {status}")
    encoding = headers.get("content-encoding", "").strip().lower()
    return SignedUpload(device_id, _decompress(body, encoding, settings.max_body_bytes))


SignedUploadDep = Annotated[SignedUpload, Depends(signed_upload)]
