"""The downlink: a device fetches its configuration, policy and trust list."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, HTTPException, Request, Response

from core.protocol import CONFIG_PATH, DeviceConfig
from hub.api.deps import DeviceRequestDep, EngineDep, authenticate_device
from hub.registry import device_config

router = APIRouter(tags=["devices"])


def etag_of(config: DeviceConfig) -> str:
    """Changes exactly when what the device should apply changes (not on every build)."""
    stable = config.model_dump_json(exclude={"trust": {"issued_at", "fetched_at"}})
    return '"' + hashlib.sha256(stable.encode()).hexdigest()[:32] + '"'


@router.get(CONFIG_PATH, response_model=DeviceConfig)
def get_config(sent: DeviceRequestDep, engine: EngineDep, request: Request, response: Response) -> Response:
    """The device's current configuration; 304 when its If-None-Match is still current."""
    with engine.begin() as conn:
        upload = authenticate_device(conn, sent)
    config = device_config(engine, upload.device.device_id)
    if config is None:
        raise HTTPException(404, "Device not found")
    etag = etag_of(config)
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(config.model_dump_json(), media_type="application/json", headers={"ETag": etag})
