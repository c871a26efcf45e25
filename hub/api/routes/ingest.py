"""Device uploads."""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine

from core.protocol import (
    INGEST_PATH,
    VISITORS_PATH,
    BatchAck,
    BatchIn,
    VisitorsAck,
    VisitorsIn,
)
from hub.alerts import post_alerts
from hub.api.deps import DeviceRequest, DeviceRequestDep, EngineDep, SettingsDep, authenticate_device
from hub.ingest import IngestError, IngestResult, ingest_batch
from hub.metrics import HubMetrics
from hub.visitors import store_visitors

router = APIRouter(tags=["devices"])


BATCH_SCHEMA = BatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
"""The body, documented although the route reads it raw: the signature covers its bytes,
and it may come gzipped. ``hub.main`` files the nested models under components."""
VISITORS_SCHEMA = VisitorsIn.model_json_schema(ref_template="#/components/schemas/{model}")


Body = TypeVar("Body", bound=BaseModel)


def _parsed(model: type[Body], body: bytes) -> Body:
    """A signed body as its model, or a 422 naming each bad field (not the values)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise HTTPException(
            422, exc.errors(include_url=False, include_input=False, include_context=False)
        ) from exc


@router.post(
    INGEST_PATH,
    response_model=BatchAck,
    responses={401: {}, 403: {}, 409: {}, 413: {}, 415: {}, 422: {}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}}},
        }
    },
)
async def ingest(
    request: Request,
    sent: DeviceRequestDep,
    engine: EngineDep,
    settings: SettingsDep,
    tasks: BackgroundTasks,
) -> BatchAck:
    """Store a signed batch of checks; answer with the highest contiguous seq held. Runs
    on the uploads' own threads (hub.main), after people's requests here and below them
    in priority (hub.people_first). A client that goes away does not stop its batch: the
    transaction ends either way, and the agent's retry is counted as a duplicate."""
    metrics: HubMetrics = request.app.state.metrics
    await request.app.state.people.wait_for_people()
    batch, result = await asyncio.get_running_loop().run_in_executor(
        request.app.state.upload_threads, _store, engine, sent, metrics
    )
    metrics.batches.labels("routine" if batch.after_seq is not None else "urgent").inc()
    metrics.checks.inc(result.ack.stored)
    metrics.duplicates.inc(result.ack.duplicates)
    metrics.alerts.inc(len(result.alerts))
    if result.alerts and settings.alert_webhook_url:
        tasks.add_task(post_alerts, settings.alert_webhook_url, result.alerts)
    return result.ack


def _store(engine: Engine, sent: DeviceRequest, metrics: HubMetrics) -> tuple[BatchIn, IngestResult]:
    """The device's key, the nonce and the checks: one transaction on one connection."""
    try:
        with metrics.ingest_seconds.time(), engine.begin() as conn:
            upload = authenticate_device(conn, sent)
            batch = _parsed(BatchIn, upload.body)
            return batch, ingest_batch(conn, upload.device, batch, int(time.time() * 1000))
    except HTTPException as exc:
        metrics.refused.labels(str(exc.status_code)).inc()
        raise
    except IngestError as exc:
        metrics.refused.labels("409").inc()
        raise HTTPException(409, str(exc)) from exc


@router.post(
    VISITORS_PATH,
    response_model=VisitorsAck,
    responses={401: {}, 403: {}, 413: {}, 415: {}, 422: {}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VisitorsIn"}}},
        }
    },
)
def visitor_book(sent: DeviceRequestDep, engine: EngineDep) -> VisitorsAck:
    """Store a device's new and changed visitor-book entries (signed like a batch)."""
    try:
        with engine.begin() as conn:
            upload = authenticate_device(conn, sent)
            stored = store_visitors(conn, upload.device, _parsed(VisitorsIn, upload.body), upload.received_ms)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return VisitorsAck(stored=stored)
