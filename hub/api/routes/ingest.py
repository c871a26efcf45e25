"""Device uploads."""

from __future__ import annotations

import time

from fastapi import APIRouter, BackgroundTasks, HTTPException
from pydantic import ValidationError

from hub.alerts import post_alerts
from hub.api.deps import EngineDep, SettingsDep, SignedUploadDep
from hub.ingest import IngestError, ingest_batch
from sync.protocol import INGEST_PATH, BatchAck, BatchIn

router = APIRouter(tags=["devices"])


@router.post(INGEST_PATH, response_model=BatchAck)
def ingest(
    upload: SignedUploadDep, engine: EngineDep, settings: SettingsDep, tasks: BackgroundTasks
) -> BatchAck:
    """Store a signed batch of checks; answer with the highest contiguous seq held."""
    try:
        batch = BatchIn.model_validate_json(upload.body)
    except ValidationError as exc:
        raise HTTPException(422, exc.errors(include_url=False, include_input=False)) from exc
    try:
        result = ingest_batch(engine, upload.device_id, batch, int(time.time() * 1000))
    except IngestError as exc:
        raise HTTPException(409, str(exc)) from exc
    if result.alerts and settings.alert_webhook_url:
        tasks.add_task(post_alerts, settings.alert_webhook_url, result.alerts)
    return result.ack
