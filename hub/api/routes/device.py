"""The downlink: a device fetches its configuration, policy and trust list."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy import Engine, select

from core.policy import Policy
from core.protocol import CONFIG_PATH, REPLAY_DETAIL, DeviceConfig
from hub.api.deps import EngineDep, Replayed, SignedUploadDep, record_nonce
from hub.core.db import devices, sites
from hub.trust import build_trust_list

router = APIRouter(tags=["devices"])


def device_config(engine: Engine, device_id: str) -> DeviceConfig:
    with engine.connect() as conn:
        row = conn.execute(
            select(devices.c.id, devices.c.gate, devices.c.status, sites.c.id.label("site_id"),
                   sites.c.name, sites.c.timezone, sites.c.policy)
            .join(sites, sites.c.id == devices.c.site_id)
            .where(devices.c.id == device_id)
        ).one_or_none()  # fmt: skip
    if row is None:
        raise HTTPException(404, "Device not found")
    return DeviceConfig(
        device_id=row.id,
        site_id=row.site_id,
        site_name=row.name,
        timezone=row.timezone,
        gate=row.gate,
        status=row.status,
        policy=Policy.model_validate_json(row.policy),
        trust=build_trust_list(engine, delivered=False),
    )


def etag_of(config: DeviceConfig) -> str:
    """Changes exactly when what the device should apply changes (not on every build)."""
    stable = config.model_dump_json(exclude={"trust": {"issued_at", "fetched_at"}})
    return '"' + hashlib.sha256(stable.encode()).hexdigest()[:32] + '"'


@router.get(CONFIG_PATH, response_model=DeviceConfig)
def get_config(upload: SignedUploadDep, engine: EngineDep, request: Request, response: Response) -> Response:
    """The device's current configuration; 304 when its If-None-Match is still current."""
    try:
        with engine.begin() as conn:
            record_nonce(conn, upload.device_id, upload.nonce, upload.received_ms)
    except Replayed as exc:
        raise HTTPException(401, REPLAY_DETAIL) from exc
    config = device_config(engine, upload.device_id)
    etag = etag_of(config)
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(config.model_dump_json(), media_type="application/json", headers={"ETag": etag})
